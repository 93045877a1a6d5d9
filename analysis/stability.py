"""Run-to-run stability: failures with exact CIs, variability, suspicious nodes."""
import math

import numpy as np
import pandas as pd

from analysis import stats
from analysis.cases import SKIPPED, failed, measured, per_case, with_case
from analysis.scaling import NODES_TOKEN

GROUP = ['system', 'partition', 'environ', 'check', 'case']


def failures(frame):
    '''Per case: runs, failures by phase, Clopper-Pearson 95 % CI, retries.'''
    c = per_case(with_case(frame))
    c = c[~c['result'].isin(SKIPPED)]
    rows = []
    for key, g in c.groupby(GROUP):
        n = len(g)
        bad = failed(g['result'])
        k = int(bad.sum())
        lo, hi = stats.clopper_pearson(k, n)
        phases = g.loc[bad, 'fail_phase'].fillna('unknown').astype(str).value_counts().to_dict()
        rows.append({**dict(zip(GROUP, key)), 'series': NODES_TOKEN.sub('', key[-1]).strip(),
                     'num_nodes': g['num_nodes'].iloc[0], 'runs': n,
                     'failures': k, 'fail_rate': k / n if n else math.nan, 'fail_ci_lo': lo, 'fail_ci_hi': hi,
                     'by_phase': ', '.join(f'{p}: {v}' for p, v in sorted(phases.items())),
                     'retries': int((g['run_index'].astype(float) > 0).sum())})
    return pd.DataFrame(rows)


def variability(frame):
    '''Per case x pvar: n, min/median/max, CoV, robust CoV, Tukey outliers.'''
    m = measured(with_case(frame))
    g = m.groupby(GROUP + ['pvar', 'unit'])['value']
    out = g.agg(runs='count', min='min', median='median', max='max').reset_index()
    out['cov'] = g.apply(stats.cov).to_numpy()
    out['robust_cov'] = g.apply(stats.robust_cov).to_numpy()
    out['outliers'] = g.apply(stats.tukey_outliers).to_numpy()
    return out


def suspicious_nodes(frame, alpha=0.05):
    '''Nodes in failed cases more often than chance allows (one-sided Fisher, Holm).'''
    c = per_case(frame)
    c = c[~c['result'].isin(SKIPPED)]
    if c.empty:
        return pd.DataFrame()
    lists = c['job_nodelist'].fillna('').astype(str).str.split(',')
    bad = failed(c['result']).to_numpy()
    exploded = pd.DataFrame({'node': lists, 'bad': bad, 'case': np.arange(len(c))}).explode('node')
    exploded = exploded[exploded['node'].str.strip() != '']
    total_bad, total = int(bad.sum()), len(c)
    rows = []
    for node, g in exploded.groupby('node'):
        with_bad = int(g['bad'].sum())
        with_n = g['case'].nunique()
        others_bad, others = total_bad - with_bad, total - with_n
        p = stats.fisher(with_bad, with_n, others_bad, others, 'greater') if others else 1.0
        rows.append({'node': node, 'cases': with_n, 'failed': with_bad,
                     'fail_rate': with_bad / with_n,
                     'others_fail_rate': others_bad / others if others else math.nan, 'p': p})
    out = pd.DataFrame(rows)
    out['p_holm'] = stats.holm(out['p'].to_numpy())
    out['suspicious'] = out['p_holm'] < alpha
    return out.sort_values(['p', 'node']).reset_index(drop=True)
