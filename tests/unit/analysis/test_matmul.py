"""The GEMM tables: % of the measured peak, and the outlier node from every node's rate."""
import json

import pytest

from hpcval.analysis import ingest, matmul, report as report_mod
from runreports import make_case, report, write


def _case(run, nodes, measured=200.0):
    '''nodes: host -> GEMM rate at n=2048; the check reports the slowest as gflops_n2048.'''
    rates = {h: {'gflops_n2048': r, 'measured_peak': measured + i} for i, (h, r) in enumerate(sorted(nodes.items()))}
    return make_case(f'MatmulBench %num_nodes={len(nodes)} %backend=numpy',
                     {'nominal_peak': (80.0, 'GFLOP/s'), 'measured_peak': (measured, 'GFLOP/s'),
                      'gflops_n2048': (min(nodes.values()), 'GFLOP/s')},
                     workload='matmul', role='kernel', num_nodes=len(nodes), backend='numpy', run_index=run,
                     peak_derivation='2 cores x 2.5 GHz x 16 FLOP/cycle',
                     measured_peak_derivation='2 threads x avx2+fma (4 doubles x 2 FLOP x 12 chains)',
                     node_rates=json.dumps(rates))


def _frame(tmp_path, cases):
    return ingest.load([write(tmp_path / 'report.json', report(cases))]).frame


def test_percent_of_measured_peak_beside_the_nominal(tmp_path):
    frame = _frame(tmp_path, [_case(i, {'node1': 100.0 + i}) for i in range(3)])
    t = matmul.table(frame).iloc[0]
    assert t['gflops_median'] == 101.0
    assert t['pct_of_measured_peak'] == pytest.approx(50.5)
    # the nominal peak, from the base clock, is below what the cores do: over 100 %
    assert t['pct_of_peak'] == pytest.approx(126.25)
    assert 'chains' in t['measured_peak_derivation'] and 'FLOP/cycle' in t['peak_derivation']


def test_the_slow_node_is_the_outlier(tmp_path):
    frame = _frame(tmp_path, [_case(i, {'node1': 100.0, 'node2': 98.0 + i, 'node3': 70.0}) for i in range(3)])
    nodes = matmul.nodes(frame).set_index('node')
    assert list(nodes.index[nodes['outlier']]) == ['node3']
    assert nodes.loc['node2', 'gflops_median'] == 99.0 and nodes.loc['node2', 'runs'] == 3
    assert nodes.loc['node3', 'vs_median_pct'] == pytest.approx(70.0 / 99.0 * 100)
    assert nodes.loc['node1', 'pct_of_measured_peak'] == pytest.approx(50.0)
    s = matmul.spread(matmul.nodes(frame)).iloc[0]
    assert s['nodes'] == 3 and s['slowest_node'] == 'node3' and s['outliers'] == 'node3'
    assert s['spread_pct'] == pytest.approx(30.0)


def test_nodes_within_the_margin_have_no_outlier(tmp_path):
    frame = _frame(tmp_path, [_case(0, {'node1': 100.0, 'node2': 95.0})])
    assert not matmul.nodes(frame)['outlier'].any()
    assert matmul.spread(matmul.nodes(frame)).iloc[0]['spread_pct'] == pytest.approx(5.0)


def test_one_node_has_no_spread_and_no_outlier(tmp_path):
    s = matmul.spread(matmul.nodes(_frame(tmp_path, [_case(0, {'node1': 100.0})]))).iloc[0]
    assert s['nodes'] == 1 and s['spread_pct'] != s['spread_pct'] and s['outliers'] == ''


@pytest.mark.parametrize('bad', ['', 'not json', '[1, 2]', '{"node1": 5}', '{"node1": {"gflops_n2048": "x"}}'])
def test_a_foreign_or_broken_node_rates_gives_no_node_table(tmp_path, bad):
    case = _case(0, {'node1': 100.0})
    case['node_rates'] = bad
    frame = _frame(tmp_path, [case])
    assert matmul.nodes(frame).empty
    assert not matmul.table(frame).empty


def test_the_report_names_the_outlier_and_both_peaks(tmp_path):
    cases = [_case(i, {'node1': 100.0, 'node2': 99.0, 'node3': 60.0}) for i in range(3)]
    rep = report_mod.build(ingest.load([write(tmp_path / 'report.json', report(cases))]), 'gemm')
    html = report_mod.render(rep, tmp_path / 'out').read_text()
    md = (tmp_path / 'out' / 'report.md').read_text()
    for text in (html, md):
        assert 'GEMM outlier node(s) node3' in text
        assert '% of measured peak' in text and '% of nominal' in text
        assert 'avx2+fma (4 doubles x 2 FLOP x 12 chains)' in text
