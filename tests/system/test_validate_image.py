"""`hpcval validate-image` for real: a candidate that ships the reference BLAS, an MPICH
image that cannot take the host's Open MPI, and images imported as a directory and as
SquashFS.  Local system (ReFrame runs the cases on this machine)."""
import csv
import shutil

import pytest
from hpcval_cli import IMAGES, ROOT, hpcval, image_index

pytestmark = pytest.mark.system


def _csv(path):
    with open(path) as fp:
        return list(csv.DictReader(fp))


@pytest.fixture(scope='module')
def refblas_image(openmpi_image, tmp_path_factory):
    '''The openmpi recipe with Debian's reference BLAS where OpenBLAS was.'''
    folder = tmp_path_factory.mktemp('recipe') / 'openmpi'
    folder.mkdir()
    text = (ROOT / 'containers' / 'openmpi' / 'Dockerfile').read_text()
    assert 'libopenblas0-pthread' in text
    (folder / 'Dockerfile').write_text(text.replace('libopenblas0-pthread', 'libblas3'))
    proc = hpcval('image', 'build', folder, '--tag', 'refblas', timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    yield 'openmpi:refblas'
    hpcval('image', 'rm', 'openmpi:refblas')


def test_reference_blas_candidate_is_a_dgemm_regression_not_an_mpi_one(refblas_image, tmp_path):
    out = tmp_path / 'report'
    proc = hpcval('validate-image', refblas_image, '--against', 'openmpi', '-o', out, runs=tmp_path / 'runs',
                  timeout=1800)
    assert proc.returncode == 1, proc.stdout[-4000:] + proc.stderr[-3000:]
    verdicts = _csv(out / 'tables' / 'verdicts.csv')
    dgemm = [r for r in verdicts if r['pvar'] == 'gflops_n1024']
    assert {r['verdict'] for r in dgemm} == {'REGRESSION'} and len(dgemm) == 2      # host and bundled MPI
    assert all(float(r['ratio']) < 0.5 for r in dgemm)
    mpi = [r for r in verdicts if r['check'] == 'MpiMicrobench']
    assert mpi and 'REGRESSION' not in {r['verdict'] for r in mpi}
    images = {r['role']: r for r in _csv(out / 'tables' / 'images.csv')}
    assert '/blas/libblas.so' in images['candidate']['loaded']
    assert 'openblas' in images['current']['loaded']
    assert all(r['result'] == 'passed' for r in _csv(out / 'tables' / 'functional.csv'))
    assert 'Verdict: REGRESSION' in (out / 'report.md').read_text()


def test_mpich_candidate_fails_the_host_mpi_check_and_runs_its_bundled_cases(openmpi_image, tmp_path):
    proc = hpcval('image', 'build', 'mpich', timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / 'report'
    proc = hpcval('validate-image', 'mpich', '--against', 'openmpi', '--repeat', '2', '-o', out,
                  runs=tmp_path / 'runs', timeout=1200)
    assert proc.returncode == 1, proc.stdout[-4000:] + proc.stderr[-3000:]
    func = {(r['image'], r['check']): r for r in _csv(out / 'tables' / 'functional.csv')}
    host = func[('mpich:current', 'host MPI injected')]
    assert host['result'] == 'FAILED' and 'different sonames' in host['detail']
    assert func[('mpich:current', 'bundled MPI')]['result'] == 'passed'
    assert func[('openmpi:current', 'host MPI injected')]['result'] == 'passed'
    verdicts = _csv(out / 'tables' / 'verdicts.csv')
    assert verdicts and all('%mpi=bundled' in r['case'] for r in verdicts)
    assert 'FUNCTIONAL FAILURE' in (out / 'report.md').read_text()


def test_bad_input_is_exit_2_and_runs_nothing(openmpi_image, tmp_path):
    for args, fault in [(['nosuch:tag', '--against', 'openmpi'], 'not in the image folder'),
                        (['openmpi', '--against', 'openmpi:current'], 'against itself'),
                        (['Bad/Name', '--against', 'openmpi'], 'NAME[:TAG]'),
                        (['openmpi', '--against', 'mpich', '--repeat', '1'], 'at least 2')]:
        proc = hpcval('validate-image', *args, '-o', tmp_path / 'out', runs=tmp_path / 'runs')
        assert proc.returncode == 2 and fault in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / 'runs').exists() and not (tmp_path / 'out').exists()


@pytest.mark.parametrize('source', ['base', 'base.sqfs'])
def test_an_imported_directory_or_squashfs_is_the_same_image(openmpi_image, source, tmp_path):
    ref = 'base:imported-' + source.replace('.', '-')
    proc = hpcval('image', 'import', ref, IMAGES / source, '--format', 'dir', timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    try:
        index = image_index()
        entry = index[ref]
        assert entry['test']['status'] == 'passed'                 # the base recipe's smoke test
        assert entry['source']['kind'] == ('dir' if source == 'base' else 'squashfs')
        assert entry['formats']['dir']['digest'] == index['base']['formats']['dir']['digest']
        again = hpcval('image', 'import', ref, IMAGES / source)
        assert again.returncode == 2 and 'exists' in again.stderr
        listing = hpcval('image', 'list').stdout
        assert ref in listing and 'import' in listing
    finally:
        rm = hpcval('image', 'rm', ref)
    assert rm.returncode == 0 and ref not in image_index()
    assert not (IMAGES / ('base@' + ref.split(':')[1])).exists()
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_an_import_the_disk_cannot_hold_is_refused_before_anything_is_written(openmpi_image):
    before = image_index()
    proc = hpcval('image', 'import', 'base:toolarge', IMAGES / 'base', env={'HPCVAL_MIN_FREE_GB': '1000000'})
    assert proc.returncode == 2 and 'refusing to import' in proc.stderr and 'GiB free' in proc.stderr
    assert image_index() == before and not (IMAGES / 'base@toolarge').exists()
