"""The example site configs for Apptainer and Sarus, checked by ReFrame
--dry-run: the generated job scripts carry the binds, env, image and launcher."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def dry_run(tmp_path, config, system, *args):
    env = {**os.environ, 'HPCVAL_RUN_DIR': str(tmp_path / 'run')}
    proc = subprocess.run(
        [str(ROOT / '.venv/bin/reframe'), '-C', str(ROOT / 'config/examples' / config), '--system', system,
         '-c', str(ROOT / 'checks/mpi_microbench.py'), '-n', '%benchmark=latency', '--dry-run',
         '-s', str(tmp_path / 'stage'), '-o', str(tmp_path / 'out'), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    scripts = {}
    for script in (tmp_path / 'stage').rglob('rfm_job.sh'):
        if script.parent.name.startswith('MpiMicrobench'):
            scripts[script.parent.name] = script.read_text()
    return scripts


def launch_lines(scripts, word):
    return sorted(ln for s in scripts.values() for ln in s.splitlines() if ln.startswith(f'srun {word}'))


def test_apptainer_site_host_and_bundled_mpi(tmp_path):
    scripts = dry_run(tmp_path, 'apptainer_slurm.py', 'apptainer-site',
                      '-P', 'runtime=apptainer', '-P', 'mpi=host,bundled')
    assert len(scripts) == 2
    assert all('#SBATCH --partition=compute' in s and '#SBATCH --ntasks=2' in s for s in scripts.values())
    lines = launch_lines(scripts, 'apptainer exec')
    assert len(lines) == 2
    host = [ln for ln in lines if '/opt/hostmpi/lib' in ln]
    bundled = [ln for ln in lines if '/opt/hostmpi/lib' not in ln]
    assert len(host) == 1 and len(bundled) == 1
    # bind model: the host prefix at the image's mount point, the library path
    # passed explicitly (Apptainer never imports LD_LIBRARY_PATH), site env too
    assert '-B"/opt/openmpi/4.1.6/lib:/opt/hostmpi/lib"' in host[0]
    assert '--env LD_LIBRARY_PATH=/opt/hostmpi/lib' in host[0] and '--env UCX_TLS=rc,sm,self' in host[0]
    for ln in lines:
        assert '-B"/scratch:/scratch"' in ln and ':/rfm_workdir"' in ln and '--pwd /rfm_workdir' in ln
        assert ln.endswith('/shared/images/hpcval/openmpi.sif /opt/hpcval/bin/osu_mpi latency -m 1:4194304')


def test_sarus_site_uses_the_mpi_hook_only_for_host_mpi(tmp_path):
    scripts = dry_run(tmp_path, 'sarus_slurm.py', 'sarus-site', '-P', 'runtime=sarus',
                      '-P', 'mpi=host,bundled', '-S', 'container_image=mpich')
    lines = launch_lines(scripts, 'sarus run')
    assert len(lines) == 2
    assert sum(' --mpi ' in ln for ln in lines) == 1
    for ln in lines:
        assert 'load/library/hpcval-mpich:latest /opt/hpcval/bin/osu_mpi latency' in ln
        assert 'destination="/rfm_workdir"' in ln
    assert all('#SBATCH --constraint=mc' in s for s in scripts.values())


def test_image_missing_from_a_site_config_fails_before_submission(tmp_path):
    env = {**os.environ, 'HPCVAL_RUN_DIR': str(tmp_path / 'run')}
    proc = subprocess.run(
        [str(ROOT / '.venv/bin/reframe'), '-C', str(ROOT / 'config/examples/sarus_slurm.py'),
         '--system', 'sarus-site', '-c', str(ROOT / 'checks/mpi_microbench.py'), '-n', '%benchmark=latency',
         '-P', 'runtime=sarus', '--dry-run', '-s', str(tmp_path / 'stage'), '-o', str(tmp_path / 'out')],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "image openmpi not configured for sarus in partition sarus-site:mc" in proc.stdout


@pytest.mark.parametrize('config', sorted(p.name for p in (ROOT / 'config/examples').glob('*.py')))
def test_example_configs_document_their_dry_run(config):
    text = (ROOT / 'config/examples' / config).read_text()
    assert '--dry-run' in text and 'container_platforms' in text
