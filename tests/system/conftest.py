"""System level: real Charliecloud images built by the pipeline, real ReFrame
runs inside them.  The images are built once into the project's .cache (or
reused from it): the first run costs a few minutes, later runs seconds."""
import os
import shutil

import pytest
from hpcval_cli import IMAGES, hpcval, image_index

@pytest.fixture(scope='session')
def openmpi_image():
    '''The Open MPI image, built (or found up to date) by `hpcval image build`.'''
    if not shutil.which('ch-run') or not shutil.which('debootstrap', path='/usr/sbin:/sbin:/usr/bin'):
        pytest.skip('Charliecloud or debootstrap missing: `make setup` as root installs them')
    if os.geteuid() != 0 and not (IMAGES / 'index.json').exists():
        pytest.skip('building the base image needs root (debootstrap)')
    proc = hpcval('image', 'build', 'openmpi', timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return image_index()['openmpi']


@pytest.fixture(scope='session')
def podman_images(openmpi_image):
    '''The openmpi and lammps recipes built by podman into the project's podman storage
    (the chain starts from the debootstrap tree the Charliecloud build made), and
    migrated to podman-hpc's squash store.'''
    if not shutil.which('podman'):
        pytest.skip('podman missing: `make setup` as root installs it (Debian podman)')
    # podman-hpc's squashed copies too (runtime=podman-hpc): the same image ids
    proc = hpcval('image', 'build', 'openmpi', 'lammps', '--builder', 'podman-hpc', timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {k: image_index()[k]['podman'] for k in ('openmpi', 'lammps')}


@pytest.fixture(scope='session')
def tensorflow_image(openmpi_image):
    '''The TensorFlow image (on top of the Open MPI one): TF, mpi4py, numpy in /opt/venv.'''
    proc = hpcval('image', 'build', 'tensorflow', timeout=2400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return image_index()['tensorflow']


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


@pytest.fixture(scope='session')
def vcluster():
    '''A 3-node virtual Slurm cluster, taken down at the end whatever happened.'''
    if os.geteuid() != 0:
        pytest.skip('the virtual cluster needs root (namespaces)')
    if not shutil.which('slurmctld', path='/usr/sbin:/usr/bin'):
        pytest.skip('Slurm missing: `make setup` as root installs slurm-wlm and munge')
    proc = hpcval('cluster', 'up', '--nodes', '3', timeout=300)
    try:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        yield 3
    finally:
        down = hpcval('cluster', 'down', timeout=120)
        assert down.returncode == 0, down.stderr
