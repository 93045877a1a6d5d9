"""`hpcval cluster down` after an `up` that was killed half-way: nothing of
the cluster is left (daemons, namespaces, links, state, PMIx folder).

Runs before the session's 3-node cluster is brought up (file order); when a
cluster is already up it is not touched and the test skips."""
import os
import signal
import subprocess
import shutil
import time

import pytest

from hpcval.cluster import vcluster
from hpcval_cli import ROOT, hpcval


def _killed_up(stage):
    '''Start `hpcval cluster up --nodes 2` and SIGKILL it once ``stage`` is
    reached: "network" (the first namespace exists) or "daemons" (slurmctld
    is running).'''
    up = subprocess.Popen([str(ROOT / '.venv/bin/hpcval'), 'cluster', 'up', '--nodes', '2'],
                          cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctld_pid = vcluster.state_dir() / 'run' / 'slurmctld.pid'
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and up.poll() is None:
            if stage == 'network' and vcluster.namespaces():
                break
            if stage == 'daemons' and ctld_pid.exists():
                break
            time.sleep(0.02)
        assert up.poll() is None, f'up finished before reaching {stage}'
    finally:
        up.send_signal(signal.SIGKILL)
        up.wait()


@pytest.mark.parametrize('stage', ['network', 'daemons'])
def test_down_after_a_killed_up_leaves_nothing(stage):
    if os.geteuid() != 0:
        pytest.skip('the virtual cluster needs root (namespaces)')
    if not shutil.which('slurmctld', path='/usr/sbin:/usr/bin'):
        pytest.skip('Slurm missing: `make setup` as root installs slurm-wlm and munge')
    if vcluster.namespaces() or vcluster.links():
        pytest.skip('a virtual cluster is up: not taking it down')
    _killed_up(stage)
    left = vcluster.status()
    assert left['namespaces'] or left['links']        # the killed up did leave something
    if stage == 'daemons':
        assert left['processes'] >= 1
    down = hpcval('cluster', 'down', timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    st = vcluster.status()
    assert (st['namespaces'], st['links'], st['processes'], st['state']) == ([], [], 0, None)
    assert not vcluster.state_dir().exists() and not vcluster.PMIX_BASE.exists()
    # nothing in any process table either: no slurmd/slurmctld/munged of ours
    ours = subprocess.run(['pgrep', '-f', str(vcluster.state_dir())], capture_output=True, text=True)
    assert ours.stdout.strip() == ''
