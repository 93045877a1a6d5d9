"""The small-file I/O table: metadata rates per target (ramdisk vs work vs home)."""
import pandas as pd

from hpcval.analysis.cases import PASSED
from hpcval.analysis.variants import add_variant, varying

WORKLOAD = 'smallfile_io'
OPS = ('creation', 'stat', 'read', 'removal')
#: the tmpfs first: it is what the file systems are measured against
TARGET_ORDER = ('ramdisk', 'work', 'home')


def table(frame):
    '''variant, target -> median over runs of each file operation's mean rate (ops/s),
    each rate as a fraction of the ramdisk's, and per node.

    The check's rates are aggregate: every rank's files over the slowest
    rank's time; per node = aggregate / num_nodes.'''
    if 'workload' not in frame.columns:
        return pd.DataFrame()
    rows = frame[(frame['workload'] == WORKLOAD) & frame['result'].isin(PASSED) & frame['value'].notna()]
    if rows.empty or 'target' not in rows.columns:
        return pd.DataFrame()
    rows = add_variant(rows, [c for c in varying(rows) if c != 'target'])
    out = []
    for (variant, target), g in rows.groupby(['variant', 'target'], sort=False):
        rec = {'variant': variant, 'target': target,
               'path': g['target_path'].dropna().iloc[0] if 'target_path' in g.columns else '',
               'files_per_case': (int(g['planned_files'].dropna().iloc[0])
                                  if 'planned_files' in g.columns and g['planned_files'].notna().any() else None),
               'num_nodes': (int(g['num_nodes'].dropna().iloc[0])
                             if 'num_nodes' in g.columns and g['num_nodes'].notna().any() else None),
               'runs': int(g.loc[g['pvar'] == 'file_creation', 'value'].count())}
        for op in OPS:
            rec[op] = g.loc[g['pvar'] == f'file_{op}', 'value'].median()
        out.append(rec)
    t = pd.DataFrame(out)
    if t.empty:
        return t
    t['order'] = t['target'].map({name: i for i, name in enumerate(TARGET_ORDER)}).fillna(len(TARGET_ORDER))
    t = t.sort_values(['variant', 'order', 'target'], ignore_index=True).drop(columns='order')
    for op in OPS:
        ram = t[t['target'] == 'ramdisk'].set_index('variant')[op]
        t[f'{op}_vs_ramdisk'] = t[op] / t['variant'].map(ram)
        t[f'{op}_per_node'] = t[op] / pd.to_numeric(t['num_nodes'], errors='coerce')
    return t
