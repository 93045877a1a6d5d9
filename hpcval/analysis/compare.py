"""Baseline against candidate: a verdict per check x pvar x variant x node count.

Per cell: ratio of medians (candidate / baseline) with a BCa bootstrap CI,
two-sided Mann-Whitney U, Holm across the table, practical threshold delta.

- REGRESSION: Holm-adjusted p < alpha, the 95 % CI excludes 1 on the bad
  side, and the ratio lies beyond delta on the bad side.  ``strict=True``
  asks instead that the whole CI lie beyond delta (the stricter reading of docs/statistics.md); at
  10 runs a side and 3 % CoV that misses about one real 10 % regression in
  six (benchmarks/RESULTS.md), so it is an option, not the default.
- IMPROVEMENT: the mirror image.
- EQUIVALENT: the 90 % CI lies inside [1 - delta, 1 + delta] (TOST).
- INCONCLUSIVE: none of these, with the runs per side likely to decide.
Values of cases that ReFrame failed in the performance phase count (a
regression must not hide behind its own reference failure); the cell says
how many lay outside the reference on each side.  Failures per case are a
verdict of their own (``failures``); cases seen on one side only are
listed, not dropped.
"""
import math
import re

import numpy as np
import pandas as pd

from hpcval.analysis import stats
from hpcval.analysis.cases import (CASE_KEY, PASSED, PERFORMANCE_PHASE, SKIPPED, UNKNOWN, failed, measured,
                                   per_case, with_case)

KEY = CASE_KEY + ['pvar']
VERDICTS = ('REGRESSION', 'IMPROVEMENT', 'EQUIVALENT', 'INCONCLUSIVE')


def classify(ratio, lo95, hi95, lo90, hi90, p_adj, better, delta=0.05, alpha=0.05, strict=False):
    '''The verdict for one cell; ratio = candidate / baseline.'''
    if not math.isfinite(ratio):
        return 'INCONCLUSIVE'
    # orient so that > 1 is always worse
    if better == 'higher':
        worse, lo, hi = 1 / ratio, (1 / hi95 if hi95 else math.nan), (1 / lo95 if lo95 else math.nan)
        lo90, hi90 = (1 / hi90 if hi90 else math.nan), (1 / lo90 if lo90 else math.nan)
    else:
        worse, lo, hi = ratio, lo95, hi95
    significant = math.isfinite(p_adj) and p_adj < alpha
    if significant and math.isfinite(lo) and math.isfinite(hi):
        if strict:
            if lo > 1 + delta:
                return 'REGRESSION'
            if hi < 1 - delta:
                return 'IMPROVEMENT'
        else:
            if lo > 1 and worse > 1 + delta:
                return 'REGRESSION'
            if hi < 1 and worse < 1 - delta:
                return 'IMPROVEMENT'
    if math.isfinite(lo90) and math.isfinite(hi90) and lo90 > 1 - delta and hi90 < 1 + delta:
        return 'EQUIVALENT'
    return 'INCONCLUSIVE'


def _cell(base, cand, better, delta, seed):
    ratio, lo95, hi95 = stats.ratio_ci(cand, base, 0.95, seed=seed)
    _, lo90, hi90 = stats.ratio_ci(cand, base, 0.90, seed=seed + 1)
    return {'n_base': len(base), 'n_cand': len(cand),
            'median_base': float(np.median(base)), 'median_cand': float(np.median(cand)),
            'ratio': ratio, 'ci_lo': lo95, 'ci_hi': hi95, 'ci90_lo': lo90, 'ci90_hi': hi90,
            'p': stats.mann_whitney(cand, base)}


def _runs_needed(base, cand, ratio, delta, alpha, family):
    if not math.isfinite(ratio) or ratio <= 0:
        return math.nan
    dist = abs(math.log(ratio))
    edge = math.log(1 + delta)
    return stats.runs_needed(cand, base, abs(edge - dist), alpha=alpha, family=family, difference=dist > edge)


LOST_ABSENT = 'lost: absent from the candidate'
FAILURE_COLUMNS = CASE_KEY + ['check', 'fail_base', 'runs_base', 'fail_cand', 'runs_cand', 'fail_p', 'fail_p_holm',
                              'verdict', 'why']


def failures(base, cand, alpha=0.05):
    '''Per case: failures and runs (skipped runs and unknown results not counted) on each side, and a verdict.

    - REGRESSION, "failure rate": the candidate fails more often; Fisher's exact test,
      Holm across the cases (a family of its own, beside the performance cells), p < alpha.
    - REGRESSION, "lost": the case passed in the baseline, and in the candidate it is
      absent, or failed or was skipped in every run.
    - IMPROVEMENT, "failure rate": the mirror image.
    Cases of the candidate alone are new: listed with the cells of one side, not judged.
    '''
    def counts(frame):
        c = per_case(with_case(frame), CASE_KEY + ['result', 'fail_phase'])
        ran = ~c['result'].isin(SKIPPED + (UNKNOWN,))
        k = failed(c['result']) & ran
        perf = k & (c['fail_phase'] == PERFORMANCE_PHASE) if 'fail_phase' in c.columns else k & False
        return pd.DataFrame({'n': ran, 'k': k, 'k_perf': perf,
                             'ok': c['result'].isin(PASSED)}).groupby(
            [c[k] for k in CASE_KEY], observed=True).sum()
    bk, ck = counts(base), counts(cand)
    both = bk.merge(ck, left_index=True, right_index=True, how='left', suffixes=('_base', '_cand'))
    both = both[both.index.isin(ck.index) | (both['ok_base'] > 0)].fillna(0)
    rows = []
    for key, r in both.iterrows():
        p = stats.fisher(int(r.k_cand), int(r.n_cand), int(r.k_base), int(r.n_base))
        rows.append(dict(zip(CASE_KEY, key), check=(str(key[-1]).split() or [''])[0],
                         fail_base=int(r.k_base), runs_base=int(r.n_base),
                         fail_cand=int(r.k_cand), runs_cand=int(r.n_cand), fail_p=p,
                         lost=r.ok_base > 0 and r.ok_cand == 0, all_perf=r.k_cand == r.n_cand == r.k_perf_cand > 0,
                         absent=key not in ck.index))
    table = pd.DataFrame(rows, columns=CASE_KEY + ['check', 'fail_base', 'runs_base', 'fail_cand', 'runs_cand',
                                                   'fail_p', 'lost', 'all_perf', 'absent'])
    table['fail_p_holm'] = stats.holm(table['fail_p'].to_numpy(float)) if len(table) else []
    verdict, why = [], []
    for r in table.itertuples():
        rate_b = r.fail_base / r.runs_base if r.runs_base else math.nan
        rate_c = r.fail_cand / r.runs_cand if r.runs_cand else math.nan
        if r.lost:
            verdict.append('REGRESSION')
            why.append(LOST_ABSENT if r.absent else
                       # measured, so its values are in the cells too
                       'lost: outside its reference in every candidate run' if r.all_perf else
                       'lost: failed in every candidate run' if r.fail_cand == r.runs_cand and r.runs_cand else
                       'lost: skipped in every candidate run')
        elif math.isfinite(r.fail_p_holm) and r.fail_p_holm < alpha:
            verdict.append('REGRESSION' if rate_c > rate_b else 'IMPROVEMENT')
            why.append('failure rate')
        else:
            verdict.append('')
            why.append('')
    table['verdict'], table['why'] = verdict, why
    return table[FAILURE_COLUMNS]


def select_pvars(frame, patterns):
    '''Rows whose ``pvar`` matches one of the regular expressions (``re.search``).'''
    if not patterns:
        return frame
    regex = re.compile('|'.join(f'(?:{p})' for p in patterns))
    names = frame['pvar'].dropna().astype(str).unique()
    keep = [n for n in names if regex.search(n)]
    return frame[frame['pvar'].isin(keep)]


def compare(base_frame, cand_frame, delta=0.05, alpha=0.05, strict=False, seed=0, pvars=None):
    '''Returns (verdicts, one_side_only, failures) frames.

    ``pvars``: regular expressions; when given, only the performance variables
    matching one of them are compared, and the Holm family is those cells
    alone.  Failure rates are per case and stay as they are.
    '''
    base, cand = with_case(base_frame), with_case(cand_frame)
    mb, mc = select_pvars(measured(base), pvars), select_pvars(measured(cand), pvars)
    gb = {k: g['value'].to_numpy(float) for k, g in mb.groupby(KEY)}
    gc = {k: g['value'].to_numpy(float) for k, g in mc.groupby(KEY)}
    ob, oc = _outside(mb), _outside(mc)
    info = pd.concat([mb, mc]).drop_duplicates(KEY).set_index(KEY)
    rows = []
    for i, key in enumerate(sorted(set(gb) & set(gc))):
        meta = info.loc[key]
        better = meta['better'] or 'lower'
        cell = _cell(gb[key], gc[key], better, delta, seed + 2 * i)
        rows.append({**dict(zip(KEY, key)), 'check': meta['check'], 'num_nodes': meta['num_nodes'],
                     'unit': meta['unit'], 'better': better, **cell,
                     'outside_base': ob.get(key, 0), 'outside_cand': oc.get(key, 0)})
    table = pd.DataFrame(rows)
    if not table.empty:
        table['p_holm'] = stats.holm(table['p'].to_numpy())
        table['verdict'] = [classify(r.ratio, r.ci_lo, r.ci_hi, r.ci90_lo, r.ci90_hi, r.p_holm,
                                     r.better, delta, alpha, strict) for r in table.itertuples()]
        table['runs_needed'] = [
            _runs_needed(gb[tuple(getattr(r, k) for k in KEY)], gc[tuple(getattr(r, k) for k in KEY)],
                         r.ratio, delta, alpha, len(table)) if r.verdict == 'INCONCLUSIVE' else math.nan
            for r in table.itertuples()]
        fails = failures(base, cand, alpha)
        table = table.merge(fails[CASE_KEY + ['fail_base', 'runs_base', 'fail_cand', 'runs_cand', 'fail_p']],
                            on=CASE_KEY, how='left')
    else:
        fails = failures(base, cand, alpha)
    one_side = _one_side_only(mb, mc)
    return table, one_side, fails


def _outside(m):
    '''Per cell: how many of its values ReFrame failed against the reference.'''
    if 'outside_ref' not in m.columns or m.empty:
        return {}
    return {k: int(v) for k, v in m.groupby(KEY)['outside_ref'].sum().items()}


def _one_side_only(mb, mc):
    '''Cells measured on one side only (a case that failed everywhere counts as absent).'''
    kb = set(map(tuple, mb[KEY].astype(str).to_numpy()))
    kc = set(map(tuple, mc[KEY].astype(str).to_numpy()))
    rows = [dict(zip(KEY, k), side='baseline only') for k in sorted(kb - kc)]
    rows += [dict(zip(KEY, k), side='candidate only') for k in sorted(kc - kb)]
    return pd.DataFrame(rows, columns=KEY + ['side'])


def undecided(table):
    '''The INCONCLUSIVE cells, most runs needed first: what a user must rerun, and how often.'''
    if table.empty:
        return table
    rows = table[table['verdict'] == 'INCONCLUSIVE']
    return rows.sort_values('runs_needed', ascending=False, na_position='first')


def summary(table, fails=None):
    '''Verdict counts: the performance cells, and the cases whose failures changed
    (a REGRESSION or IMPROVEMENT of either kind counts once per cell or case).'''
    counts = table['verdict'].value_counts() if not table.empty else pd.Series(dtype=int)
    out = {v: int(counts.get(v, 0)) for v in VERDICTS}
    if fails is not None and not fails.empty:
        for v, n in fails['verdict'].value_counts().items():
            if v:
                out[v] += int(n)
    return out


def failure_verdicts(fails):
    '''The cases with a failure verdict (regressions first).'''
    if fails.empty:
        return fails
    hit = fails[fails['verdict'] != '']
    return hit.sort_values(['verdict', 'why'], ascending=[False, True])
