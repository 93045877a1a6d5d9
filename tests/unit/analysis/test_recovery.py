"""The analysis recovers what the synthetic generator put in."""
import json

import numpy as np
import pytest

from hpcval.analysis import ingest, report, scaling, stability
from benchmarks.synth_reports import generate


@pytest.fixture(scope='module')
def known(tmp_path_factory):
    out = tmp_path_factory.mktemp('synth')
    generate(out, node_counts=(1, 2, 4, 8), runs=12, serial_fraction=0.1, cov=0.02,
             variants=[{'mpi': 'host'}, {'mpi': 'bundled'}], variant_factors=[1.0, 1.25],
             fail_rate=0.02, bad_node='nid0005', bad_node_fail_rate=0.7, seed=11)
    return out, json.loads((out / 'truth.json').read_text())


def test_scaling_recovers_efficiency_and_serial_fraction(known):
    out, truth = known
    table = scaling.scaling(ingest.load([out]).frame)
    host = table[table['series'].str.contains('mpi=host') & (table['pvar'] == 'time')].set_index('num_nodes')
    for cell in truth['cells']:
        if cell['variant'] == {'mpi': 'host'}:
            assert host.loc[cell['num_nodes'], 'efficiency'] == pytest.approx(cell['efficiency'], rel=0.04)
    assert host['amdahl_serial_fraction'].iloc[0] == pytest.approx(0.1, abs=0.02)


def test_variant_ratio_recovered(known):
    out, _ = known
    r = scaling.variant_ratios(ingest.load([out]).frame)
    r = r[r['pvar'] == 'time']
    assert np.allclose(r['ratio'], 1 / 1.25, rtol=0.03)
    assert ((r['ci_lo'] < 0.8) & (r['ci_hi'] > 0.8)).mean() >= 0.75


def test_bad_node_found_and_only_it(known):
    out, truth = known
    nodes = stability.suspicious_nodes(ingest.load([out]).frame)
    assert list(nodes.loc[nodes['suspicious'], 'node']) == [truth['params']['bad_node']]


def test_regression_detected_end_to_end(tmp_path):
    base, cand = tmp_path / 'base', tmp_path / 'cand'
    generate(base, node_counts=(1, 2), runs=10, cov=0.03, seed=1)
    generate(cand, node_counts=(1, 2), runs=10, cov=0.03, seed=2, base_time=110.0)
    rep = report.build_compare(ingest.load([base]), ingest.load([cand]))
    assert rep.summary['REGRESSION'] == 2
    index = report.render(rep, tmp_path / 'cmp')
    html = index.read_text()
    assert 'REGRESSION' in html and 'data:image/png;base64,' in html
    assert (tmp_path / 'cmp' / 'tables' / 'verdicts.csv').exists()
