"""The example site configs (Apptainer, Sarus, podman-hpc, fabrics), checked by ReFrame
--dry-run: the generated job scripts carry the binds, env, image and launcher."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def dry_run(tmp_path, config, system, *args):
    env = {**os.environ, 'HPCVAL_RUN_DIR': str(tmp_path / 'run'), 'HPCVAL_MODULES_SYSTEM': 'nomod'}
    proc = subprocess.run(
        [str(ROOT / '.venv/bin/reframe'), '-C', str(ROOT / 'config/examples' / config), '--system', system,
         '-c', str(ROOT / 'checks/mpi_microbench.py'), '-n', '%benchmark=latency', '--dry-run',
         '-s', str(tmp_path / 'stage'), '-o', str(tmp_path / 'out'), '--perflogdir', str(tmp_path / 'perflogs'), *args],
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
         '-P', 'runtime=sarus', '--dry-run', '-s', str(tmp_path / 'stage'), '-o', str(tmp_path / 'out'),
         '--perflogdir', str(tmp_path / 'perflogs')],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "image openmpi:current not configured for sarus in partition sarus-site:mc" in proc.stdout


@pytest.mark.parametrize('config', sorted(p.name for p in (ROOT / 'config/examples').glob('*.py')))
def test_example_configs_document_their_dry_run(config):
    text = (ROOT / 'config/examples' / config).read_text()
    assert '--dry-run' in text and 'container_platforms' in text


@pytest.mark.parametrize('config, system, fabric, exports', [
    ('supermuc_ng.py', 'supermuc-ng', 'opa', ['I_MPI_FABRICS=shm:ofi', 'FI_PROVIDER=psm2', 'I_MPI_DEBUG=5',
                                              'PSM2_IDENTIFY=1']),
    ('supermuc_ng.py', 'supermuc-ng', 'tcp', ['FI_PROVIDER=tcp', 'I_MPI_DEBUG=5']),
    ('infiniband_cluster.py', 'ib-cluster', 'ib', ['OMPI_MCA_pml=ucx', 'UCX_TLS=rc,ud,sm,self',
                                                   'UCX_NET_DEVICES=mlx5_0:1', 'OMPI_MCA_pml_base_verbose=10']),
    ('infiniband_cluster.py', 'ib-cluster', 'tcp', ['OMPI_MCA_pml=ob1', 'OMPI_MCA_btl=self,vader,tcp',
                                                    'OMPI_MCA_btl_tcp_if_include=eno1',
                                                    'OMPI_MCA_btl_base_verbose=100']),
    ('slingshot.py', 'slingshot', 'cxi', ['FI_PROVIDER=cxi', 'MPICH_OFI_NIC_VERBOSE=1',
                                          'MPIR_CVAR_DEBUG_SUMMARY=1']),
])
def test_fabric_variants_pin_and_prove_their_fabric(tmp_path, config, system, fabric, exports):
    scripts = dry_run(tmp_path, config, system, '-P', f'fabric={fabric}', '-P', 'num_nodes=2')
    [script] = scripts.values()
    lines = script.splitlines()
    for e in exports:
        assert f'export {e}' in lines, (e, script)
    # point to point between two nodes: one rank on each
    assert '#SBATCH --ntasks=2' in lines and '#SBATCH --ntasks-per-node=1' in lines
    assert any(ln.startswith('srun ') and 'osu_mpi latency' in ln for ln in lines)


def test_a_fabric_the_partition_does_not_declare_is_skipped(tmp_path):
    env = {**os.environ, 'HPCVAL_RUN_DIR': str(tmp_path / 'run'), 'HPCVAL_MODULES_SYSTEM': 'nomod'}
    proc = subprocess.run(
        [str(ROOT / '.venv/bin/reframe'), '-C', str(ROOT / 'config/examples/slingshot.py'),
         '--system', 'slingshot', '-c', str(ROOT / 'checks/mpi_microbench.py'), '-n', '%benchmark=latency',
         '-P', 'fabric=opa', '--dry-run', '-v', '-s', str(tmp_path / 'stage'), '-o', str(tmp_path / 'out'),
         '--perflogdir', str(tmp_path / 'perflogs')],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert "fabric 'opa' is not declared in partition slingshot:normal (declared: cxi, tcp)" in proc.stdout


def test_podman_hpc_site_shared_run_with_host_and_bundled_mpi(tmp_path):
    scripts = dry_run(tmp_path, 'podman_hpc_slurm.py', 'podman-hpc-site',
                      '-P', 'runtime=podman-hpc', '-P', 'mpi=host,bundled')
    assert len(scripts) == 2
    assert all('#SBATCH --constraint=cpu' in s for s in scripts.values())
    lines = launch_lines(scripts, 'podman-hpc shared-run')
    assert len(lines) == 2
    host = [ln for ln in lines if ':/opt/hostmpi/lib:ro' in ln]
    assert len(host) == 1
    assert '-v /opt/openmpi/5.0.5/lib:/opt/hostmpi/lib:ro' in host[0]
    assert '-e LD_LIBRARY_PATH=/opt/hostmpi/lib' in host[0] and '-e OMPI_MCA_pml=ucx' in host[0]
    for ln in lines:
        assert '--network host --ipc host --pid host' in ln and "-e 'SLURM_*'" in ln and "-e 'PMIX_*'" in ln
        assert '-v /pscratch:/scratch' in ln and ' --openmpi-pmix ' in ln and ':/rfm_workdir ' in ln
        # the site's image, each rank's command from its script (shared-run parses what follows)
        assert ln.endswith('registry.example.org/hpcval/openmpi:1.0 sh /rfm_workdir/hpcval_rank.sh')
    rank = list((tmp_path / 'stage').rglob('hpcval_rank.sh'))
    assert len(rank) == 2 and all(r.read_text().splitlines()[-1].startswith('exec /opt/hpcval/bin/osu_mpi latency')
                                  for r in rank)
