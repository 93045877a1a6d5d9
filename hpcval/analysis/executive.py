"""The executive summary: what ran where, the verdict, one headline per
workload series with its CI, and the caveats that change how to read them.

A headline is the series' declared figure of merit (or the one the proposal
view would quote) at the largest node count measured, median and 95 %
order-statistic CI; the sentence after it follows the check's role.
"""
import math
import re

import pandas as pd

from hpcval.analysis import matmul, proposal, roles as roles_mod, scaling, stats
from hpcval.analysis.cases import PASSED
from hpcval.analysis.textfmt import fmt, short_series

#: a variant, and what the summary says about each
VARIANT_COLUMNS = ['system', 'partition', 'runtime', 'mpi', 'fabric']
#: mpi_library_path: the file each rank loaded (what proves host vs bundled MPI in a container)
WHERE_COLUMNS = ['mpi_library', 'mpi_library_path', 'transport', 'image', 'image_digest']
#: headlines shown in the summary; the rest are in tables/headlines.csv
MAX_HEADLINES = 24


def where(provenance):
    '''One row per variant that ran (system, partition, runtime, MPI, fabric): the MPI
    libraries and transports its binaries reported, its image digests, cases and nodes.'''
    if provenance.empty:
        return provenance
    keys = [c for c in VARIANT_COLUMNS if c in provenance.columns]
    facts = [c for c in WHERE_COLUMNS if c in provenance.columns and c not in keys]
    agg = {c: (c, _distinct) for c in facts}
    agg['cases'] = ('cases', 'sum')
    if 'hosts' in provenance.columns:
        agg['nodes'] = ('hosts', _union)
    return provenance.groupby(keys, dropna=False, sort=True).agg(**agg).reset_index()


def _distinct(texts):
    return '; '.join(dict.fromkeys(t for t in map(str, texts) if t and t != 'nan'))


def _union(texts):
    nodes = sorted({n for t in texts for n in str(t).split(',') if n and n != 'nan' and not n.startswith('...')})
    return ','.join(nodes[:8]) + (f',... ({len(nodes)})' if len(nodes) > 8 else '')


def headlines(frame, role_table, sentences):
    '''check x series -> the headline at the largest node count, with what the role says about it.

    A check that records no node count (a foreign one) is headlined too, its
    node count "not recorded".'''
    rows = []
    for r in role_table.itertuples():
        if r.role == 'environment':
            continue
        f = frame[frame['check'] == r.check]
        known = 'num_nodes' in f.columns and f['num_nodes'].notna().any()
        nodes = scaling.by_nodes(f if known else f.assign(num_nodes=0))
        if nodes.empty:
            continue
        declared = {s: scaling.declared_pvar(g) for s, g in scaling.with_series(f).groupby('series', observed=True)}
        medians = nodes.set_index(['series', 'pvar', 'num_nodes'])['median']
        for series, g in nodes.groupby('series', observed=True):
            g = g.assign(scaling_pvar=declared.get(series, ''))
            top = g[g['pvar'] == proposal.headline_pvar(g)].sort_values('num_nodes').iloc[-1]
            peers = g[g['num_nodes'] == top['num_nodes']].set_index('pvar')['median']
            if r.role == 'application':
                note = sentences.get((r.check, series), '').partition(': ')[2]
            elif r.role == 'io':
                note = _io_note(series, top, medians)
            else:
                note = _note(r.role, top, peers)
            rows.append({'check': r.check, 'role': r.role, 'series': series, 'pvar': top['pvar'],
                         'num_nodes': int(top['num_nodes']) if known else 'not recorded', 'median': top['median'],
                         'ci_lo': top['ci_lo'], 'ci_hi': top['ci_hi'], 'unit': top['unit'], 'runs': int(top['runs']),
                         'note': note})
    return pd.DataFrame(rows, columns=['check', 'role', 'series', 'pvar', 'num_nodes', 'median', 'ci_lo', 'ci_hi',
                                       'unit', 'runs', 'note'])


_TARGET = re.compile(r'%target=\S+')


def _io_note(series, top, medians):
    '''An I/O rate at the largest node count, as a share of the ramdisk's at the same count.'''
    ram = _TARGET.sub('%target=ramdisk', series)
    if ram == series or (ram, top['pvar'], top['num_nodes']) not in medians.index:
        return 'at the largest node count'
    share = 100 * top['median'] / medians[(ram, top['pvar'], top['num_nodes'])]
    return f'at the largest node count; {fmt(share)} % of the ramdisk\'s rate'


#: a kernel's limits, measured first: what its "% of peak" is of
PEAKS = (('measured_peak', 'measured peak'), ('nominal_peak', 'nominal peak'))


def _note(role, top, peers):
    '''The reading of a headline; ``peers``: pvar -> median of the same series and node count.'''
    if role == 'kernel':
        for pvar, what in PEAKS:
            if pvar in peers and peers[pvar] > 0:
                share = fmt(100 * top['median'] / peers[pvar])
                return f'per node; {share} % of the {what} ({fmt(peers[pvar])} {top["unit"]})'
        return 'per node'
    return {'network': 'at the largest node count; no speedup (a microbenchmark)'}.get(role, '')


def caveats(frame, role_table, heads, declared=()):
    '''What changes how to read the numbers: the campaign's own words first.'''
    out = list(declared)
    few = heads[heads['runs'] < stats.TOO_FEW_RUNS] if not heads.empty else heads
    if not few.empty:
        out.append(f'{len(few)} of {len(heads)} headline figure(s) rest on fewer than {stats.TOO_FEW_RUNS} runs '
                   f'(as few as {few["runs"].min()}): their 95 % CIs are wide or cannot be given; repeat more '
                   'for figures to quote.')
    guessed = role_table[role_table['how'] == roles_mod.GUESSED]
    if not guessed.empty:
        out.append('Role guessed (the check declares none): ' + ', '.join(
            f'{c} as {r}' for c, r in zip(guessed['check'], guessed['role'])) + '; set it with --role CHECK=ROLE.')
    plain = role_table[role_table['how'] == roles_mod.NONE]
    if not plain.empty:
        out.append('No role for ' + ', '.join(plain['check']) + ': shown as per-case tables only.')
    return out


def findings(spread, pairs=None):
    '''What the per-node tables found that a median hides: the outlier GEMM nodes
    (``spread``: analysis.matmul.spread) and the suspect links (``pairs``:
    analysis.microbench.by_pair).'''
    out = []
    if not spread.empty:
        out += [f'GEMM outlier node(s) {r.outliers}: more than {fmt(100 * matmul.OUTLIER_BELOW)} % under the median '
                f'of the {r.nodes} nodes ({r.variant}, n={r.n}; spread {fmt(r.spread_pct)} %).'
                for r in spread[spread['outliers'] != ''].itertuples()]
    if pairs is not None and not pairs.empty:
        out += [f'Suspect link {r.pair}: {r.pvar} {fmt(r.median)} {r.unit}, {fmt(r.vs_pairs_pct)} % of the median '
                f'of {r.pairs} node pairs ({short_series(r.series, r.check)}).'
                for r in pairs[pairs['suspect']].itertuples()]
    return out


def environment_results(frame, role_table):
    '''Every case of an environment-role check (the $HOME trap): passed or failed,
    with the reason ReFrame gave, and what the check resolved where it says.'''
    checks = roles_mod.checks_of(role_table, 'environment')
    cols = ['check', 'display_name', 'result', 'fail_phase', 'fail_reason', 'resolved']
    f = frame[frame['check'].isin(checks)] if checks else frame.iloc[0:0]
    per = f.drop_duplicates('case_id') if 'case_id' in f.columns else f.drop_duplicates('display_name')
    per = per[[c for c in cols if c in per.columns]].astype(object).reset_index(drop=True)
    per['reason'] = [r.get('fail_reason') if r.get('result') not in PASSED else
                     ('passed' + (f': {r["resolved"]}' if isinstance(r.get('resolved'), str) and r['resolved'] else ''))
                     for r in per.to_dict('records')]
    return per[[c for c in ('check', 'display_name', 'result', 'reason') if c in per.columns]]


def verdict(summary, pooled):
    '''One line: all passed, or how many failed.'''
    if not summary['cases']:
        return 'No test case ran.'
    if summary['failed']:
        return (f"{summary['failed']} of {summary['cases']} test case(s) FAILED "
                f"({pooled['failures']} of {pooled['runs']} runs); see Stability.")
    tail = f", {summary['skipped']} skipped" if summary['skipped'] else ''
    if summary.get('unknown'):
        return (f"No test case failed; {summary['unknown']} of {summary['cases']} of unknown result "
                f"(their perflogs log none), {summary['passed']} passed{tail}.")
    return f"All {summary['passed']} test case(s) passed{tail}."


def rate_text(p):
    if not p['runs']:
        return 'no runs'
    ci = '' if math.isnan(p['ci_lo']) else f" (95 % CI {100 * p['ci_lo']:.1f} – {100 * p['ci_hi']:.1f} %)"
    return f"{p['failures']} of {p['runs']} runs failed, {100 * p['rate']:.1f} %{ci}"
