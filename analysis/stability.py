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


def _node_tests(nodes_per_case, bad):
    '''One-sided Fisher test per node: failures with it vs without it.'''
    total_bad, total = int(bad.sum()), len(bad)
    rows = []
    exploded = pd.DataFrame({'node': nodes_per_case, 'bad': bad, 'case': np.arange(total)}).explode('node')
    exploded = exploded[exploded['node'].astype(str).str.strip() != '']
    for node, g in exploded.groupby('node'):
        with_bad, with_n = int(g['bad'].sum()), g['case'].nunique()
        others_bad, others = total_bad - with_bad, total - with_n
        p = stats.fisher(with_bad, with_n, others_bad, others, 'greater') if others else 1.0
        rows.append({'node': node, 'cases': with_n, 'failed': with_bad, 'fail_rate': with_bad / with_n,
                     'others_fail_rate': others_bad / others if others else math.nan, 'p': p})
    out = pd.DataFrame(rows)
    if not out.empty:
        out['p_holm'] = stats.holm(out['p'].to_numpy())
    return out


def suspicious_nodes(frame, alpha=0.05):
    '''Nodes in failed cases more often than chance allows (one-sided Fisher, Holm).

    Stepwise, because jobs share nodes: once the most significant node is
    flagged, the cases that held it are set aside and the rest tested again,
    so a healthy node is not flagged for having run beside a bad one.
    '''
    c = per_case(frame)
    c = c[~c['result'].isin(SKIPPED)]
    if c.empty:
        return pd.DataFrame()
    nodes = c['job_nodelist'].fillna('').astype(str).str.split(',').to_numpy()
    bad = failed(c['result']).to_numpy()
    first = _node_tests(nodes, bad)
    if first.empty:
        return first
    first['suspicious'] = False
    first['p_step'] = first['p_holm']
    keep = np.ones(len(bad), dtype=bool)
    flagged = set()
    while keep.any():
        step = _node_tests(nodes[keep], bad[keep])
        step = step[~step['node'].isin(flagged)] if not step.empty else step
        if step.empty:
            break
        top = step.sort_values(['p_holm', 'node']).iloc[0]
        first.loc[first['node'].isin(step['node']), 'p_step'] = first['node'].map(
            step.set_index('node')['p_holm'])
        if not top['p_holm'] < alpha:
            break
        # nodes that shared every one of its cases cannot be told apart: flag them together
        held = np.array([top['node'] in set(n) for n in nodes]) & keep
        twins = [n for n in step['node'] if (np.array([n in set(x) for x in nodes]) & keep == held).all()]
        flagged.update(twins)
        keep &= ~held
    first['suspicious'] = first['node'].isin(flagged)
    return first.sort_values(['suspicious', 'p'], ascending=[False, True]).reset_index(drop=True)
