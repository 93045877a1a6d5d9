"""The GEMM tables: rate per matrix size against the node's measured and nominal peak,
and every node's own rate, for the node-to-node spread and the outlier node."""
import json
import re

import numpy as np
import pandas as pd

from hpcval.analysis.variants import add_variant, varying

_N = re.compile(r'^gflops_n(\d+)$')

#: a node this far below the median of the job's nodes is the outlier
OUTLIER_BELOW = 0.10


def _first(v, col):
    if col not in v.columns:
        return ''
    return next((s for s in v[col].dropna().astype(str) if s), '')


def _rows(frame):
    rows = frame[(frame['workload'] == 'matmul') & frame['value'].notna()]
    return add_variant(rows, varying(rows)) if not rows.empty else rows


def table(frame):
    '''variant, n -> median GFLOP/s of the slowest node, min, max, runs, measured peak and
    % of it, nominal peak and % of it, and how each peak was found.

    % of measured peak = median(rate) / median(measured_peak) x 100: the FMA
    kernel's best on the same nodes, in the same precision (checks/matmul.py).
    '''
    rows = _rows(frame)
    if rows.empty:
        return pd.DataFrame()
    out = []
    for variant, v in rows.groupby('variant'):
        peaks = {p: v.loc[v['pvar'] == p, 'value'].median() for p in ('nominal_peak', 'measured_peak')}
        for pvar, g in v.groupby('pvar'):
            m = _N.match(str(pvar))
            if not m:
                continue
            med = g['value'].median()
            out.append({'variant': variant, 'n': int(m.group(1)), 'gflops_median': med,
                        'gflops_min': g['value'].min(), 'gflops_max': g['value'].max(),
                        'runs': int(g['value'].count()),
                        'measured_peak_gflops': peaks['measured_peak'],
                        'pct_of_measured_peak': 100.0 * med / peaks['measured_peak'],
                        'nominal_peak_gflops': peaks['nominal_peak'],
                        'pct_of_peak': 100.0 * med / peaks['nominal_peak'],
                        'measured_peak_derivation': _first(v, 'measured_peak_derivation'),
                        'peak_derivation': _first(v, 'peak_derivation')})
    return pd.DataFrame(out).sort_values(['variant', 'n'], ignore_index=True)


def _node_rates(text):
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def nodes(frame):
    '''variant, n, node -> the node's median GEMM rate over runs, its measured peak, its rate
    against the median of the variant's nodes, and whether it is the outlier.

    The outlier: a node more than OUTLIER_BELOW under the median of the
    nodes' medians (of a variant and n); with one node there is none.
    Read from ``node_rates`` (checks/matmul.py); a foreign GEMM check without
    it has no per-node table.
    '''
    rows = _rows(frame)
    if rows.empty or 'node_rates' not in rows.columns:
        return pd.DataFrame()
    cases = rows.drop_duplicates('case_id') if 'case_id' in rows.columns else rows.drop_duplicates('display_name')
    per = []
    for r in cases.itertuples():
        for host, figs in _node_rates(r.node_rates).items():
            if not isinstance(figs, dict):
                continue
            for key, value in figs.items():
                m = _N.match(str(key))
                if m and isinstance(value, (int, float)) and value > 0:
                    per.append({'variant': r.variant, 'n': int(m.group(1)), 'node': str(host), 'gflops': value,
                                'measured_peak': figs.get('measured_peak', np.nan)})
    if not per:
        return pd.DataFrame()
    per = pd.DataFrame(per)
    out = per.groupby(['variant', 'n', 'node'], as_index=False).agg(
        gflops_median=('gflops', 'median'), runs=('gflops', 'count'), measured_peak_gflops=('measured_peak', 'median'))
    mid = out.groupby(['variant', 'n'])['gflops_median'].transform('median')
    count = out.groupby(['variant', 'n'])['node'].transform('count')
    out['vs_median_pct'] = 100.0 * out['gflops_median'] / mid
    out['pct_of_measured_peak'] = 100.0 * out['gflops_median'] / out['measured_peak_gflops']
    out['outlier'] = (count > 1) & (out['gflops_median'] < (1 - OUTLIER_BELOW) * mid)
    return out.sort_values(['variant', 'n', 'node'], ignore_index=True)


def spread(node_table):
    '''variant, n -> nodes, (fastest - slowest) / fastest in %, the slowest node, the outliers.'''
    if node_table.empty:
        return pd.DataFrame()
    out = []
    for (variant, n), g in node_table.groupby(['variant', 'n']):
        lo, hi = g['gflops_median'].min(), g['gflops_median'].max()
        out.append({'variant': variant, 'n': n, 'nodes': len(g),
                    'spread_pct': 100.0 * (hi - lo) / hi if len(g) > 1 else np.nan,
                    'slowest_node': g.loc[g['gflops_median'].idxmin(), 'node'] if len(g) > 1 else '',
                    'outliers': ', '.join(g.loc[g['outlier'], 'node'])})
    return pd.DataFrame(out)
