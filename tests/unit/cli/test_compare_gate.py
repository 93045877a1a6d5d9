"""The gate cannot pass a regression hidden in failures or in a disjoint candidate."""
import pytest

from hpcval import cli
from runreports import make_case, report, write


def _session(tmp_path, name, cases):
    return str(write(tmp_path / f'{name}.json', report(cases, session=name)))


def _stream(i, value=1000.0, result='pass', phase=None, name='Stream'):
    return make_case(f'{name} %$repeat_no={i}', {'bw': (value, 'MB/s')}, result=result, fail_phase=phase)


def test_an_all_failed_candidate_is_a_regression(tmp_path, capsys):
    base = _session(tmp_path, 'b', [_stream(i) for i in range(6)])
    cand = _session(tmp_path, 'c', [make_case(f'Stream %$repeat_no={i}', result='fail', fail_phase='sanity')
                                    for i in range(6)])
    out = tmp_path / 'cmp'
    assert cli.main(['compare', base, cand, '-o', str(out)]) == 1
    printed = capsys.readouterr().out
    assert 'REGRESSION (lost: failed in every candidate run): Stream' in printed
    md = (out / 'report.md').read_text()
    assert 'lost: failed in every candidate run' in md and '1 REGRESSION' in md
    assert 'lost' in (out / 'index.html').read_text()


def test_values_outside_the_reference_are_compared(tmp_path, capsys):
    base = _session(tmp_path, 'b', [_stream(i, 1000 + i) for i in range(6)])
    cand = _session(tmp_path, 'c', [_stream(i, 300 + i, 'fail', 'performance') for i in range(6)])
    out = tmp_path / 'cmp'
    assert cli.main(['compare', base, cand, '-o', str(out)]) == 1
    md = (out / 'report.md').read_text()
    assert '| REGRESSION |' in md and '| 0/6 |' in md      # the cell, and its runs outside the reference


def test_a_disjoint_candidate_is_exit_2_naming_both_sides(tmp_path, capsys):
    base = _session(tmp_path, 'b', [_stream(i) for i in range(3)])
    cand = _session(tmp_path, 'c', [_stream(i, name='Other') for i in range(3)])
    assert cli.main(['compare', base, cand, '-o', str(tmp_path / 'cmp')]) == 2
    err = capsys.readouterr().err
    assert 'nothing to compare: no test case in common' in err and 'Stream' in err and 'Other' in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / 'cmp').exists()


def test_a_case_lost_beside_a_steady_one_is_a_regression(tmp_path, capsys):
    base = _session(tmp_path, 'b', [_stream(i) for i in range(3)] + [_stream(i, name='Gone') for i in range(3)])
    cand = _session(tmp_path, 'c', [_stream(i) for i in range(3)])
    assert cli.main(['compare', base, cand, '-o', str(tmp_path / 'cmp')]) == 1
    assert 'REGRESSION (lost: absent from the candidate): Gone' in capsys.readouterr().out


@pytest.mark.parametrize('query', ['stored:', 'stored:   '])
def test_a_stored_input_needs_a_query(tmp_path, query, capsys):
    assert cli.main(['report', query, '-o', str(tmp_path / 'r')]) == 2
    assert 'no query after stored:' in capsys.readouterr().err
