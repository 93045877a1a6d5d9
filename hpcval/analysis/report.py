"""Build the run report and the compare report (tables and figures); analysis.document writes them.

The directory is built beside its destination and renamed into place, so a
reader never sees half a report and a failure leaves the old one intact.
"""

import pandas as pd

from hpcval.errors import InputError
from hpcval.analysis import cases as cases_mod
from hpcval.analysis import compare as compare_mod
from hpcval.analysis import document, executive
from hpcval.analysis import figures, gan, matmul, microbench, proposal, provenance, scaling, smallfile, stability
from hpcval.analysis import roles as roles_mod
from hpcval.analysis.textfmt import short_series, slug as _slug

VALUE_COLUMNS = ['pvar', 'value', 'unit', 'ref', 'lower', 'upper', 'better', 'msg_size', 'usable', 'outside_ref']
RESULT_COLUMNS = ['case_id', 'session_uuid', 'run_index', 'system', 'partition', 'environ', 'check',
                  'case', 'num_nodes', 'result', 'fail_phase'] + VALUE_COLUMNS


#: more boxes than one figure can label: the scaling table's CIs say it
MAX_BOXES = 24


#: the sizes the run report extrapolates to when none are asked for: x the largest measured
DEFAULT_EXTRAPOLATION = (2, 4)
#: bootstrap replicates of the report's extrapolation (`hpcval proposal` takes --boot)
REPORT_BOOT = 200


def _extrapolation(rep, frame, prop, targets):
    '''The proposal section's extrapolation (analysis.proposal.extrapolate), labelled a model.'''
    from hpcval.analysis.extrapolation import MAX_FACTOR
    series = proposal.application_series(frame, prop)
    if not series:
        return
    top = min(max(s['runs']) for s in series)
    wanted = sorted(set(targets or [k * top for k in DEFAULT_EXTRAPOLATION]))
    rep.extra['extrapolation_left_out'] = [n for n in wanted if n > MAX_FACTOR * top]
    wanted = [n for n in wanted if n <= MAX_FACTOR * top]
    if wanted:
        ext, _ = proposal.extrapolate(series, wanted, n_boot=REPORT_BOOT)
        rep.tables['extrapolation'] = ext


def _scaling_section(rep, frame, fails, mode, floor, targets=None):
    table = scaling.scaling(frame, mode=mode, floor=floor)
    if table.empty:
        return
    rep.tables['scaling'] = table
    prop, rep.sentences = proposal.table(table, fails, floor)
    rep.tables['proposal'] = prop
    _extrapolation(rep, frame, prop, targets)
    m = cases_mod.measured(cases_mod.columns(scaling.with_series(frame), [
        'check', 'pvar', 'series', 'num_nodes', 'value', 'result', 'usable']))
    for check, g in prop.groupby('check'):
        pvar = g['pvar'].iloc[0]
        # each series scales its own headline (8 B latency, bw at 4 MiB, ...)
        pvars = ', '.join(dict.fromkeys(g['pvar']))
        modes = '/'.join(dict.fromkeys(g['mode']))
        rep.figures[f'speedup_{_slug(check)}'] = (f'{check}: speedup ({pvars})',
                                                  figures.speedup(g, f'{check}: {modes}-scaling speedup ({pvars})'))
        rep.figures[f'efficiency_{_slug(check)}'] = (f'{check}: parallel efficiency ({pvars})',
                                                     figures.efficiency(g, f'{check}: efficiency ({pvars})', floor))
        values = {}
        for (series, n), v in m[(m['check'] == check) & (m['pvar'] == pvar)].groupby(['series', 'num_nodes']):
            nodes = f'{int(n)} node{"s" if n != 1 else ""}'
            label = nodes if g['series'].nunique() == 1 else f'{short_series(series, check)}, {nodes}'
            values[label] = v['value'].to_numpy()
        if values and len(values) <= MAX_BOXES:
            rep.figures[f'boxes_{_slug(check)}'] = (
                f'{check}: {pvar} per node count',
                figures.boxes(values, f'{check}: {pvar} per node count', f'{pvar} ({g["unit"].iloc[0]})'))


def _network_section(rep, frame):
    '''Network checks against the node count: medians and CIs of each series' headline, no speedup.'''
    t = microbench.vs_nodes(frame, proposal.headline_pvar)
    if t.empty:
        return
    rep.tables['network_vs_nodes'] = t
    rep.tables['network_pairs'] = microbench.by_pair(frame, proposal.headline_pvar)
    if t['num_nodes'].nunique() < 2:
        return
    for (check, unit), g in t.groupby(['check', 'unit'], observed=True):
        what = 'bandwidth' if g['better'].iloc[0] == 'higher' else 'latency'
        rep.figures[f'nodes_{_slug(check)}_{_slug(unit)}'] = (
            f'{check}: {what} against node count',
            figures.vs_nodes(g, f'{check}: {what} against node count (median, 95 % CI)', f'{what} ({unit})',
                             logy=what == 'latency'))


def build(dataset, title='hpcval report', mode=None, floor=scaling.DEFAULT_FLOOR, roles=None, caveats=(),
          targets=None):
    '''Dataset -> Report (tables and figures, nothing written yet).

    ``roles``: {check: role} overriding what the checks declare (analysis.roles);
    ``caveats``: sentences the campaign says about how to read its numbers;
    ``targets``: node counts the proposal section extrapolates to (default
    DEFAULT_EXTRAPOLATION x the largest measured).'''
    frame = dataset.frame
    outcomes = provenance.outcomes(frame)
    rep = document.Report(title=title, summary=provenance.summary(frame, outcomes), sessions=dataset.sessions,
                 sources=dataset.sources, warnings=list(dataset.warnings), floor=floor)
    fails = stability.failures(frame)
    role_table = roles_mod.assign(frame, roles)
    rep.tables['roles'] = role_table

    def of(role):
        return frame[frame['check'].isin(roles_mod.checks_of(role_table, role))] if 'check' in frame else frame

    # speedup, efficiency and the Amdahl fit belong to applications only
    _scaling_section(rep, of('application'), fails, mode, floor, targets)
    _network_section(rep, of('network'))
    # one bootstrap per variant pair and node count, on each series' headline
    # variable (latency_8B of a latency curve, bw_4MiB of a bandwidth curve)
    ratios = scaling.variant_ratios(frame, pick=proposal.headline_pvar)
    if not ratios.empty:
        rep.tables['variant_ratios'] = ratios
        rep.figures['variant_ratios'] = ('Variant ratios per node count',
                                         figures.ratios(ratios.head(40), 'Variant ratios (medians, 95 % CI)'))
    curve = microbench.curves(frame)
    if not curve.empty:
        rep.tables['microbench_curves'] = curve
        rep.tables['microbench_key_figures'] = microbench.key_figures(curve)
        for bench in curve['benchmark'].drop_duplicates():
            fig = figures.vs_size(curve, bench)
            if fig is not None:
                what = 'bandwidth' if bench in microbench.BANDWIDTH_BENCHMARKS else 'latency'
                rep.figures[f'{_slug(bench)}_vs_size'] = (f'{bench}: {what} vs message size', fig)
    mm = matmul.table(frame)
    if not mm.empty:
        rep.tables['matmul'] = mm
        rep.figures['matmul_rates'] = ('Matrix multiply rate vs matrix order', figures.matmul_rates(mm))
    per_node = matmul.nodes(frame)
    rep.tables['matmul_nodes'] = per_node
    rep.tables['matmul_spread'] = matmul.spread(per_node)
    gt = gan.table(frame)
    if not gt.empty:
        rep.tables['gan_scaling'] = gt
        rep.figures['gan_scaling'] = ('3D-GAN samples/s per rank count', figures.gan_scaling(gt))
    io = smallfile.table(frame)
    if not io.empty:
        rep.tables['smallfile_io'] = io
        rep.figures['smallfile_io'] = ('Small-file metadata rates per target', figures.io_rates(io))
    rep.tables['stability_failures'] = fails
    rep.extra['pooled'] = stability.pooled(fails)
    rep.extra['pooled']['text'] = executive.rate_text(rep.extra['pooled'])
    rep.extra['failed_stability'] = fails[fails['failures'] > 0] if not fails.empty else fails
    var = stability.variability(frame)
    rep.tables['stability_variability'] = var
    rep.extra['variability_headline'] = _headline_variability(var, frame)
    sn = stability.suspicious_nodes(frame)
    rep.tables['suspicious_nodes'] = sn
    # every node of a failed case, flagged or not: a crashed node shows up here
    rep.tables['failed_nodes'] = sn[(sn['failed'] > 0) | sn['suspicious']] if not sn.empty else sn
    rep.tables['cases'] = outcomes
    rep.tables['provenance'] = provenance.cases(frame)
    heads = executive.headlines(frame, role_table, rep.sentences)
    rep.tables['headlines'] = heads
    rep.extra['executive'] = {
        'where': executive.where(rep.tables['provenance']),
        'verdict': executive.verdict(rep.summary, rep.extra['pooled']),
        'findings': executive.findings(rep.tables['matmul_spread'], rep.tables.get('network_pairs')),
        'environment': executive.environment_results(frame, role_table),
        'caveats': executive.caveats(frame, role_table, heads, caveats),
        'headlines': heads.head(executive.MAX_HEADLINES)}
    rep.tables['environment'] = provenance.environment(frame)
    rep.tables['sessions'] = dataset.sessions
    rep.tables['warnings'] = pd.DataFrame(rep.warnings, columns=['file', 'case', 'warning'])
    # the tidy frame, normalised for size: values keyed by case_id, case attributes once
    rep.tables['results'] = frame[[c for c in RESULT_COLUMNS if c in frame.columns]]
    rep.tables['case_attributes'] = cases_mod.per_case(frame, list(frame.columns)).drop(
        columns=[c for c in VALUE_COLUMNS if c in frame.columns])
    return rep


def _headline_variability(var, frame):
    if var.empty:
        return var
    # per case: one check declares a different figure per variant (latency_8B, bw_1MiB)
    narrow = cases_mod.with_case(cases_mod.columns(frame, ['display_name', 'case', 'scaling_pvar']))
    declared = {str(c): scaling.declared_pvar(g) for c, g in narrow.groupby('case', observed=True)}
    keep = []
    for case, g in var.groupby('case', observed=True):
        named = g.assign(scaling_pvar=declared.get(str(case), ''))
        keep.append(g[g['pvar'] == proposal.headline_pvar(named)])
    return pd.concat(keep, ignore_index=True)


def build_compare(base, cand, delta=0.05, alpha=0.05, strict=False, title='hpcval compare', pvars=None):
    '''Two Datasets -> a Report of verdicts (tables, forest plot); ``pvars``:
    regular expressions limiting the compared variables (and the Holm family).'''
    table, one_side, fails = compare_mod.compare(base.frame, cand.frame, delta, alpha, strict, pvars=pvars)
    if table.empty and not (fails['why'] != compare_mod.LOST_ABSENT).any():
        # not one case on both sides: other runs than meant, not a regression
        raise InputError(cand.sources[0] if len(cand.sources) == 1 else f'{len(cand.sources)} candidate files',
                         'nothing to compare: no test case in common with the baseline '
                         f'({_some_cases(base.frame)} against {_some_cases(cand.frame)})')
    rep = document.Report(title=title, summary=compare_mod.summary(table, fails), sessions=pd.concat(
        [base.sessions.assign(side='baseline'), cand.sessions.assign(side='candidate')], ignore_index=True),
        sources=base.sources + cand.sources, warnings=list(base.warnings) + list(cand.warnings))
    rep.extra.update(delta=delta, alpha=alpha, strict=strict, kind='compare', pvars=list(pvars or []),
                     baseline=base.sources, candidate=cand.sources)
    rep.tables['verdicts'] = table
    rep.extra['undecided'] = compare_mod.undecided(table)
    rep.tables['one_side_only'] = one_side
    rep.tables['failures'] = fails
    rep.extra['failure_verdicts'] = compare_mod.failure_verdicts(fails)
    rep.tables['sessions'] = rep.sessions
    if not table.empty:
        rep.figures['forest'] = ('Candidate / baseline per case and variable',
                                 figures.forest(table, delta, f'Verdicts (δ = {delta:.0%})'))
    return rep


def _some_cases(frame):
    names = frame['case'].dropna().astype(str).unique() if 'case' in frame.columns else []
    shown = ', '.join(sorted(names)[:2]) + (', ...' if len(names) > 2 else '')
    return f'{len(names)} case(s): {shown}' if len(names) else 'no case'


def render(rep, outdir, inputs=()):
    '''Write ``rep`` to ``outdir`` whole (analysis.outdir says which folders may be); returns index.html.

    ``inputs``: the paths the report was made from, besides ``rep.sources``.
    '''
    if rep.extra.get('kind') == 'compare':
        return document.write(rep, outdir, 'compare', 'compare.html.j2', 'compare.md.j2', inputs=inputs)
    if rep.extra.get('kind') == 'validate-image':
        return document.write(rep, outdir, 'validate-image', 'validate.html.j2', 'validate.md.j2', inputs=inputs)
    cases = rep.tables.get('cases', pd.DataFrame(columns=['result']))
    return document.write(rep, outdir, 'report', 'index.html.j2', 'report.md.j2', inputs=inputs,
                          context={'failed_cases': cases[cases_mod.failed(cases['result'])],
                                   'outlier_below': matmul.OUTLIER_BELOW, 'pair_off': microbench.PAIR_OFF})
