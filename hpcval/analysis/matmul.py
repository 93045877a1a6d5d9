"""The DGEMM table: rate per matrix size against the node's nominal peak."""
import re

import pandas as pd

from hpcval.analysis.variants import add_variant, varying

_N = re.compile(r'^gflops_n(\d+)$')


def table(frame):
    '''variant, n -> median GFLOP/s, min, max, runs, nominal peak, % of peak.'''
    rows = frame[(frame['workload'] == 'matmul') & frame['value'].notna()]
    if rows.empty:
        return pd.DataFrame()
    rows = add_variant(rows, varying(rows))
    out = []
    for variant, v in rows.groupby('variant'):
        peak = v.loc[v['pvar'] == 'nominal_peak', 'value']
        peak_med = peak.median() if not peak.empty else float('nan')
        how = ''
        if 'peak_derivation' in v.columns:
            how = next((s for s in v['peak_derivation'].dropna().astype(str) if s), '')
        for pvar, g in v.groupby('pvar'):
            m = _N.match(str(pvar))
            if not m:
                continue
            med = g['value'].median()
            out.append({'variant': variant, 'n': int(m.group(1)), 'gflops_median': med,
                        'gflops_min': g['value'].min(), 'gflops_max': g['value'].max(),
                        'runs': int(g['value'].count()), 'nominal_peak_gflops': peak_med,
                        'pct_of_peak': 100.0 * med / peak_med if peak_med else float('nan'),
                        'peak_derivation': how})
    return pd.DataFrame(out).sort_values(['variant', 'n'], ignore_index=True)
