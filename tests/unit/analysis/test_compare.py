import numpy as np
import pandas as pd
import pytest

from hpcval.analysis import compare


@pytest.mark.parametrize('args,verdict', [
    # ratio, 95 % CI, 90 % CI, p_holm, better
    ((1.10, 1.07, 1.13, 1.08, 1.12, 0.001, 'lower'), 'REGRESSION'),
    ((0.90, 0.87, 0.93, 0.88, 0.92, 0.001, 'lower'), 'IMPROVEMENT'),
    ((0.90, 0.87, 0.93, 0.88, 0.92, 0.001, 'higher'), 'REGRESSION'),      # a rate fell 10 %
    ((1.10, 1.07, 1.13, 1.08, 1.12, 0.20, 'lower'), 'INCONCLUSIVE'),      # not significant
    ((1.03, 1.01, 1.05, 1.015, 1.045, 0.001, 'lower'), 'EQUIVALENT'),     # real but inside delta
    ((1.10, 0.98, 1.22, 1.00, 1.20, 0.01, 'lower'), 'INCONCLUSIVE'),      # CI crosses 1
    ((1.00, 0.97, 1.03, 0.98, 1.02, 0.9, 'lower'), 'EQUIVALENT'),
])
def test_classify(args, verdict):
    assert compare.classify(*args) == verdict


def test_strict_asks_the_whole_ci_beyond_delta():
    args = (1.10, 1.04, 1.16, 1.05, 1.15, 0.001, 'lower')
    assert compare.classify(*args) == 'REGRESSION'
    assert compare.classify(*args, strict=True) == 'INCONCLUSIVE'


def _frame(values_by_case, session='s'):
    rows = []
    for (case, nodes), values in values_by_case.items():
        for i, v in enumerate(values):
            rows.append({'system': 's', 'partition': 'p', 'environ': 'e', 'check': case,
                         'display_name': f'{case} %num_nodes={nodes} %$repeat_no={i}', 'num_nodes': nodes,
                         'pvar': 'time', 'value': v, 'unit': 's', 'better': 'lower',
                         'result': 'pass' if np.isfinite(v) else 'fail', 'fail_phase': None,
                         'session_uuid': session, 'run_index': 0})
    return pd.DataFrame(rows)


def test_compare_end_to_end_with_one_sided_cases_and_failures():
    rng = np.random.default_rng(1)

    def noise():
        return np.exp(rng.normal(0, 0.02, 12))
    base = _frame({('A', 1): 100 * noise(), ('B', 1): 50 * noise(), ('OnlyBase', 1): 10 * noise(),
                   ('C', 1): list(20 * noise()) + [np.nan] * 0})
    cand = _frame({('A', 1): 120 * noise(), ('B', 1): 50 * noise(), ('OnlyCand', 1): 10 * noise(),
                   ('C', 1): list(20 * noise()) + [np.nan] * 8}, session='t')
    table, one_side, fails = compare.compare(base, cand)
    verdict = table.set_index('check')['verdict']
    assert verdict['A'] == 'REGRESSION' and verdict['B'] == 'EQUIVALENT'
    assert set(one_side['side']) == {'baseline only', 'candidate only'}
    assert set(one_side['case'].str.split().str[0]) == {'OnlyBase', 'OnlyCand'}
    c = fails.set_index(fails['case'].str.split().str[0]).loc['C']
    assert (c['fail_base'], c['fail_cand'], c['runs_cand']) == (0, 8, 20) and c['fail_p'] < 0.05
    assert compare.summary(table)['REGRESSION'] == 1
    assert table['p_holm'].ge(table['p']).all()


def test_inconclusive_says_how_many_runs():
    rng = np.random.default_rng(2)
    base = _frame({('A', 1): 100 * np.exp(rng.normal(0, 0.10, 5))})
    cand = _frame({('A', 1): 104 * np.exp(rng.normal(0, 0.10, 5))}, session='t')
    table, _, _ = compare.compare(base, cand)
    row = table.iloc[0]
    assert row['verdict'] == 'INCONCLUSIVE' and row['runs_needed'] > 5
