"""The GAN scaling table: samples/s, step time and allreduce share per rank count.

Keyed by the total number of ranks (nodes x ranks per node), so a sweep of
ranks on one node and a sweep of nodes read the same way.  With r0 the
smallest rank count of a series and R the median global samples/s:
speedup S = R(r) / R(r0), efficiency E = S * r0 / r (strong and weak alike:
for a rate, weak efficiency is the per-rank rate against the base's).
"""
import math

import pandas as pd

from hpcval.analysis import stats
from hpcval.analysis.cases import PASSED, per_case
from hpcval.analysis.variants import add_variant, varying

WORKLOAD = 'gan_training'
#: dimensions that make a GAN series: everything that varies but the rank count
_NOT_SERIES = ('num_nodes', 'ranks_per_node', 'mode')


def _ranks(rows):
    if 'ranks' in rows.columns and rows['ranks'].notna().any():
        return rows['ranks'].astype(float)
    return rows['num_tasks'].astype(float)


def table(frame):
    '''variant, mode, ranks -> median samples/s (95 % CI), step time, allreduce share,
    speedup and efficiency against the smallest rank count, runs and failures.'''
    if 'workload' not in frame.columns:
        return pd.DataFrame()
    rows = frame[frame['workload'] == WORKLOAD]
    if rows.empty or 'mode' not in rows.columns:
        return pd.DataFrame()
    rows = rows.assign(ranks=_ranks(rows))
    # a node sweep is one series: the rank count is the axis, never the variant
    rows = add_variant(rows, [c for c in varying(rows) if c not in _NOT_SERIES] or ['environ'])
    cases = per_case(rows, ['variant', 'mode', 'ranks', 'result'])
    out = []
    for (variant, mode), g in rows.groupby(['variant', 'mode'], sort=True):
        ok = g[g['result'].isin(PASSED) & g['value'].notna()]
        per_r = {}
        for r, v in ok.groupby('ranks'):
            rate = stats.median_ci(v.loc[v['pvar'] == 'samples_per_s', 'value'].to_numpy(float))
            if rate[3] == 0:
                continue
            per_r[r] = (rate, v.loc[v['pvar'] == 'step_time', 'value'].median(),
                        v.loc[v['pvar'] == 'allreduce_share', 'value'].median(),
                        v['global_batch'].dropna().iloc[0] if 'global_batch' in v.columns else math.nan,
                        v['num_nodes'].iloc[0])
        if not per_r:
            continue
        r0 = min(per_r)
        base = per_r[r0][0][0]
        c = cases[(cases['variant'] == variant) & (cases['mode'] == mode)]
        for r in sorted(per_r):
            (med, lo, hi, n), step, share, batch, nodes = per_r[r]
            done = c[c['ranks'] == r]
            speedup = med / base
            out.append({'variant': variant, 'mode': mode, 'ranks': int(r), 'num_nodes': int(nodes),
                        'global_batch': batch, 'samples_per_s': med, 'ci_lo': lo, 'ci_hi': hi,
                        'step_time_s': step, 'allreduce_share_pct': share,
                        'speedup': speedup, 'efficiency': speedup * r0 / r, 'base_ranks': int(r0),
                        'runs': n, 'failures': int((~done['result'].isin(PASSED + ('skip',))).sum())})
    return pd.DataFrame(out)
