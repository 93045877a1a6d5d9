"""Strong and weak scaling per check x variant x pvar, against the smallest node count.

Definitions (docs/statistics.md), with N0 the smallest node count measured,
p = N / N0, T a time (lower is better) and R a rate (higher is better):
  strong: S = T(N0)/T(N) or R(N)/R(N0);  E = S * N0 / N
  weak:   E = T(N0)/T(N) (time) or (R(N)/N) / (R(N0)/N0) (rate)
  Karp-Flatt e = (1/S - 1/p) / (1 - 1/p)
  Amdahl fit T(p) = a + b/p by least squares on the medians; serial fraction a/(a+b)
  node-hours per run = N x the job's median wall time (job_seconds) / 3600
All central values are medians with 95 % order-statistic CIs.
"""
import math
import re

import numpy as np
import pandas as pd

from hpcval.analysis import stats
from hpcval.analysis.cases import columns, measured, strip_token, with_case
from hpcval.reframe_facts import NODES_TOKEN

DEFAULT_FLOOR = 0.75
TIME_TO_HOURS = {'s': 1 / 3600, 'sec': 1 / 3600, 'ms': 1 / 3.6e6, 'us': 1 / 3.6e9, 'min': 1 / 60, 'h': 1.0}
GROUP = ['system', 'partition', 'environ', 'check', 'series', 'pvar']


def with_series(frame):
    '''``series``: the case without its node count, so node counts line up.'''
    if 'series' in frame.columns:
        return frame
    frame = with_case(frame)
    frame['series'] = strip_token(frame['case'], NODES_TOKEN)
    return frame


def karp_flatt(speedup, p):
    if p <= 1 or not speedup or not math.isfinite(speedup):
        return math.nan
    return (1 / speedup - 1 / p) / (1 - 1 / p)


def amdahl_fit(p, t):
    '''Non-negative least squares T(p) = a + b/p, a, b >= 0 (scipy.optimize.nnls);
    returns (a, b, serial_fraction = a / (a + b)), so the fraction lies in [0, 1].
    A series that slows down with more nodes (contention) comes out at 1: no
    parallel part Amdahl's law could describe.'''
    from scipy.optimize import nnls
    p, t = np.asarray(p, float), np.asarray(t, float)
    if len(p) < 2 or not np.isfinite(t).all():
        return math.nan, math.nan, math.nan
    (a, b), _ = nnls(np.column_stack([np.ones_like(p), 1 / p]), t)
    total = a + b
    return float(a), float(b), float(a / total) if total else math.nan


def efficiency(mode, better, v0, v, p):
    '''Parallel efficiency of value ``v`` at p = N / N0 against ``v0`` at N0 (module docstring).'''
    speedup = v0 / v if better == 'lower' else v / v0
    return speedup / p if mode == 'strong' else (v0 / v if better == 'lower' else speedup / p)


def _mode_of(g, override):
    if override:
        return override
    if 'scaling_mode' in g.columns:
        modes = g['scaling_mode'].dropna().astype(str)
        modes = modes[modes.isin(['strong', 'weak'])]
        if not modes.empty:
            return modes.iloc[0]
    return 'strong'


def declared_pvar(g):
    '''The figure of merit the check declares (its ``scaling_pvar``), or ''.'''
    if 'scaling_pvar' not in g.columns:
        return ''
    named = [str(v) for v in g['scaling_pvar'].dropna().unique() if str(v)]
    return named[0] if named else ''


def by_nodes(frame):
    '''Median, 95 % CI, runs and CoV per group x node count: how a number moves
    with the node count, for checks that are not strong- or weak-scaling
    workloads (a latency, a collective, a per-node rate): no speedup.'''
    f = measured(columns(with_series(frame), GROUP + ['num_nodes', 'value', 'unit', 'better', 'result',
                                                       'usable']))
    f = f[f['num_nodes'].notna()]
    rows = []
    for key, g in f.groupby(GROUP, sort=True, observed=True):
        for n, v in g.groupby('num_nodes')['value']:
            med, lo, hi, cnt = stats.median_ci(v.to_numpy(float))
            rows.append({**dict(zip(GROUP, key)), 'num_nodes': int(n), 'unit': g['unit'].iloc[0],
                         'better': g['better'].iloc[0], 'runs': cnt, 'median': med, 'ci_lo': lo, 'ci_hi': hi,
                         'too_few_runs': cnt < stats.TOO_FEW_RUNS, 'cov': stats.cov(v.to_numpy(float))})
    return pd.DataFrame(rows)


def scaling(frame, mode=None, floor=DEFAULT_FLOOR):
    '''One row per group x node count; groups with a single node count are left out.'''
    f = measured(columns(with_series(frame), GROUP + ['num_nodes', 'value', 'unit', 'better', 'result',
                                                       'scaling_mode', 'scaling_pvar', 'usable', 'outside_ref',
                                                       'job_seconds']))
    f = f[f['num_nodes'].notna() & f['better'].isin(['lower', 'higher'])]
    rows = []
    for key, g in f.groupby(GROUP, sort=True):
        nodes = sorted(g['num_nodes'].unique())
        if len(nodes) < 2:
            continue
        better, unit = g['better'].iloc[0], g['unit'].iloc[0]
        m = _mode_of(g, mode)
        by_n = {n: v.to_numpy(float) for n, v in g.groupby('num_nodes')['value']}
        outside = (g.groupby('num_nodes')['outside_ref'].sum().to_dict() if 'outside_ref' in g.columns
                   else {})
        per_n = {n: stats.median_ci(by_n[n]) for n in nodes}
        n0 = nodes[0]
        v0 = per_n[n0][0]
        # time-like view for the Amdahl fit: a rate becomes time per unit of work
        t_med = {n: (per_n[n][0] if better == 'lower' else 1 / per_n[n][0]) for n in nodes}
        a, b, serial = amdahl_fit([n / n0 for n in nodes], [t_med[n] for n in nodes])
        declared = declared_pvar(g)
        # the job's own wall time (ProvenanceMixin) is what an allocation pays
        job_s = (pd.to_numeric(g['job_seconds'], errors='coerce').groupby(g['num_nodes']).median().to_dict()
                 if 'job_seconds' in g.columns else {})
        for n in nodes:
            med, lo, hi, cnt = per_n[n]
            p = n / n0
            speedup = v0 / med if better == 'lower' else med / v0
            eff = efficiency(m, better, v0, med, p)
            hours = TIME_TO_HOURS.get(str(unit))
            if math.isfinite(job_s.get(n, math.nan)):
                node_hours = n * job_s[n] / 3600
            else:
                node_hours = n * med * hours if hours and better == 'lower' else math.nan
            rows.append({**dict(zip(GROUP, key)), 'mode': m, 'unit': unit, 'better': better,
                         'num_nodes': int(n), 'runs': cnt, 'median': med, 'ci_lo': lo, 'ci_hi': hi,
                         'too_few_runs': cnt < stats.TOO_FEW_RUNS, 'base_nodes': int(n0), 'base_median': v0,
                         'speedup': speedup, 'efficiency': eff,
                         'karp_flatt': karp_flatt(speedup, p) if m == 'strong' else math.nan,
                         'amdahl_serial_fraction': serial, 'amdahl_a': a, 'amdahl_b': b,
                         'node_hours_per_run': node_hours,
                         'cov': stats.cov(by_n[n]), 'outside_ref': int(outside.get(n, 0)),
                         'scaling_pvar': declared})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out['meets_floor'] = out['efficiency'] >= floor
    ok = out[out['meets_floor']].groupby(GROUP)['num_nodes'].max().rename('max_nodes_at_floor')
    return out.merge(ok, on=GROUP, how='left')


VARIANT_DIMENSIONS = {
    # dimension -> preferred numerator first: the ratio reads "A / B"
    'mpi': ['host', 'bundled'],
    'fabric': None,
    'runtime': None,
}


def _order(dim, values):
    pref = VARIANT_DIMENSIONS[dim]
    if dim == 'runtime':
        return sorted([v for v in values if v != 'bare']) + (['bare'] if 'bare' in values else [])
    if pref:
        return [v for v in pref if v in values] + sorted(v for v in values if v not in pref)
    return sorted(values)


def variant_ratios(frame, seed=0, pvars=None, pick=None):
    '''Median ratios between variants that differ in one dimension, per node count, with bootstrap CIs.

    ``pvars``: {check: pvar} to limit the table to one variable per check;
    ``pick``: rows -> pvar, to keep one variable per series instead (a
    bandwidth series its bandwidth, a latency series its latency).
    '''
    f = measured(columns(with_series(frame), ['system', 'partition', 'environ', 'check', 'series', 'pvar',
                                               'num_nodes', 'value', 'unit', 'better', 'result',
                                               'usable', 'scaling_pvar', *VARIANT_DIMENSIONS]))
    if pvars is not None:
        f = f[f['pvar'] == f['check'].map(pvars)]
    if pick is not None and not f.empty:
        chosen = {series: pick(g.drop_duplicates('pvar')) for series, g in f.groupby('series')}
        f = f[f['pvar'] == f['series'].map(chosen)]
    dims = [d for d in VARIANT_DIMENSIONS if d in f.columns and f[d].astype(str).nunique() > 1]
    rows = []
    for dim in dims:
        others = [d for d in ('runtime', 'mpi', 'fabric') if d in f.columns and d != dim]
        # the case without the compared dimension: variants of one case line up,
        # other parameters (allreduce vs point-to-point latency) stay apart
        f = f.assign(family=strip_token(f['series'], re.compile(rf'\s*%{dim}=\S+')))
        keys = ['system', 'partition', 'environ', 'check', 'family', 'pvar', 'num_nodes'] + others
        for key, g in f.groupby(keys, dropna=False):
            # inside one node no fabric carries the bytes (shared memory does):
            # a fabric ratio there compares a transport with itself
            if dim == 'fabric' and dict(zip(keys, key))['num_nodes'] <= 1:
                continue
            values = _order(dim, [str(v) for v in g[dim].unique()])
            if len(values) < 2:
                continue
            base_val = values[-1]
            b = g.loc[g[dim].astype(str) == base_val, 'value'].to_numpy(float)
            for val in values[:-1]:
                a = g.loc[g[dim].astype(str) == val, 'value'].to_numpy(float)
                ratio, lo, hi = stats.ratio_ci(a, b, seed=seed)
                rows.append({**dict(zip(keys, key)), 'dimension': dim, 'numerator': val,
                             'denominator': base_val, 'ratio': ratio, 'ci_lo': lo, 'ci_hi': hi,
                             'n_num': len(a), 'n_den': len(b), 'better': g['better'].iloc[0],
                             'unit': g['unit'].iloc[0]})
    return pd.DataFrame(rows)


def sentence(rows, floor=DEFAULT_FLOOR):
    '''"scales to N nodes at >= 75 % parallel efficiency" for one group's rows.'''
    best = rows['max_nodes_at_floor'].iloc[0]
    base = rows['base_nodes'].iloc[0]
    mode = rows['mode'].iloc[0]
    top = rows['num_nodes'].max()
    if not math.isfinite(best) or best <= base:
        return (f'does not reach {floor:.0%} {mode}-scaling efficiency beyond {base} node(s) '
                f'(measured up to {top})')
    tail = '' if best == top else f'; measured up to {top} nodes'
    return f'scales to {int(best)} nodes at ≥ {floor:.0%} parallel efficiency ({mode} scaling{tail})'
