"""scripts/sysdeps.sh: what `make setup` does about Debian packages."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / 'scripts' / 'sysdeps.sh'


def test_nothing_to_do_when_installed():
    proc = subprocess.run(['bash', SCRIPT, 'bash', 'coreutils'], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == '' and proc.stderr == ''


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which('setpriv'), reason='needs root to drop privileges')
def test_not_root_and_missing_names_packages_exit_2():
    # the script comes on stdin: a checkout in a 0700 folder (mktemp -d) is
    # not readable by the unprivileged user
    with open(SCRIPT) as script:
        proc = subprocess.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
                               'bash', '-s', '--', 'bash', 'hpcval-no-such-pkg-a', 'hpcval-no-such-pkg-b'],
                              stdin=script, capture_output=True, text=True, cwd='/')
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    # only the missing ones are named, not the installed bash
    assert 'packages: hpcval-no-such-pkg-a hpcval-no-such-pkg-b (' in lines[0]
