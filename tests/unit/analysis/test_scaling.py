import math

import pandas as pd
import pytest

from hpcval.analysis import scaling


def _frame(times, pvar='time', unit='s', better='lower', extra=None):
    '''times: {nodes: [values]} -> a minimal tidy frame.'''
    rows = []
    for n, values in times.items():
        for i, v in enumerate(values):
            rows.append({'system': 's', 'partition': 'p', 'environ': 'e', 'check': 'App',
                         'display_name': f'App %num_nodes={n} %$repeat_no={i}', 'num_nodes': n,
                         'pvar': pvar, 'value': v, 'unit': unit, 'better': better, 'result': 'pass',
                         'session_uuid': 'u', 'run_index': 0, **(extra or {})})
    return pd.DataFrame(rows)


def test_strong_scaling_by_hand():
    # T(1) = 100, T(2) = 60, T(4) = 40
    t = scaling.scaling(_frame({1: [100] * 6, 2: [60] * 6, 4: [40] * 6})).set_index('num_nodes')
    assert t.loc[2, 'speedup'] == pytest.approx(100 / 60)
    assert t.loc[2, 'efficiency'] == pytest.approx(100 / (2 * 60))         # 0.833
    assert t.loc[4, 'efficiency'] == pytest.approx(100 / (4 * 40))         # 0.625
    # Karp-Flatt at p = 4, S = 2.5: (0.4 - 0.25) / 0.75 = 0.2
    assert t.loc[4, 'karp_flatt'] == pytest.approx(0.2)
    assert math.isnan(t.loc[1, 'karp_flatt'])
    assert t.loc[1, 'max_nodes_at_floor'] == 2                               # 0.833 >= 0.75 > 0.625
    assert t.loc[4, 'base_median'] == 100 and t.loc[4, 'node_hours_per_run'] == pytest.approx(4 * 40 / 3600)
    assert not t['too_few_runs'].any()


def test_amdahl_fit_recovers_serial_fraction():
    # T(p) = 10 + 90/p exactly: serial fraction 0.1
    t = scaling.scaling(_frame({1: [100.0] * 6, 2: [55.0] * 6, 4: [32.5] * 6, 8: [21.25] * 6}))
    assert t['amdahl_serial_fraction'].iloc[0] == pytest.approx(0.1)
    assert t['amdahl_a'].iloc[0] == pytest.approx(10) and t['amdahl_b'].iloc[0] == pytest.approx(90)


def test_rates_and_weak_mode():
    # a rate that doubles with nodes: perfect strong scaling
    t = scaling.scaling(_frame({2: [10.0] * 6, 4: [20.0] * 6}, pvar='rate', unit='samples/s',
                               better='higher')).set_index('num_nodes')
    assert t.loc[4, 'speedup'] == pytest.approx(2) and t.loc[4, 'efficiency'] == pytest.approx(1)
    assert t.loc[4, 'base_nodes'] == 2
    # weak, time: E = T(N0) / T(N)
    w = scaling.scaling(_frame({1: [10.0] * 6, 4: [12.5] * 6}), mode='weak').set_index('num_nodes')
    assert w.loc[4, 'efficiency'] == pytest.approx(0.8) and w.loc[4, 'mode'] == 'weak'


def test_declared_mode_and_too_few_runs():
    t = scaling.scaling(_frame({1: [10.0] * 3, 2: [10.0] * 3}, extra={'scaling_mode': 'weak'}))
    assert (t['mode'] == 'weak').all() and t['too_few_runs'].all() and t['ci_lo'].isna().all()


def test_single_node_count_gives_no_scaling_rows():
    assert scaling.scaling(_frame({1: [1.0] * 6})).empty


def test_sentence():
    t = scaling.scaling(_frame({1: [100] * 6, 2: [60] * 6, 4: [40] * 6}))
    assert scaling.sentence(t) == ('scales to 2 nodes at ≥ 75% parallel efficiency '
                                   '(strong scaling; measured up to 4 nodes)')


def test_variant_ratios_host_over_bundled():
    f = pd.concat([_frame({1: [80.0 + i for i in range(6)]}, extra={'mpi': 'host'}),
                   _frame({1: [100.0 + i for i in range(6)]}, extra={'mpi': 'bundled'})])
    f['display_name'] = f['display_name'] + ' %mpi=' + f['mpi']
    r = scaling.variant_ratios(f)
    assert len(r) == 1
    row = r.iloc[0]
    assert (row['numerator'], row['denominator']) == ('host', 'bundled')
    assert row['ratio'] == pytest.approx(82.5 / 102.5)
    assert row['ci_lo'] < row['ratio'] < row['ci_hi']


def test_variant_ratios_keep_each_series_apart_and_use_its_own_headline():
    import pandas as pd
    from hpcval.analysis import proposal, scaling
    rows = []
    for fabric, lat, bw in (('tcp', 10.0, 120.0), ('hsn', 8.0, 1500.0)):
        for rep in range(3):
            base = dict(system='vc', partition='vc', environ='e', check='MpiMicrobench', num_nodes=2,
                        runtime='bare', mpi='host', fabric=fabric, result='pass', run_index=rep)
            rows.append(dict(base, case=f'MpiMicrobench %num_nodes=2 %fabric={fabric} %benchmark=latency',
                             pvar='latency_8B', value=lat + rep * 0.1, unit='us', better='lower'))
            rows.append(dict(base, case=f'MpiMicrobench %num_nodes=2 %fabric={fabric} %benchmark=allreduce',
                             pvar='latency_8B', value=100 * lat + rep, unit='us', better='lower'))
            rows.append(dict(base, case=f'MpiMicrobench %num_nodes=2 %fabric={fabric} %benchmark=bw',
                             pvar='bw_4MiB', value=bw + rep, unit='MB/s', better='higher'))
    t = scaling.variant_ratios(pd.DataFrame(rows), pick=proposal.headline_pvar)
    got = {(r.family, r.pvar): r.ratio for r in t.itertuples()}
    assert got.keys() == {('MpiMicrobench %benchmark=latency', 'latency_8B'),
                          ('MpiMicrobench %benchmark=allreduce', 'latency_8B'),
                          ('MpiMicrobench %benchmark=bw', 'bw_4MiB')}
    assert got[('MpiMicrobench %benchmark=bw', 'bw_4MiB')] == pytest.approx(1501 / 121)
    assert got[('MpiMicrobench %benchmark=latency', 'latency_8B')] == pytest.approx(8.1 / 10.1)
    assert set(t['numerator'] + '/' + t['denominator']) == {'hsn/tcp'}


def test_values_outside_the_reference_scale_and_are_counted():
    from hpcval.analysis.cases import outside_reference, usable
    f = _frame({1: [100] * 6, 2: [60] * 6})
    slow = f['num_nodes'] == 2
    f.loc[slow, 'result'], f.loc[slow, 'fail_phase'] = 'fail', 'performance'   # ReFrame: outside the reference
    f['usable'], f['outside_ref'] = usable(f), outside_reference(f)
    t = scaling.scaling(f).set_index('num_nodes')
    assert t.loc[2, 'runs'] == 6 and t.loc[2, 'speedup'] == pytest.approx(100 / 60)
    assert (t.loc[1, 'outside_ref'], t.loc[2, 'outside_ref']) == (0, 6)


def _fabric_rows(nodes):
    rows = []
    for n in nodes:
        for fabric, bw in (('tcp', 110.0), ('hsn', 1500.0)):
            for rep in range(3):
                rows.append(dict(system='vc', partition='vc', environ='e', check='MpiMicrobench', num_nodes=n,
                                 runtime='bare', mpi='host', fabric=fabric, result='pass', run_index=rep,
                                 case=f'MpiMicrobench %num_nodes={n} %fabric={fabric} %benchmark=bw',
                                 pvar='bw_4MiB', value=(bw if n > 1 else 6000.0) + rep, unit='MB/s',
                                 better='higher', link_MBps=125.0 if fabric == 'tcp' else None))
    return rows


def test_no_fabric_ratio_inside_one_node():
    '''On one node shared memory carries the bytes whatever fabric was asked for.'''
    import pandas as pd
    from hpcval.analysis import proposal, scaling
    t = scaling.variant_ratios(pd.DataFrame(_fabric_rows([1, 2])), pick=proposal.headline_pvar)
    assert list(t['num_nodes']) == [2]
    assert t.iloc[0]['ratio'] == pytest.approx(1501 / 111)


def test_network_table_says_the_path_and_the_share_of_the_declared_link():
    import pandas as pd
    from hpcval.analysis import microbench, proposal
    t = microbench.vs_nodes(pd.DataFrame(_fabric_rows([1, 2])), proposal.headline_pvar)
    t = t.set_index([t['series'].str.extract(r'fabric=(\w+)')[0], 'num_nodes'])
    assert t.loc[('tcp', 1), 'path'] == 'within one node' and t.loc[('tcp', 2), 'path'] == 'between nodes'
    assert t.loc[('tcp', 2), 'pct_of_link'] == pytest.approx(100 * 111 / 125)
    # no declared rate (hsn), or inside one node: no share
    assert t.loc[('hsn', 2), 'pct_of_link'] != t.loc[('hsn', 2), 'pct_of_link']
    assert t.loc[('tcp', 1), 'pct_of_link'] != t.loc[('tcp', 1), 'pct_of_link']


def test_amdahl_serial_fraction_stays_in_0_1_when_the_series_slows_down():
    # three ranks on two cores: slower at 3 than at 1 (the demo's GAN); plain
    # least squares gave a serial fraction of 1.39
    a, b, serial = scaling.amdahl_fit([1, 2, 3], [1 / 47.1, 1 / 70.8, 1 / 32.8])
    assert 0.0 <= serial <= 1.0 and a >= 0 and b >= 0
    _, _, steady = scaling.amdahl_fit([1, 2, 4], [10 + 90, 10 + 45, 10 + 22.5])
    assert steady == pytest.approx(0.1)


def test_network_tables_quote_the_declared_figure_not_the_first_by_name():
    '''bw_128B sorts before bw_1MiB: the tables must follow the check's scaling_pvar.'''
    import pandas as pd
    from hpcval.analysis import microbench, proposal
    rows = []
    for r in _fabric_rows([1, 2]):
        for pvar, scale in (('bw_1B', 0.001), ('bw_128B', 0.1), ('bw_1MiB', 1.0)):
            rows.append(dict(r, pvar=pvar, value=r['value'] * scale, scaling_pvar='bw_1MiB'))
    frame = pd.DataFrame(rows)
    assert set(microbench.vs_nodes(frame, proposal.headline_pvar)['pvar']) == {'bw_1MiB'}
    assert set(scaling.variant_ratios(frame, pick=proposal.headline_pvar)['pvar']) == {'bw_1MiB'}


def test_the_stability_table_quotes_each_cases_declared_figure(tmp_path):
    from hpcval.analysis import ingest, report
    from runreports import make_case, report as runreport, write
    cases = []
    for i in range(3):
        for bench, pvars, declared in (('latency', {'latency_1B': 1.0, 'latency_8B': 1.1}, 'latency_8B'),
                                       ('bw', {'bw_1B': 1.0, 'bw_128B': 90.0, 'bw_1MiB': 900.0}, 'bw_1MiB')):
            cases.append(make_case(f'MpiMicrobench %num_nodes=2 %benchmark={bench}',
                                   {k: (v + i, 'us' if bench == 'latency' else 'MB/s') for k, v in pvars.items()},
                                   num_nodes=2, benchmark=bench, role='network', scaling_pvar=declared, run_index=i))
    rep = report.build(ingest.load([write(tmp_path / 'r.json', runreport(cases))]), 't')
    assert set(rep.extra['variability_headline']['pvar']) == {'latency_8B', 'bw_1MiB'}
    assert set(rep.tables['network_vs_nodes']['pvar']) == {'latency_8B', 'bw_1MiB'}


def _pair_rows(pairs):
    '''pairs: {hosts: bandwidth}; three runs each, one point-to-point bw series.'''
    import pandas as pd
    rows = []
    for hosts, bw in pairs.items():
        for rep in range(3):
            rows.append(dict(system='vc', partition='vc', environ='e', check='MpiMicrobench', num_nodes=2,
                             benchmark='bw', hosts=hosts, case='MpiMicrobench %num_nodes=2 %benchmark=bw',
                             pvar='bw_1MiB', value=bw + rep, unit='MB/s', better='higher', result='pass',
                             run_index=rep, scaling_pvar='bw_1MiB'))
    return pd.DataFrame(rows)


def test_the_slow_link_is_the_suspect_pair():
    from hpcval.analysis import executive, microbench, proposal
    t = microbench.by_pair(_pair_rows({'node1,node2': 1500.0, 'node1,node3': 1480.0, 'node2,node3': 900.0}),
                           proposal.headline_pvar).set_index('pair')
    assert list(t.index[t['suspect']]) == ['node2,node3']
    assert t.loc['node1,node3', 'median'] == 1481.0 and t.loc['node1,node3', 'runs'] == 3
    import pandas as pd
    (line,) = executive.findings(pd.DataFrame(), t.reset_index())
    assert line.startswith('Suspect link node2,node3: bw_1MiB 901') and 'of the median of 3 node pairs' in line


def test_one_pair_is_no_suspect():
    from hpcval.analysis import microbench, proposal
    t = microbench.by_pair(_pair_rows({'node1,node2': 1500.0}), proposal.headline_pvar)
    assert len(t) == 1 and t['pairs'].iloc[0] == 1 and not t['suspect'].any()
