"""The validation report from a real MPICH-vs-Open MPI session (tests/data/validate-image)."""
from pathlib import Path

import pytest

from hpcval.analysis import image_validation, ingest, report

DATA = Path(__file__).parents[2] / 'data' / 'validate-image' / 'mpich-vs-openmpi'
CAND, CUR = 'mpich:current', 'openmpi:current'
INDEX = {CAND: {'recipe': 'containers/mpich/Dockerfile', 'formats': {'dir': {'digest': 'sha256:aa', 'bytes': 900}}},
         CUR: {'source': {'kind': 'docker-archive', 'path': '/x.tar'},
               'formats': {'dir': {'digest': 'sha256:bb', 'bytes': 1000}}}}
PVARS = ['^latency_8B$', '^bw_1MiB$']


@pytest.fixture(scope='module')
def rep():
    func, work = ingest.load([DATA / 'functional']), ingest.load([DATA / 'workload'])
    return image_validation.build(func, work, CAND, CUR, INDEX, pvars=PVARS, no_host_mpi=[CAND])


def test_the_candidate_that_cannot_take_the_host_mpi_fails_with_the_reason(rep):
    f = rep.tables['functional']
    host = f[(f['image'] == CAND) & (f['check'] == 'host MPI injected')].iloc[0]
    assert host['result'] == 'FAILED' and 'different sonames' in host['detail']
    assert 'libmpich.so.12' in host['detail'] and 'libmpi.so.40' in host['detail']
    assert rep.extra['verdict'] == 'FUNCTIONAL FAILURE'
    assert list(rep.extra['functional_failed']['check']) == ['host MPI injected']


def test_its_bundled_mpi_cases_ran_and_are_compared_by_name_without_the_image(rep):
    f = rep.tables['functional']
    bundled = f[(f['image'] == CAND) & (f['check'] == 'bundled MPI')].iloc[0]
    assert bundled['result'] == 'passed' and 'under its own mpiexec' in bundled['detail']
    v = rep.tables['verdicts']
    assert len(v) == 2 and set(v['pvar']) == {'latency_8B', 'bw_1MiB'}
    assert all('%mpi=bundled' in c and '%image' not in c for c in v['case'])
    assert (v['n_base'] == 2).all() and (v['n_cand'] == 2).all()


def test_host_mpi_cases_are_left_out_not_counted_lost(rep):
    assert rep.summary.get('REGRESSION', 0) == 0
    assert not any('%mpi=host' in c and 'charliecloud' in c for c in rep.tables['verdicts']['case'])


def test_the_bare_control_gives_each_image_against_bare(rep):
    b = rep.tables['bare_control']
    row = b[(b['pvar'] == 'bw_1MiB') & (b['mpi'] == 'bundled')].iloc[0]
    assert row['bare'] > 0 and row['candidate_vs_bare'] == pytest.approx(row['candidate'] / row['bare'])


def test_images_table_says_where_each_came_from_and_what_it_loaded(rep):
    t = rep.tables['images'].set_index('role')
    assert t.loc['candidate', 'origin'].startswith('built from')
    assert t.loc['current', 'origin'] == 'imported docker-archive /x.tar'
    assert t.loc['candidate', 'size_vs_current'] == pytest.approx(0.9)
    assert 'libmpich.so.12' in t.loc['candidate', 'loaded']


def test_it_renders_html_and_markdown(rep, tmp_path):
    index = report.render(rep, tmp_path / 'out')
    md = (tmp_path / 'out' / 'report.md').read_text()
    assert 'Verdict: FUNCTIONAL FAILURE' in md and 'different sonames' in md
    assert 'host-MPI cases are not compared' in md
    assert (tmp_path / 'out' / 'tables' / 'functional.csv').is_file()
    assert 'FUNCTIONAL FAILURE' in index.read_text()


def test_a_session_where_nothing_was_measured_reports_the_functional_results(tmp_path):
    func = ingest.load([DATA / 'functional'])
    rep = image_validation.build(func, func, CAND, CUR, INDEX, measured=False)
    assert rep.tables['verdicts'].empty and rep.extra['verdict'] == 'FUNCTIONAL FAILURE'
    report.render(rep, tmp_path / 'out')
