import pytest
from hpcval_cli import hpcval


@pytest.fixture(scope='session')
def smoke_run(tmp_path_factory):
    '''One real ReFrame session of the smoke campaign, shared by the tests.'''
    runs = tmp_path_factory.mktemp('runs')
    proc = hpcval('run', '--campaign', 'smoke', runs=runs)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return runs / 'smoke' / 'latest'
