"""Message-size curves of the MPI microbenchmarks, summarised over repeats."""
import pandas as pd

from hpcval.analysis import scaling
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


def vs_nodes(frame, pick):
    '''Each network series' headline (``pick``: rows -> pvar) per node count: median,
    95 % CI, runs, CoV (scaling.by_nodes); ``path``: within one node (shared
    memory carries the bytes, not the fabric) or between nodes; ``pct_of_link``:
    a bandwidth between nodes as a share of the link rate the partition declares
    (``link_MBps``, checks/common/fabrics.py).'''
    t = scaling.by_nodes(frame)
    if t.empty:
        return t
    # the by-nodes table has no check variables: each series' declared figure goes back in for ``pick``
    declared = {s: scaling.declared_pvar(g) for s, g in scaling.with_series(frame).groupby('series', observed=True)}
    t = pd.concat([g[g['pvar'] == pick(g.assign(scaling_pvar=declared.get(s, '')))]
                   for s, g in t.groupby('series', observed=True)], ignore_index=True)
    t['path'] = ['between nodes' if n > 1 else 'within one node' for n in t['num_nodes']]
    link = {}
    if 'link_MBps' in frame.columns:
        f = scaling.with_series(frame)
        link = pd.to_numeric(f['link_MBps'], errors='coerce').groupby(f['series'], observed=True).max().to_dict()
    rate = t['series'].map(link).astype(float)
    t['pct_of_link'] = (100.0 * t['median'] / rate).where((t['unit'] == 'MB/s') & (t['num_nodes'] > 1))
    return t


#: two ranks, one on each of two nodes: what a link between two nodes carries
POINT_TO_POINT = ('latency', 'bw', 'bibw')
#: a node pair this far from the median of the pairs (worse) is the suspect link
PAIR_OFF = 0.10


def by_pair(frame, pick):
    '''Point-to-point series between two nodes, per node pair that ran (``hosts``): the
    headline's (``pick``) median over runs and whether the pair is the suspect link,
    more than PAIR_OFF worse than the median of the pairs.  A scheduler that
    always places the job on the same two nodes gives one pair: the table says
    so rather than claiming every link was measured.'''
    need = {'benchmark', 'hosts', 'num_nodes'}
    if not need <= set(frame.columns):
        return pd.DataFrame()
    f = frame[frame['benchmark'].isin(POINT_TO_POINT) & (pd.to_numeric(frame['num_nodes'], errors='coerce') == 2)]
    f = f[f['value'].notna() & f['hosts'].astype(str).str.count(',').eq(1)]
    if f.empty:
        return pd.DataFrame()
    f = scaling.with_series(f)
    out = []
    for series, g in f.groupby('series', observed=True):
        pvar = pick(g.drop_duplicates('pvar'))
        g = g[g['pvar'] == pvar]
        pairs = g.groupby(g['hosts'].astype(str))['value'].agg(['median', 'count'])
        mid = pairs['median'].median()
        worse = pairs['median'] < (1 - PAIR_OFF) * mid if g['better'].iloc[0] == 'higher' \
            else pairs['median'] > (1 + PAIR_OFF) * mid
        for pair, r in pairs.iterrows():
            out.append({'check': g['check'].iloc[0], 'series': series, 'pvar': pvar, 'pair': pair,
                        'runs': int(r['count']), 'median': r['median'], 'unit': g['unit'].iloc[0],
                        'vs_pairs_pct': 100.0 * r['median'] / mid, 'suspect': bool(worse[pair]) and len(pairs) > 1,
                        'pairs': len(pairs)})
    return pd.DataFrame(out)
