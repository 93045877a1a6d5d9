"""Message-size curves of the MPI microbenchmarks, summarised over repeats."""
import pandas as pd

from hpcval.analysis.variants import add_variant, varying

LATENCY_BENCHMARKS = ('latency', 'allreduce', 'alltoall')
BANDWIDTH_BENCHMARKS = ('bw', 'bibw')


def curve_rows(frame):
    '''Rows that belong to a message-size curve: benchmark known, size parsed.'''
    if 'benchmark' not in frame.columns:
        return frame.iloc[0:0]
    sel = frame['benchmark'].notna() & frame['msg_size'].notna() & frame['value'].notna()
    return frame[sel]


def curves(frame):
    '''benchmark, variant, msg_size -> median/min/max over repeats, and n.'''
    rows = curve_rows(frame)
    if rows.empty:
        return pd.DataFrame(columns=['benchmark', 'variant', 'msg_size', 'unit', 'median',
                                     'min', 'max', 'n'])
    rows = add_variant(rows, varying(rows))
    g = rows.groupby(['benchmark', 'variant', 'msg_size', 'unit'], dropna=False)['value']
    out = g.agg(median='median', min='min', max='max', n='count').reset_index()
    out['msg_size'] = out['msg_size'].astype(int)
    return out.sort_values(['benchmark', 'variant', 'msg_size'], ignore_index=True)


def key_figures(curve):
    '''The numbers people quote: small-message latency and large-message bandwidth.'''
    rows = []
    for (bench, variant), c in curve.groupby(['benchmark', 'variant']):
        if bench in LATENCY_BENCHMARKS:
            pick = c[c['msg_size'] == 8] if (c['msg_size'] == 8).any() else c.head(1)
        else:
            pick = c[c['msg_size'] == c['msg_size'].max()]
        for _, r in pick.iterrows():
            rows.append({'benchmark': bench, 'variant': variant, 'msg_size': int(r['msg_size']),
                         'median': r['median'], 'min': r['min'], 'max': r['max'],
                         'unit': r['unit'], 'n': int(r['n'])})
    return pd.DataFrame(rows)
