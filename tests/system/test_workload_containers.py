"""The reference workloads in their images: the 3D-GAN in the TensorFlow image and
small-file I/O in the Open MPI image, each with the host MPI injected and with
the image's own."""
import os
from pathlib import Path

from hpcval_cli import hpcval, run_cases


def _by_mpi(rundir, check):
    return {tc['mpi']: tc for tc in run_cases(rundir) if tc['name'].startswith(check)}


def test_gan_trains_in_the_tensorflow_image_with_host_and_bundled_mpi(tensorflow_image, tmp_path):
    proc = hpcval('run', 'gan_training', '--name', 'gan', '-S', 'GanTraining.steps=3', '-S', 'GanTraining.warmup=1',
                  '-S', 'GanTraining.batch=4', '--', '-P', 'runtime=charliecloud', '-P', 'mpi=host,bundled',
                  '-P', 'ranks_per_node=2', '-n', '%mode=strong', runs=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:]
    got = _by_mpi(tmp_path / 'gan' / 'latest', 'GanTraining')
    assert set(got) == {'host', 'bundled'}
    for tc in got.values():
        assert tc['result'] == 'pass', tc['fail_reason']
        assert tc['image_digest'] == tensorflow_image['formats']['dir']['digest']
        assert tc['tensorflow_version'] == '2.21.0' and tc['ranks'] == 2
    # the proof of which MPI carried the gradients: the library file mpi4py mapped
    assert all(p.startswith('/opt/hostmpi/lib/libmpi.so') for p in got['host']['mpi_library_path'].split(','))
    assert all(p.startswith('/usr/lib/') for p in got['bundled']['mpi_library_path'].split(','))


def test_smallfile_io_in_the_image_writes_through_the_bound_target(openmpi_image, tmp_path):
    proc = hpcval('run', 'smallfile_io', '--name', 'io', '-S', 'SmallfileIO.files_per_rank=50',
                  '-S', 'SmallfileIO.iterations=1', '--', '-P', 'runtime=charliecloud', '-P', 'mpi=host,bundled',
                  '-n', '%target=ramdisk', runs=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:]
    got = _by_mpi(tmp_path / 'io' / 'latest', 'SmallfileIO')
    assert set(got) == {'host', 'bundled'}
    for tc in got.values():
        assert tc['result'] == 'pass', tc['fail_reason']
        assert tc['files_created'] == tc['files_removed'] == tc['planned_files'] > 0
        assert tc['image_digest'] == openmpi_image['formats']['dir']['digest']
        assert not Path(tc['target_path'], tc['run_dir']).exists()
    # the target was bound at /scratch: the job script says so
    scripts = list(Path(tmp_path, 'io', 'latest', 'output').rglob('rfm_job.sh'))
    assert scripts and all(':/scratch ' in s.read_text() and '-d /scratch' in s.read_text() for s in scripts)
    assert not [p for p in os.listdir('/dev/shm') if p.startswith('hpcval-smallfile-')]
