"""The GAN scaling table and the small-file I/O table, on frames built by hand."""
import math

import pandas as pd
import pytest

from hpcval.analysis import gan, smallfile


def _gan_frame(rates, mode='strong', result='pass', first_repeat=0):
    '''rates: {ranks: [samples/s per run]} -> tidy rows of GanTraining cases.'''
    rows = []
    for r, values in rates.items():
        for i, v in enumerate(values):
            case = dict(system='s', partition='p', environ='e', check='GanTraining', workload='gan_training',
                        display_name=f'GanTraining %mode={mode} %ranks_per_node={r} %$repeat_no={first_repeat + i}',
                        session_uuid='u', run_index=0, num_nodes=1, ranks_per_node=r, ranks=r, mode=mode,
                        global_batch=8, result=result)
            for pvar, value in (('samples_per_s', v), ('step_time', 8 / v), ('allreduce_share', 2.0 * r)):
                rows.append({**case, 'pvar': pvar, 'value': value})
    return pd.DataFrame(rows)


def test_speedup_and_efficiency_against_the_smallest_rank_count():
    t = gan.table(_gan_frame({1: [10.0] * 6, 2: [18.0] * 6, 4: [30.0] * 6})).set_index('ranks')
    assert t.loc[2, 'speedup'] == pytest.approx(1.8) and t.loc[2, 'efficiency'] == pytest.approx(0.9)
    assert t.loc[4, 'efficiency'] == pytest.approx(30 / (4 * 10))
    assert t.loc[4, 'step_time_s'] == pytest.approx(8 / 30) and t.loc[4, 'allreduce_share_pct'] == 8.0
    # six runs give a 95 % order-statistic CI; it holds the median
    assert t.loc[2, 'ci_lo'] <= t.loc[2, 'samples_per_s'] <= t.loc[2, 'ci_hi']
    assert (t['runs'] == 6).all() and (t['failures'] == 0).all()


def test_strong_and_weak_are_separate_series_and_failures_are_counted():
    frame = pd.concat([_gan_frame({1: [10.0] * 3, 2: [15.0] * 3}),
                       _gan_frame({1: [10.0] * 3, 2: [19.0] * 3}, mode='weak'),
                       _gan_frame({2: [math.nan]}, mode='weak', result='fail', first_repeat=3)], ignore_index=True)
    t = gan.table(frame).set_index(['mode', 'ranks'])
    assert t.loc[('strong', 2), 'efficiency'] == pytest.approx(0.75)
    assert t.loc[('weak', 2), 'efficiency'] == pytest.approx(0.95)
    assert t.loc[('weak', 2), 'failures'] == 1 and t.loc[('weak', 2), 'runs'] == 3
    assert math.isnan(t.loc[('weak', 2), 'ci_lo'])            # three runs: too few for a CI


def test_a_node_sweep_is_one_series():
    frame = _gan_frame({1: [4.0] * 3, 2: [6.0] * 3})
    frame['num_nodes'] = frame['ranks']                 # one rank per node, 1 and 2 nodes
    frame['ranks_per_node'] = 1
    t = gan.table(frame)
    assert t['variant'].nunique() == 1 and list(t['num_nodes']) == [1, 2]
    assert t.set_index('ranks').loc[2, 'speedup'] == pytest.approx(1.5)


def test_no_gan_rows_no_table():
    assert gan.table(pd.DataFrame({'workload': ['matmul'], 'value': [1.0]})).empty


def _io_frame(rates):
    '''rates: {target: creation rate}; stat/read/removal are 2x/3x/4x it.'''
    rows = []
    for target, create in rates.items():
        for op, k in (('creation', 1), ('stat', 2), ('read', 3), ('removal', 4)):
            rows.append(dict(system='s', partition='p', environ='e', check='SmallfileIO',
                             workload='smallfile_io', display_name=f'SmallfileIO %target={target}',
                             session_uuid='u', run_index=0, num_nodes=1, target=target,
                             target_path=f'/{target}', planned_files=1200, result='pass',
                             pvar=f'file_{op}', value=create * k))
            rows.append({**rows[-1], 'pvar': f'file_{op}_stddev', 'value': 1.0})
    return pd.DataFrame(rows)


def test_io_table_orders_targets_and_compares_with_the_ramdisk():
    t = smallfile.table(_io_frame({'home': 40_000.0, 'ramdisk': 200_000.0, 'work': 50_000.0}))
    assert list(t['target']) == ['ramdisk', 'work', 'home']
    home = t.set_index('target').loc['home']
    assert home['creation'] == 40_000 and home['removal'] == 160_000       # the mean, not the stddev
    assert home['creation_vs_ramdisk'] == pytest.approx(0.2) and home['files_per_case'] == 1200
    assert t.set_index('target').loc['ramdisk', 'stat_vs_ramdisk'] == 1.0


def test_io_table_without_a_ramdisk_has_no_ratio():
    t = smallfile.table(_io_frame({'work': 50_000.0}))
    assert len(t) == 1 and math.isnan(t['creation_vs_ramdisk'].iloc[0])


def test_io_rates_per_node_divide_the_aggregate_by_the_nodes():
    f = _io_frame({'ramdisk': 300_000.0, 'work': 90_000.0})
    f['num_nodes'] = 3
    t = smallfile.table(f).set_index('target')
    assert t.loc['work', 'num_nodes'] == 3
    assert t.loc['work', 'creation_per_node'] == pytest.approx(30_000.0)
    assert t.loc['ramdisk', 'read_per_node'] == pytest.approx(300_000.0)
