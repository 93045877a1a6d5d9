"""System level: real Charliecloud images built by the pipeline, real ReFrame
runs inside them.  The images are built once into the project's .cache (or
reused from it): the first run costs a few minutes, later runs seconds."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HPCVAL = [sys.executable, '-m', 'hpcval']
IMAGES = Path(os.environ.get('HPCVAL_IMAGES', ROOT / '.cache' / 'images'))


def hpcval(*args, runs=None, env=None, timeout=1200):
    e = dict(os.environ)
    e.setdefault('USER', 'root' if os.geteuid() == 0 else str(os.geteuid()))
    if runs is not None:
        e['HPCVAL_RUNS'] = str(runs)
    e.update(env or {})
    return subprocess.run(HPCVAL + [str(a) for a in args], cwd=ROOT, env=e, capture_output=True,
                          text=True, timeout=timeout)


def cases(rundir):
    rep = json.loads((Path(rundir) / 'report.json').read_text())
    return [tc for run in rep['runs'] for tc in run['testcases']]


def index():
    return json.loads((IMAGES / 'index.json').read_text())['images']


@pytest.fixture(scope='session')
def openmpi_image():
    '''The Open MPI image, built (or found up to date) by `hpcval image build`.'''
    if not shutil.which('ch-run') or not shutil.which('debootstrap', path='/usr/sbin:/sbin:/usr/bin'):
        pytest.skip('Charliecloud or debootstrap missing: `make setup` as root installs them')
    if os.geteuid() != 0 and not (IMAGES / 'index.json').exists():
        pytest.skip('building the base image needs root (debootstrap)')
    proc = hpcval('image', 'build', 'openmpi', timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return index()['openmpi']


@pytest.fixture(scope='session')
def container_run(openmpi_image, tmp_path_factory):
    '''latency and bw, bare and in Charliecloud with the host and the bundled MPI.'''
    runs = tmp_path_factory.mktemp('runs')
    proc = hpcval('run', 'mpi_microbench', '--name', 'containers',
                  '-S', 'MpiMicrobench.max_message_size=65536', '-S', 'MpiMicrobench.num_iters=200',
                  '-S', 'MpiMicrobench.num_warmup=20',
                  '--', '-P', 'runtime=bare,charliecloud', '-P', 'mpi=host,bundled',
                  '-n', 'MpiMicrobench.*(latency|%benchmark=bw)', runs=runs)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    return runs / 'containers' / 'latest'
