"""The gate cannot pass a regression hidden in failures: values outside the reference
count, a rise in failures is a verdict, a lost case is a REGRESSION."""
import numpy as np
import pandas as pd
import pytest

from hpcval.analysis import compare
from hpcval.analysis.cases import usable


def _rows(case, values, result='pass', phase=None, session='s', start=0):
    return [{'system': 's', 'partition': 'p', 'environ': 'e', 'check': case,
             'display_name': f'{case} %$repeat_no={start + i}', 'num_nodes': 1, 'pvar': 'bw',
             'value': v, 'unit': 'MB/s', 'better': 'higher', 'result': result, 'fail_phase': phase,
             'session_uuid': session, 'run_index': 0} for i, v in enumerate(values)]


def _frame(*parts):
    f = pd.DataFrame([r for p in parts for r in p])
    f['usable'] = usable(f)
    f['outside_ref'] = (f['result'] == 'fail') & (f['fail_phase'] == 'performance')
    return f


def test_values_outside_the_reference_count_and_are_flagged():
    # ReFrame failed 11 of 12 candidate runs against the reference: a 70 % slowdown
    rng = np.random.default_rng(3)
    base = _frame(_rows('Stream', 1000 * np.exp(rng.normal(0, 0.03, 12))))
    slow = 300 * np.exp(rng.normal(0, 0.03, 12))
    cand = _frame(_rows('Stream', slow[:11], 'fail', 'performance', 't'),
                  _rows('Stream', slow[11:], 'pass', None, 't', start=11))
    table, _, fails = compare.compare(base, cand)
    row = table.iloc[0]
    assert row['verdict'] == 'REGRESSION' and row['n_cand'] == 12
    assert (row['outside_base'], row['outside_cand']) == (0, 11)
    f = fails.iloc[0]
    assert f['verdict'] == 'REGRESSION' and f['why'] == 'failure rate'
    assert compare.summary(table, fails)['REGRESSION'] == 2


def test_a_failure_in_another_phase_is_not_a_measurement():
    f = _frame(_rows('A', [5.0], 'fail', 'sanity'), _rows('A', [5.0], 'fail', 'performance'))
    assert list(f['usable']) == [False, True]


def test_a_rise_in_failures_is_a_regression_and_a_fall_an_improvement():
    base = _frame(_rows('A', [1.0] * 12), _rows('B', [np.nan] * 8, 'fail', 'sanity'), _rows('B', [1.0] * 4))
    cand = _frame(_rows('A', [np.nan] * 9, 'fail', 'run', 't'), _rows('A', [1.0] * 3, session='t'),
                  _rows('B', [1.0] * 12, session='t'))
    fails = compare.failures(base, cand).set_index('check')
    assert fails.loc['A', 'verdict'] == 'REGRESSION' and fails.loc['A', 'fail_p_holm'] < 0.05
    assert fails.loc['B', 'verdict'] == 'IMPROVEMENT'
    assert (fails['fail_p_holm'] >= fails['fail_p']).all()


def test_one_failure_more_is_not_a_verdict():
    base = _frame(_rows('A', [1.0] * 6))
    cand = _frame(_rows('A', [1.0] * 5, session='t'), _rows('A', [np.nan], 'fail', 'sanity', 't'))
    assert compare.failures(base, cand)['verdict'].tolist() == ['']


@pytest.mark.parametrize('cand_rows,why', [
    (lambda: _rows('A', [np.nan] * 3, 'fail', 'sanity', 't'), 'lost: failed in every candidate run'),
    (lambda: _rows('A', [np.nan] * 3, 'skip', None, 't'), 'lost: skipped in every candidate run'),
    (lambda: _rows('Other', [1.0] * 3, session='t'), 'lost: absent from the candidate'),
    (lambda: _rows('A', [0.5] * 3, 'fail', 'performance', 't'), 'lost: outside its reference in every candidate run'),
])
def test_a_case_that_passed_and_is_gone_is_lost(cand_rows, why):
    base = _frame(_rows('A', [1.0] * 3), _rows('Other', [1.0] * 3))
    if why.endswith('absent from the candidate'):
        base = _frame(_rows('A', [1.0] * 3))
    cand = _frame(cand_rows())
    fails = compare.failures(base, cand)
    lost = fails[fails['check'] == 'A'].iloc[0]
    assert lost['verdict'] == 'REGRESSION' and lost['why'] == why
    # only three runs a side: no Fisher test could say so, the rule does
    assert not (fails['fail_p_holm'] < 0.05).any()


def test_a_case_failing_on_both_sides_is_not_lost():
    base = _frame(_rows('A', [np.nan] * 3, 'fail', 'sanity'))
    cand = _frame(_rows('A', [np.nan] * 3, 'fail', 'sanity', 't'))
    assert compare.failures(base, cand)['verdict'].tolist() == ['']


def test_a_new_case_of_the_candidate_is_not_judged():
    base = _frame(_rows('A', [1.0] * 3))
    cand = _frame(_rows('A', [1.0] * 3, session='t'), _rows('New', [np.nan] * 3, 'fail', 'sanity', 't'))
    assert list(compare.failures(base, cand)['check']) == ['A']
