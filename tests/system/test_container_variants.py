"""The microbenchmark check in both MPI modes in Charliecloud, against bare."""
import re
import subprocess
from pathlib import Path

from hpcval_cli import IMAGES, ROOT, hpcval, run_cases as cases


def _bench(tc):
    return re.search(r'%benchmark=(\w+)', tc['name']).group(1)


def test_every_variant_passes_and_proves_its_mpi(container_run, openmpi_image):
    runs = [tc for tc in cases(container_run) if tc['name'].startswith('MpiMicrobench')]
    got = {(tc['runtime'], tc['mpi'], _bench(tc)) for tc in runs}
    assert got == {(r, m, b) for r, m in [('bare', 'host'), ('charliecloud', 'host'),
                                          ('charliecloud', 'bundled')] for b in ('latency', 'bw')}
    for tc in runs:
        assert tc['result'] == 'pass', (tc['name'], tc['fail_reason'])
        assert 'Open MPI' in tc['mpi_library']
        paths = tc['mpi_library_path'].split(',')
        if tc['runtime'] == 'charliecloud':
            assert tc['image_digest'] == openmpi_image['formats']['dir']['digest']
            assert tc['image'].startswith('openmpi')
        if tc['runtime'] == 'charliecloud' and tc['mpi'] == 'host':
            # the host's libmpi, bound in at /opt/hostmpi
            assert all(p.startswith('/opt/hostmpi/lib/libmpi.so') for p in paths), paths
        else:
            assert all(p.startswith('/usr/lib/') and 'libmpi.so' in p for p in paths), paths


def test_container_job_script_is_the_hybrid_model(container_run):
    scripts = list(Path(container_run, 'output').rglob('rfm_job.sh'))
    lines = [ln for s in scripts for ln in s.read_text().splitlines() if 'ch-run' in ln]
    assert len(lines) == 4                      # 2 benchmarks x host/bundled
    for ln in lines:
        # the host launcher outside, ranks joined in one container, image ENV applied,
        # stage directory bound and used as working directory
        assert ln.startswith('mpirun -np 2 ch-run --set-env')
        assert ' --join ' in ln and ':/rfm_workdir ' in ln and '-c /rfm_workdir' in ln
        assert str(IMAGES / 'openmpi') in ln
    host = [ln for ln in lines if 'LD_LIBRARY_PATH=/opt/hostmpi/lib' in ln]
    assert len(host) == 2 and all(':/opt/hostmpi/lib ' in ln for ln in host)


def test_missing_image_fails_before_submission(tmp_path):
    proc = hpcval('run', 'mpi_microbench', '-S', 'MpiMicrobench.max_message_size=8',
                  '--', '-P', 'runtime=charliecloud', '-n', '%benchmark=latency',
                  runs=tmp_path / 'runs', env={'HPCVAL_IMAGES': str(tmp_path / 'no-images')})
    assert proc.returncode == 1
    [tc] = [tc for tc in cases(tmp_path / 'runs' / 'adhoc' / 'latest')
            if tc['name'].startswith('MpiMicrobench')]
    assert tc['result'] == 'fail' and tc['fail_phase'] == 'setup'
    assert 'image openmpi:current not built in dir format: run `hpcval image build openmpi`' in tc['fail_reason']


def test_host_mpi_that_does_not_load_fails_sanity(openmpi_image, tmp_path):
    '''A site config whose injection does not take (the library path points
    nowhere) silently falls back to the image MPI: sanity must catch it.'''
    cfg = tmp_path / 'broken_injection.py'
    cfg.write_text(
        'import importlib.util\n'
        f'spec = importlib.util.spec_from_file_location("local", "{ROOT}/config/local.py")\n'
        'mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n'
        'site_configuration = mod.site_configuration\n'
        'part = site_configuration["systems"][0]["partitions"][0]\n'
        'part["extras"]["host_mpi"]["env"]["LD_LIBRARY_PATH"] = "/nonexistent"\n')
    report = tmp_path / 'report.json'
    proc = subprocess.run(
        [str(ROOT / '.venv/bin/reframe'), '-C', str(cfg), '-c', str(ROOT / 'checks/mpi_microbench.py'),
         '-P', 'runtime=charliecloud', '-P', 'mpi=host', '-n', '%benchmark=latency',
         '-S', 'max_message_size=8', '-S', 'num_iters=50', '-r', '--report-file', str(report),
         '-s', str(tmp_path / 'stage'), '-o', str(tmp_path / 'out'), '--perflogdir', str(tmp_path / 'perflogs')],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**__import__('os').environ, 'HPCVAL_RUN_DIR': str(tmp_path / 'rundir')})
    assert proc.returncode == 1, proc.stdout[-2000:]
    text = report.read_text()
    assert 'mpi=host asked for the injected host MPI under /opt/hostmpi' in text
    assert 'but the program loaded /usr/lib/' in text
