"""Podman as a second runtime: the same Dockerfiles built by `podman build`, the same
checks run as runtime=podman with the host MPI injected and with the image's own."""
import re
from pathlib import Path

import yaml

from hpcval_cli import ROOT, hpcval, image_index, run_cases as cases


def test_podman_builds_record_a_tested_image_beside_the_charliecloud_formats(podman_images, openmpi_image):
    for name, rec in podman_images.items():
        assert rec['image'] == f'localhost/hpcval/{name}:current'
        assert re.fullmatch(r'sha256:[0-9a-f]{64}', rec['digest'])
        assert rec['test']['status'] == 'passed' and rec['build']['status'] == 'passed'
    # two builds of one recipe: the Charliecloud formats are still there
    assert set(openmpi_image['formats']) >= {'dir', 'squash'}
    proc = hpcval('image', 'list')
    rows = [ln.split() for ln in proc.stdout.splitlines() if ln.startswith('openmpi:current')]
    assert {r[3] for r in rows} >= {'dir', 'squash', 'podman'}


def test_the_same_checks_in_podman_prove_their_mpi(podman_images, tmp_path):
    camp = yaml.safe_load((ROOT / 'campaigns' / 'podman.yaml').read_text())
    camp['app']['inputs'] = [str(ROOT / 'campaigns' / i) for i in camp['app']['inputs']]
    camp['app']['steps'] = 50
    camp.update(repeat=1, params={'runtime': ['podman', 'podman-hpc'], 'mpi': ['host', 'bundled'],
                                  'MpiMicrobench.benchmark': ['latency']},
                set={'MpiMicrobench.max_message_size': 1024, 'MpiMicrobench.num_iters': 200})
    (tmp_path / 'podman-ci.yaml').write_text(yaml.safe_dump(camp))
    proc = hpcval('run', '--campaign', tmp_path / 'podman-ci.yaml', runs=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:]
    run = tmp_path / 'podman-ci' / 'latest'
    got = {(tc['name'].split()[0], tc['runtime'], tc['mpi']): tc for tc in cases(run)
           if tc.get('runtime', '').startswith('podman')}
    assert set(got) == {(c, r, m) for c in ('MpiMicrobench', 'lammps') for r in ('podman', 'podman-hpc')
                        for m in ('host', 'bundled')}
    for (check, runtime, mpi), tc in got.items():
        assert tc['result'] == 'pass', tc['fail_reason']
        image = 'openmpi' if check == 'MpiMicrobench' else 'lammps'
        # podman-hpc runs the same image, from its squash store
        assert tc['image'] == f'{image}:current' and tc['image_format'] == runtime
        assert tc['image_digest'] == podman_images[image]['digest']
        paths = set(tc['mpi_library_path'].split(','))
        if mpi == 'host':
            assert paths == {'/opt/hostmpi/lib/libmpi.so.40.30.4'}, paths
        else:
            assert paths == {'/usr/lib/x86_64-linux-gnu/libmpi.so.40.30.4'}, paths
    # the hybrid model: the host's mpirun starts one podman container per rank, in the
    # host's namespaces, the injected MPI read-only
    lines = [ln for s in Path(run, 'output').rglob('rfm_job.sh') for ln in s.read_text().splitlines()
             if ln.startswith('mpirun ')]
    assert len(lines) == 8
    for ln in lines:
        # podman: a container per rank; podman-hpc: one per node, each rank's command from its script
        assert re.match(r'mpirun -np 2 (podman run --rm|podman-hpc shared-run) --network host --ipc host --pid host ',
                        ln)
        assert ':/rfm_workdir ' in ln and ' -w /rfm_workdir ' in ln
        assert ('podman-hpc' in ln) is ln.endswith(' sh /rfm_workdir/hpcval_rank.sh')
    assert sum(':/opt/hostmpi/lib:ro ' in ln for ln in lines) == 4
    # podman-hpc's squashfuse mounts of the image went with the containers
    squash = str(ROOT / '.cache' / 'podman-hpc' / 'squash')
    assert not [m for m in Path('/proc/self/mounts').read_text().splitlines() if squash in m]
    # the report's summary says, per runtime and MPI mode, which library file the ranks loaded
    proc = hpcval('report', run, '-o', tmp_path / 'report')
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = (tmp_path / 'report' / 'report.md').read_text().split('## ')[1]
    for runtime in ('podman', 'podman-hpc'):
        for mpi, lib in (('host', '/opt/hostmpi/lib/'), ('bundled', '/usr/lib/x86_64-linux-gnu/')):
            rows = [ln for ln in summary.splitlines() if f'| {runtime} | {mpi} |' in ln]
            assert rows and all(f'{lib}libmpi.so.40.30.4' in ln for ln in rows), (runtime, mpi, rows)
    # podman-hpc's environment: its site config and squash store, for podman-hpc itself only
    for script in Path(run, 'output').rglob('rfm_job.sh'):
        text = script.read_text()
        if 'podman-hpc run' in text:
            assert 'export SQUASH_DIR=' in text and 'export PODMANHPC_CONFIG_FILE=' in text
            assert "-e PATH" not in text and '-e SQUASH_DIR' not in text


def test_an_image_podman_did_not_build_fails_before_submission(tmp_path):
    images = tmp_path / 'images'
    images.mkdir()
    proc = hpcval('run', 'mpi_microbench', '-S', 'MpiMicrobench.max_message_size=8',
                  '--', '-P', 'runtime=podman', '-P', 'mpi=bundled', '-n', '%benchmark=latency',
                  runs=tmp_path / 'runs', env={'HPCVAL_IMAGES': str(images)})
    assert proc.returncode == 1
    [tc] = [tc for tc in cases(tmp_path / 'runs' / 'adhoc' / 'latest') if tc['name'].startswith('MpiMicrobench')]
    assert tc['result'] == 'fail' and tc['fail_phase'] == 'setup'
    assert ('image openmpi:current not built with podman: run `hpcval image build openmpi --builder podman`'
            in tc['fail_reason'])
    assert image_index()['openmpi'].get('podman')      # the project's own index untouched
