import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HPCVAL = [sys.executable, '-m', 'hpcval']


def hpcval(*args, runs=None, env=None, timeout=600):
    '''Run the real command line; returns CompletedProcess with text output.'''
    e = dict(os.environ)
    if runs is not None:
        e['HPCVAL_RUNS'] = str(runs)
    e.update(env or {})
    return subprocess.run(HPCVAL + [str(a) for a in args], cwd=ROOT, env=e, capture_output=True,
                          text=True, timeout=timeout)


def load_report(rundir):
    return json.loads((Path(rundir) / 'report.json').read_text())


def cases(rep):
    return [tc for run in rep['runs'] for tc in run['testcases']]


@pytest.fixture(scope='session')
def smoke_run(tmp_path_factory):
    '''One real ReFrame session of the smoke campaign, shared by the tests.'''
    runs = tmp_path_factory.mktemp('runs')
    proc = hpcval('run', '--campaign', 'smoke', runs=runs)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return runs / 'smoke' / 'latest'
