"""The proposal report (`hpcval proposal`): measured scaling, an extrapolation labelled a
model, and the node-hours a production plan needs; every table also as Markdown and
LaTeX, every figure also as SVG and PDF, ready to paste.

Speedup and efficiency are relative to the smallest node count measured (ARCHER2:
"relative to the smallest number of cores that can be used feasibly"); the
efficiency floor defaults to 0.75 (NCI's "reasonable minimum").  Application-role
checks only: a microbenchmark or a per-node kernel is not divided work.
"""
import math

import numpy as np
import pandas as pd

from hpcval.analysis import allocation, document, extrapolation, figures, proposal, provenance, roles as roles_mod
from hpcval.analysis import scaling
from hpcval.analysis import stability
from hpcval.analysis.pastable import latex, markdown
from hpcval.analysis.textfmt import fmt, pct, slug
from hpcval.errors import InputError, UsageError

#: node counts of the model curve drawn between the smallest and the largest size shown
CURVE_POINTS = 60


def _ci(lo, hi):
    return f'{fmt(lo)}-{fmt(hi)}' if lo == lo and hi == hi else 'too few runs'


def _scaling_display(table):
    rows = []
    for r in table.itertuples():
        rows.append({'application': r.check, 'variant': r.variant, 'nodes': r.num_nodes,
                     'runs': r.runs, 'median': f'{fmt(r.median)} {r.unit}', '95 % CI': _ci(r.ci_lo, r.ci_hi),
                     'speedup': fmt(r.speedup),
                     'efficiency': pct(r.efficiency) + ('' if r.meets_floor else ' (below floor)'),
                     'node-hours / run': fmt(r.node_hours_per_run),
                     'failures / runs': f'{fmt(r.failures)} / {fmt(r.cases_run)}'})
    return pd.DataFrame(rows)


def _extrapolation_display(table):
    rows = []
    for r in table.itertuples():
        measured = r.range == proposal.MEASURED
        value = (f'{fmt(r.measured_median)} (measured)' if measured else f'{fmt(r.predicted)} (model)')
        interval = (_ci(r.measured_lo, r.measured_hi) if measured else _ci(r.lo, r.hi))
        rows.append({'application': r.check, 'variant': r.variant, 'nodes': r.nodes, 'range': r.range,
                     f'figure ({r.unit})': value, '95 % interval': interval,
                     'efficiency': pct(r.efficiency), 'node-hours / run': fmt(r.node_hours_per_run),
                     'model': r.model, 'note': r.flag})
    return pd.DataFrame(rows)


def _plan_display(table):
    return pd.DataFrame([{'production': r.line, 'application': r.check, 'variant': r.variant, 'nodes': r.nodes,
                          'runs': r.runs, 'hours / run': fmt(r.hours_per_run),
                          'node-hours': fmt(r.node_hours),
                          '95 % interval': _ci(r.node_hours_lo, r.node_hours_hi), 'basis': r.basis}
                         for r in table.itertuples()])


def _models_table(series, models):
    rows = []
    for s in series:
        m = models[(s['check'], s['series'])]
        fom, job = m['fom'], m['job']
        held = fom.held_out or {}
        rows.append({'check': s['check'], 'variant': s['variant'], 'pvar': s['pvar'], 'unit': s['unit'],
                     'mode': s['mode'], 'nodes_measured': ','.join(map(str, sorted(s['runs']))),
                     'runs': sum(len(v) for v in s['runs'].values()),
                     'model': proposal.model_text(s, fom) if fom.model is not None else '',
                     'form': fom.model.form() if fom.model is not None else '',
                     'of_inverse': fom.inverted,
                     'why_no_model': fom.why, 'cv_smape': fom.model.smape if fom.model is not None else math.nan,
                     'held_out_nodes': held.get('nodes', math.nan),
                     'held_out_predicted': held.get('predicted', math.nan),
                     'held_out_measured': held.get('measured', math.nan),
                     'held_out_error': held.get('rel_error', math.nan),
                     'wall_time_model': job.model.text() if job is not None and job.model is not None else ''})
    return pd.DataFrame(rows)


def _summary(s, fom, ext, floor):
    '''What the summary says of one series: its sentence, its model, the held-out check,
    and where the model puts the efficiency floor among the sizes asked for.'''
    held = fom.held_out or {}
    text = ''
    mine = ext[(ext['series'] == s['series']) & (ext['range'] != proposal.MEASURED)].sort_values('nodes')
    below = mine[mine['efficiency'] < floor]
    at_floor = ('' if mine.empty else
                f"the model keeps {pct(floor)} efficiency at every size asked for (up to {mine['nodes'].max()} nodes)"
                if below.empty else f"the model falls below {pct(floor)} efficiency at {below['nodes'].iloc[0]} nodes")
    if held:
        text = (f"fitted without {int(held['nodes'])} nodes it predicted {fmt(held['predicted'])} {s['unit']} "
                f"there against {fmt(held['measured'])} measured ({pct(held['rel_error'])} off)")
    if fom.model is not None and not held:
        text = (f"no held-out check: {len(s['runs'])} node counts measured, "
                f'{extrapolation.MIN_POINTS + 1} needed to leave one out')
    sentence = f"{s['pvar']} {scaling.sentence(s['scaling'], floor)}."
    return {'name': f"{s['check']} {s['variant']}".strip(), 'sentence': sentence,
            'model': proposal.model_text(s, fom) if fom.model is not None else '',
            'cv_smape': fom.model.smape if fom.model is not None else math.nan, 'held_out': text, 'why': fom.why,
            'at_floor': at_floor}


def _curve(s, fom, top):
    '''The model's values from the smallest measured size to ``top``, in the figure's unit.'''
    if fom.model is None:
        return None
    x = np.geomspace(min(s['runs']), top, CURVE_POINTS)
    y = np.asarray(fom.model.predict(x), float)
    # rates are modelled as time per unit of work (analysis.extrapolation)
    return x, (1 / y if s['better'] == 'higher' else y)


def _figures(rep, series, models, ext):
    for check in dict.fromkeys(s['check'] for s in series):
        mine = [s for s in series if s['check'] == check]
        kinds = list(dict.fromkeys((s['unit'], s['mode']) for s in mine))
        for unit, mode in kinds:
            group = [s for s in mine if (s['unit'], s['mode']) == (unit, mode)]
            # what the series of one figure share (their mode, a fixed ranks_per_node) goes unsaid
            common = set.intersection(*(set(s['variant'].split()) for s in group))
            label = {s['series']: ' '.join(t for t in s['variant'].split() if t not in common) or check
                     for s in group}
            measured = pd.concat([s['scaling'].assign(label=label[s['series']]) for s in group], ignore_index=True)
            pred = ext[ext['series'].isin(label)]
            pred = pred.assign(label=pred['series'].map(label))
            top = int(max(measured['num_nodes'].max(), pred['nodes'].max() if not pred.empty else 0))
            curves = {}
            for s in group:
                c = _curve(s, models[(s['check'], s['series'])]['fom'], top)
                if c is not None:
                    curves[label[s['series']]] = c
            pvars = ', '.join(dict.fromkeys(s['pvar'] for s in group))
            name = f'extrapolation_{slug(check)}' + ('' if len(kinds) == 1 else f'_{slug(unit)}_{mode}')
            rep.figures[name] = (f'{check}: {pvars}, {mode} scaling, measured and modelled against nodes',
                                 figures.extrapolation(measured, pred, curves, max(measured['num_nodes']),
                                                       f'{check}: {pvars}, {mode} scaling (measured; dashed: model)',
                                                       f'{pvars} ({unit}), median; bars: 95 % CI / interval'))
        prop = rep.tables['scaling']
        g = prop[prop['check'] == check]
        rep.figures[f'efficiency_{slug(check)}'] = (f'{check}: parallel efficiency (measured)',
                                                    figures.efficiency(g, f'{check}: efficiency (measured)', rep.floor))


def build(dataset, targets, plan_lines=(), title='hpcval proposal', mode=None, floor=scaling.DEFAULT_FLOOR,
          roles=None, caveats=(), level=0.95, n_boot=400, seed=0, beyond=False):
    '''Dataset -> Report of kind 'proposal' (tables, figures, pastable files in ``extra``).

    InputError when no application series ran at two node counts or more; UsageError
    when a size asked for (``targets``, the plan's) lies past MAX_FACTOR x the largest
    measured one of a series, unless ``beyond`` (then those rows are flagged).'''
    frame = dataset.frame
    role_table = roles_mod.assign(frame, roles)
    apps = frame[frame['check'].isin(roles_mod.checks_of(role_table, 'application'))] if 'check' in frame else frame
    table = scaling.scaling(apps, mode=mode, floor=floor)
    fails = stability.failures(frame)
    rep = document.Report(title=title, summary=provenance.summary(frame), sessions=dataset.sessions,
                          sources=dataset.sources, warnings=list(dataset.warnings), floor=floor)
    rep.extra.update(kind='proposal', level=level, targets=list(targets), caveats=list(caveats), n_boot=n_boot,
                     roles=role_table, max_factor=_max_factor())
    if table.empty:
        named = ', '.join(f'{r.check} ({r.role})' for r in role_table.itertuples()) or 'no check'
        raise InputError(dataset.sources[0] if len(dataset.sources) == 1 else f'{len(dataset.sources)} inputs',
                         f'no application series measured at two or more node counts to scale ({named}); '
                         '--role CHECK=application if one is')
    prop, rep.sentences = proposal.table(table, fails, floor)
    series = proposal.application_series(frame, prop)
    prop = prop.assign(variant=prop.apply(lambda r: next(s['variant'] for s in series
                                                         if s['series'] == r['series'] and s['check'] == r['check']),
                                          axis=1))
    rep.tables['scaling'] = prop
    fewest = min(len(s['runs']) for s in series)
    if fewest <= extrapolation.MIN_POINTS:
        rep.extra['caveats'].insert(0, (
            f'Only {fewest} node counts measured in a series: its model is a one-term curve through '
            f'{fewest} points that no held-out size can check, so its extrapolation shows where these '
            'points lead, not a forecast. Measure more node counts (two-term models need '
            f'{extrapolation.TWO_TERM_POINTS}).'))
    wanted = sorted(set(targets) | {int(line['nodes']) for line in plan_lines})
    _refuse_far(series, wanted, beyond)
    ext, models = proposal.extrapolate(series, wanted, level=level, n_boot=n_boot, seed=seed)
    shown = ext[ext['nodes'].isin(set(targets))]
    rep.tables['extrapolation'] = shown.reset_index(drop=True)
    rep.extra['summary'] = [_summary(s, models[(s['check'], s['series'])]['fom'], shown, floor)
                            for s in series]
    rep.tables['models'] = _models_table(series, models)
    rep.tables['provenance'] = provenance.cases(apps)
    rep.tables['sessions'] = dataset.sessions
    rep.tables['warnings'] = pd.DataFrame(rep.warnings, columns=['file', 'case', 'warning'])
    pastes = {'scaling': (_scaling_display(prop), 'Measured scaling relative to the smallest node count'),
              'extrapolation': (_extrapolation_display(shown),
                                'Measured and modelled (performance-model normal form) figures per node count')}
    if plan_lines:
        plan = allocation.node_hours(plan_lines, proposal.plan_inputs(series, models))
        rep.tables['plan'] = plan
        rep.extra['unmatched'] = allocation.unmatched(plan_lines, series)
        pastes['plan'] = (_plan_display(plan), 'Node-hours requested for the production plan')
    rep.extra['pastes'] = {name: display for name, (display, _) in pastes.items()}
    rep.extra['files'] = {}
    rep.extra['markdown'] = {'provenance': markdown(rep.tables['provenance'])}
    for name, (display, caption) in pastes.items():
        rep.extra['markdown'][name] = markdown(display)
        rep.extra['files'][f'tables/{name}.md'] = markdown(display)
        rep.extra['files'][f'tables/{name}.tex'] = latex(display, caption, f'tab:hpcval-{name}')
    _figures(rep, series, models, shown)
    return rep


def _refuse_far(series, wanted, beyond):
    from hpcval.analysis.extrapolation import MAX_FACTOR
    top = min(max(s['runs']) for s in series)
    if beyond or max(wanted) <= MAX_FACTOR * top:
        return
    raise UsageError(f'{max(wanted)} nodes is past {MAX_FACTOR} x the largest size measured ({top} nodes'
                     f'{"" if len({max(s["runs"]) for s in series}) == 1 else " in some series"}): '
                     f'no model supports that; measure larger, ask for at most {MAX_FACTOR * top}, '
                     'or pass --beyond-10x to see it flagged')


def _max_factor():
    from hpcval.analysis.extrapolation import MAX_FACTOR
    return MAX_FACTOR


def render(rep, outdir, inputs=()):
    '''Write the proposal report whole; returns index.html.'''
    import markupsafe
    # tables already escaped cell by cell (pastable.markdown): the template must not escape them again
    tables_md = {k: markupsafe.Markup(v) for k, v in rep.extra.get('markdown', {}).items()}
    return document.write(rep, outdir, 'proposal', 'proposal.html.j2', 'proposal.md.j2', inputs=inputs,
                          draw=document.with_pdf, extra_files=rep.extra.get('files'), context={'md_tables': tables_md})
