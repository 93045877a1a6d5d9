"""Run the real `hpcval` command line from tests, and read what it wrote."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HPCVAL = [sys.executable, '-m', 'hpcval']


def hpcval(*args, runs=None, env=None, timeout=600):
    '''Run hpcval ARGS in the repository; returns CompletedProcess with text output.'''
    e = dict(os.environ)
    e.setdefault('USER', 'root' if os.geteuid() == 0 else str(os.geteuid()))   # ch-run needs it
    if runs is not None:
        e['HPCVAL_RUNS'] = str(runs)
    e.update(env or {})
    return subprocess.run(HPCVAL + [str(a) for a in args], cwd=ROOT, env=e, capture_output=True,
                          text=True, timeout=timeout)


def load_report(rundir):
    return json.loads((Path(rundir) / 'report.json').read_text())


def cases(rep):
    return [tc for run in rep['runs'] for tc in run['testcases']]


def run_cases(rundir):
    '''The test cases of the run report in a run directory.'''
    return cases(load_report(rundir))


IMAGES = Path(os.environ.get('HPCVAL_IMAGES', ROOT / '.cache' / 'images'))


def image_index():
    return json.loads((IMAGES / 'index.json').read_text())['images']
