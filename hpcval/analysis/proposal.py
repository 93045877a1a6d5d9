"""The proposal view: per check, one headline variable across node counts.

Columns as allocation programmes ask for them (N, median, 95 % CI, speedup,
efficiency, node-hours per run, CoV, failures/runs) plus one sentence.
"""
import pandas as pd

from hpcval.analysis import scaling as scaling_mod

# Preferred headline variables when a check does not declare one
_PREFERRED = ('time', 'elapsed', 'time_per_step', 'latency_8B', 'bw_4MiB')
_TIME_UNITS = ('s', 'sec', 'min', 'h')


def headline_pvar(rows):
    '''The variable a proposal quotes for one series of a check.'''
    if 'scaling_pvar' in rows.columns:
        declared = rows['scaling_pvar'].dropna().astype(str)
        declared = declared[declared != '']
        if not declared.empty and declared.iloc[0] in set(rows['pvar']):
            return declared.iloc[0]
    pvars = list(dict.fromkeys(rows['pvar']))
    for name in _PREFERRED:
        if name in pvars:
            return name
    timed = [p for p, u in zip(rows['pvar'], rows['unit']) if u in _TIME_UNITS]
    return timed[0] if timed else sorted(pvars)[0]


def table(scaling, fails, floor=scaling_mod.DEFAULT_FLOOR):
    '''Headline rows of the scaling table with failures/runs and a sentence per series.'''
    if scaling.empty:
        return pd.DataFrame(), {}
    picked, sentences = [], {}
    for (check, series), g in scaling.groupby(['check', 'series']):
        pvar = headline_pvar(g)
        rows = g[g['pvar'] == pvar].sort_values('num_nodes')
        picked.append(rows)
        sentences[(check, series)] = f'{series}: {pvar} {scaling_mod.sentence(rows, floor)}.'
    out = pd.concat(picked, ignore_index=True)
    keys = ['system', 'partition', 'environ', 'check', 'series', 'num_nodes']
    if not fails.empty:
        f = fails.groupby(keys)[['runs', 'failures']].sum().reset_index()
        out = out.merge(f.rename(columns={'runs': 'cases_run'}), on=keys, how='left')
    else:
        out['cases_run'], out['failures'] = out['runs'], 0
    return out, sentences
