import numpy as np
import pandas as pd
import pytest

from hpcval.analysis import stability


def _cases(n_ok, n_fail, nodes='n1,n2', phase='run', check='App'):
    rows = []
    for i in range(n_ok + n_fail):
        ok = i < n_ok
        rows.append({'system': 's', 'partition': 'p', 'environ': 'e', 'check': check,
                     'display_name': f'{check} %num_nodes=2 %$repeat_no={i}', 'num_nodes': 2,
                     'pvar': 'time' if ok else None, 'value': 10.0 + i if ok else np.nan, 'unit': 's',
                     'better': 'lower', 'result': 'pass' if ok else 'fail',
                     'fail_phase': None if ok else phase, 'session_uuid': 'u', 'run_index': 0,
                     'job_nodelist': nodes})
    return pd.DataFrame(rows)


def test_failures_with_exact_ci_and_phase_split():
    f = pd.concat([_cases(8, 1, phase='run'), _cases(0, 1, phase='sanity').assign(
        display_name='App %num_nodes=2 %$repeat_no=99')])
    t = stability.failures(f).iloc[0]
    assert (t['runs'], t['failures']) == (10, 2)
    assert t['fail_ci_lo'] == pytest.approx(0.02521, abs=1e-5) and t['fail_ci_hi'] == pytest.approx(0.5561, abs=1e-4)
    assert t['by_phase'] == 'run: 1, sanity: 1'


def test_variability_counts_outliers():
    f = _cases(8, 0)
    f.loc[7, 'value'] = 100.0
    v = stability.variability(f).iloc[0]
    assert v['runs'] == 8 and v['outliers'] == 1 and v['max'] == 100.0 and v['min'] == 10.0
    assert v['cov'] > v['robust_cov']


def test_bad_node_stands_out():
    good = pd.concat([_cases(20, 0, nodes=f'n{i},n{i + 1}', check=f'C{i}') for i in range(1, 8)])
    bad = _cases(2, 10, nodes='n9,n10', check='Bad')
    nodes = stability.suspicious_nodes(pd.concat([good, bad])).set_index('node')
    assert nodes.loc['n9', 'suspicious'] and nodes.loc['n10', 'suspicious']
    assert not nodes.loc['n3', 'suspicious']


def test_a_job_the_scheduler_did_not_place_is_placed_by_its_hosts():
    # ReFrame's squeue backend leaves job_nodelist 'None' for a job that ended
    # between two polls; the program's own hosts line says where it ran
    bad = _cases(0, 6, nodes='n1,n2')
    good = _cases(6, 0, nodes='None').assign(hosts='n1')
    frame = pd.concat([bad.assign(hosts='n1,n2'), good.assign(display_name=good['display_name'] + ' one')],
                      ignore_index=True)
    sn = stability.suspicious_nodes(frame).set_index('node')
    assert 'None' not in sn.index and sn.loc['n1', 'cases'] == 12
    assert sn.loc['n2', 'suspicious'] and not sn.loc['n1', 'suspicious']
