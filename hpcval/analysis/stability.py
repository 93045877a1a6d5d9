"""Run-to-run stability: failures with exact CIs, variability, suspicious nodes."""
import math

import numpy as np
import pandas as pd

from hpcval.analysis import stats
from hpcval.analysis.cases import SKIPPED, UNKNOWN, columns, failed, measured, per_case, with_case
from hpcval.reframe_facts import NODES_TOKEN

GROUP = ['system', 'partition', 'environ', 'check', 'case']


def failures(frame):
    '''Per case: runs, failures by phase, Clopper-Pearson 95 % CI, retries.'''
    c = per_case(with_case(frame), GROUP + ['num_nodes', 'result', 'fail_phase'])
    c = c[~c['result'].isin(SKIPPED + (UNKNOWN,))]      # neither is a run that could fail
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
    m = measured(columns(with_case(frame), GROUP + ['pvar', 'unit', 'value', 'result', 'usable']))
    g = m.groupby(GROUP + ['pvar', 'unit'])['value']
    out = g.agg(runs='count', min='min', median='median', max='max').reset_index()
    out['cov'] = g.apply(stats.cov).to_numpy()
    out['robust_cov'] = g.apply(stats.robust_cov).to_numpy()
    out['outliers'] = g.apply(stats.tukey_outliers).to_numpy()
    return out


_NO_NODES = ('', 'None', 'nan', '[]')


def node_lists(c):
    '''Comma-separated nodes of each case: the scheduler's job_nodelist, else
    the hosts the program itself reported (ReFrame's squeue backend leaves
    'None' for a job that ended between two polls).'''
    lists = c['job_nodelist'].astype(object).fillna('').astype(str)
    if 'hosts' in c.columns:
        hosts = c['hosts'].astype(object).fillna('').astype(str)
        lists = lists.where(~lists.isin(_NO_NODES), hosts)
    return lists


def _incidence(c):
    '''Cases x nodes boolean matrix from comma-separated job_nodelist texts.'''
    lists = node_lists(c)
    codes, uniques = pd.factorize(lists)
    names = sorted({n.strip() for text in uniques for n in text.split(',') if n.strip() not in _NO_NODES})
    col = {n: i for i, n in enumerate(names)}
    per_unique = np.zeros((len(uniques), len(names)), dtype=bool)
    for u, text in enumerate(uniques):
        for n in text.split(','):
            if n.strip() in col:
                per_unique[u, col[n.strip()]] = True
    return names, per_unique[codes]


def _node_tests(names, held, bad):
    '''One-sided Fisher test per node: failures of cases with it vs without it.'''
    total_bad, total = int(bad.sum()), len(bad)
    with_n = held.sum(axis=0)
    with_bad = (held & bad[:, None]).sum(axis=0)
    rows = []
    for j, node in enumerate(names):
        if with_n[j] == 0:
            continue
        others_bad, others = total_bad - int(with_bad[j]), total - int(with_n[j])
        p = stats.fisher(int(with_bad[j]), int(with_n[j]), others_bad, others, 'greater') if others else 1.0
        rows.append({'node': node, 'cases': int(with_n[j]), 'failed': int(with_bad[j]),
                     'fail_rate': with_bad[j] / with_n[j],
                     'others_fail_rate': others_bad / others if others else math.nan, 'p': p})
    out = pd.DataFrame(rows)
    if not out.empty:
        out['p_holm'] = stats.holm(out['p'].to_numpy())
    return out


def suspicious_nodes(frame, alpha=0.05):
    '''Nodes in failed cases more often than chance allows (one-sided Fisher, Holm).

    Stepwise, because jobs share nodes: once the most significant node is
    flagged, the cases that held it are set aside and the rest tested again,
    so a healthy node is not flagged for having run beside a bad one.  Nodes
    that shared every case with a flagged one cannot be told apart from it
    and are flagged with it.
    '''
    c = per_case(frame, ['result', 'job_nodelist', 'hosts'])
    c = c[~c['result'].isin(SKIPPED + (UNKNOWN,))]      # neither is a run that could fail
    if c.empty or 'job_nodelist' not in c.columns:
        return pd.DataFrame()
    names, held = _incidence(c)
    bad = failed(c['result']).to_numpy()
    first = _node_tests(names, held, bad)
    if first.empty:
        return first
    col = {n: i for i, n in enumerate(names)}
    keep = np.ones(len(bad), dtype=bool)
    flagged = set()
    while keep.any():
        step = _node_tests(names, held[keep], bad[keep])
        step = step[~step['node'].isin(flagged)] if not step.empty else step
        if step.empty:
            break
        top = step.sort_values(['p_holm', 'node']).iloc[0]
        if not top['p_holm'] < alpha:
            break
        top_cases = held[:, col[top['node']]] & keep
        twins = [n for n in step['node'] if ((held[:, col[n]] & keep) == top_cases).all()]
        flagged.update(twins)
        keep &= ~top_cases
    first['suspicious'] = first['node'].isin(flagged)
    return first.sort_values(['suspicious', 'p'], ascending=[False, True]).reset_index(drop=True)


def pooled(fails):
    '''All runs of all cases together: runs, failures and the exact 95 % CI of the rate.'''
    runs = int(fails['runs'].sum()) if not fails.empty else 0
    bad = int(fails['failures'].sum()) if not fails.empty else 0
    lo, hi = stats.clopper_pearson(bad, runs)
    return {'runs': runs, 'failures': bad, 'cases': len(fails), 'failed_cases': int((fails['failures'] > 0).sum())
            if not fails.empty else 0, 'rate': bad / runs if runs else math.nan, 'ci_lo': lo, 'ci_hi': hi}
