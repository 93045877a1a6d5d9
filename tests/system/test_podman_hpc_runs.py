"""podman-hpc 1.2.2 for real: the podman-built openmpi image migrated to a squash store,
then 2 ranks under the host's mpirun in podman-hpc run and shared-run, with the image's
MPI and with the host's injected.  About 40 s when the podman build is in place."""
import os
import shutil
import subprocess
import time

import pytest

from hpcval_cli import IMAGES, hpcval
from hpcval.containers import podman, podman_hpc
from hpcval.containers.errors import ImageError

LIBDIR = '/usr/lib/x86_64-linux-gnu'
HOST_LIBS = ('libmpi.so.40*', 'libopen-rte.so.40*', 'libopen-pal.so.40*', 'libmca_common_*.so.*')
OSU = ['osu_mpi', 'latency', '-m', '1:1024', '-i', '200', '-x', '20']


@pytest.fixture(scope='module')
def podman_openmpi():
    '''(image, digest) of openmpi built by podman into the project's storage: the recorded
    build when podman still has it, else `hpcval image build openmpi --builder podman`.'''
    if os.geteuid() != 0:
        pytest.skip('podman-hpc here runs rootful podman: needs root')
    try:
        podman_hpc.check()
    except ImageError as err:
        pytest.skip(str(err))
    try:
        image, digest = podman.recorded('openmpi', IMAGES)
        if podman.Podman(podman.podman_root(IMAGES)).image_id(image) == digest:
            return image, digest
    except ImageError:
        pass
    if not shutil.which('ch-image'):
        pytest.skip('Charliecloud missing (the podman chain starts from its debootstrap tree): make setup')
    proc = hpcval('image', 'build', 'openmpi', '--builder', 'podman', timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return podman.recorded('openmpi', IMAGES)


@pytest.fixture(scope='module')
def squashed(podman_openmpi, tmp_path_factory):
    '''The image migrated into a podman-hpc folder of this test's own (nothing recorded).'''
    root = tmp_path_factory.mktemp('podman-hpc')
    project = podman_hpc.mksquashfs(podman_hpc.podman_hpc_root(IMAGES))
    if project.exists():          # else migrate builds it (scripts/static-mksquashfs.sh, ~6 s)
        podman_hpc.mksquashfs(root).parent.mkdir(parents=True)
        shutil.copy2(project, podman_hpc.mksquashfs(root))
    image, digest, seconds = podman_hpc.migrate(IMAGES, 'openmpi', log=root / 'migrate.log', root=root)
    yield root, image, digest, seconds
    env = podman_hpc.PodmanHpc(root).env
    subprocess.run([str(podman_hpc.command(root)), 'rm', '-a', '-f'], env=env, capture_output=True, timeout=120)
    subprocess.run([str(podman_hpc.command(root)), 'rmsqi', image], env=env, capture_output=True, timeout=120)
    shutil.rmtree(podman_hpc.nodes_dir(root), ignore_errors=True)


def test_migrate_squashes_the_podman_build(squashed, podman_openmpi):
    root, image, digest, seconds = squashed
    assert (image, digest) == podman_openmpi
    sq, size = podman_hpc.squashed(root, digest)
    assert sq.parent == root / 'squash' / 'overlay' / 'l' and size > 100 * 2**20
    assert set(seconds) == {'copy', 'migrate', 'rmi', 'total'}
    # the nodes run from the squash store alone: the copy in this node's graph root is gone
    assert podman_hpc.PodmanHpc(root).images() == {digest: True}
    # a second migrate finds it squashed and copies nothing
    t0 = time.monotonic()
    assert podman_hpc.migrate(IMAGES, 'openmpi', log=root / 'again.log', root=root)[2] == {'total': pytest.approx(
        time.monotonic() - t0, abs=1)}
    assert 'podman push' not in (root / 'again.log').read_text()


def _ranks(root, image, sub, mpi, stage):
    '''2 ranks of `mpirun -np 2 podman-hpc SUB ... IMAGE osu_mpi latency`, the command line the
    checks' Podman platform emits; returns (rc, output).'''
    args = ['--network', 'host', '--ipc', 'host', '--pid', 'host', '-e', 'OMPI_*', '-e', 'PMIX_*',
            '-v', '/tmp:/tmp', '-v', f'{stage}:/rfm_workdir', '-w', '/rfm_workdir']
    if mpi == 'host':
        lib = stage / 'hostmpi-lib'
        if not lib.exists():
            lib.mkdir()
            subprocess.run(f'cp -a {" ".join(f"{LIBDIR}/{p}" for p in HOST_LIBS)} {lib}/ && '
                           f'for f in {lib}/*.so.*; do b="${{f%%.so.*}}.so"; '
                           f'[ -e "$b" ] || ln -s "$(basename "$f")" "$b"; done', shell=True, check=True)
        args += ['-v', f'{lib}:/opt/hostmpi/lib:ro', '-v', f'{LIBDIR}/openmpi/lib/openmpi3:/opt/hostmpi/plugins:ro',
                 '-e', 'LD_LIBRARY_PATH=/opt/hostmpi/lib',
                 '-e', 'OMPI_MCA_mca_base_component_path=/opt/hostmpi/plugins']
    env = podman_hpc.expanded(podman_hpc.job_env(root))
    env.update({'OMPI_ALLOW_RUN_AS_ROOT': '1', 'OMPI_ALLOW_RUN_AS_ROOT_CONFIRM': '1',
                'OMPI_MCA_btl_tcp_if_include': 'lo', 'OMPI_MCA_oob_tcp_if_include': 'lo'})
    cmd = ['mpirun', '-np', '2', 'podman-hpc', *(['run', '--rm'] if sub == 'run' else [sub]), *args, image, *OSU]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180, cwd=stage)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize('sub', ['run', 'shared-run'])
@pytest.mark.parametrize('mpi', ['bundled', 'host'])
def test_two_ranks_under_mpirun(squashed, sub, mpi, tmp_path):
    if not shutil.which('mpirun'):
        pytest.skip('no host mpirun: make setup (openmpi-bin)')
    root, image, _, _ = squashed
    rc, out = _ranks(root, image, sub, mpi, tmp_path)
    assert rc == 0, out[-3000:]
    paths = [ln.split(':', 1)[1].strip() for ln in out.splitlines() if ln.startswith('# MPI Library Path:')]
    assert len(paths) == 1, out[-3000:]
    libs = paths[0].split(',')
    assert len(libs) == 2                                            # one per rank
    want = '/opt/hostmpi/lib/libmpi.so.40' if mpi == 'host' else '/usr/lib/x86_64-linux-gnu/libmpi.so.40'
    assert all(p.startswith(want) for p in libs), libs
    assert any(ln.startswith('1024 ') for ln in out.splitlines()), out[-2000:]
    # nothing left behind: the rank containers (run --rm) and shared-run's container are gone
    ps = subprocess.run([str(podman_hpc.command(root)), 'ps', '-a', '-q'], capture_output=True, text=True,
                        env=podman_hpc.PodmanHpc(root).env, timeout=60)
    assert ps.stdout.strip() == ''


def test_project_migration_is_recorded(podman_openmpi):
    '''The project's own podman-hpc folder: migrated (or found squashed) and in the index.'''
    image, digest, _ = podman_hpc.migrate(IMAGES, 'openmpi')
    assert podman_hpc.recorded('openmpi', IMAGES) == (image, digest) == podman_openmpi
