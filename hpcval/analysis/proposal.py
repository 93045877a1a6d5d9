"""The proposal view: per check, one headline variable across node counts.

Columns as allocation programmes ask for them (N, median, 95 % CI, speedup,
efficiency, node-hours per run, CoV, failures/runs) plus one sentence.
"""
import math
import re

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


#: the columns of tables/extrapolation.csv, in order (the first nine are promised to users)
EXTRAPOLATION_COLUMNS = ['check', 'pvar', 'variant', 'nodes', 'predicted', 'lo', 'hi', 'model',
                         'measured_max_nodes', 'unit', 'better', 'mode', 'range', 'factor', 'flag',
                         'measured_median', 'measured_lo', 'measured_hi', 'mean_lo', 'mean_hi',
                         'efficiency', 'node_hours_per_run', 'node_hours_lo', 'node_hours_hi',
                         'cv_smape', 'held_out_nodes', 'held_out_error', 'series']
#: what a row of the extrapolation table is: measured, inside the measured range, or a model's forecast
MEASURED, INTERPOLATED, MODEL = 'measured', 'interpolated (model)', 'extrapolated (MODEL)'


#: a parameter without a value in a display name (``%image=`` of a case that set its image later)
_EMPTY_PARAM = re.compile(r'(?:^|\s)[\w.]+=(?=\s|$)')


def application_series(frame, scaling_table):
    '''One dict per application series of the scaling table: its headline variable,
    the run values per node count, the job wall times and the steps of a run.'''
    from hpcval.analysis.cases import columns, measured
    from hpcval.analysis.textfmt import short_series
    if scaling_table.empty:
        return []
    keys = ['system', 'partition', 'environ', 'check', 'series']
    f = measured(columns(scaling_mod.with_series(frame), keys + ['pvar', 'num_nodes', 'value', 'unit', 'better',
                                                                  'result', 'usable', 'job_seconds', 'steps']))
    out = []
    for key, g in scaling_table.groupby(keys, sort=True):
        pvar = headline_pvar(g)
        sel = g[g['pvar'] == pvar].sort_values('num_nodes')
        rows = f[(f[keys] == pd.Series(dict(zip(keys, key)))).all(axis=1) & (f['pvar'] == pvar)]
        rows = rows[rows['num_nodes'].notna()]
        runs = {int(n): v.to_numpy(float) for n, v in rows.groupby('num_nodes')['value']}
        job = {}
        if 'job_seconds' in rows.columns:
            secs = pd.to_numeric(rows['job_seconds'], errors='coerce')
            job = {int(n): v.dropna().to_numpy(float) for n, v in secs.groupby(rows['num_nodes'])}
            job = {n: v for n, v in job.items() if len(v)}
        steps = pd.to_numeric(rows['steps'], errors='coerce').dropna() if 'steps' in rows.columns else pd.Series()
        variant = _EMPTY_PARAM.sub('', short_series(key[4], key[3])).strip()
        out.append({'key': dict(zip(keys, key)), 'check': key[3], 'series': key[4], 'variant': variant,
                    'pvar': pvar, 'unit': sel['unit'].iloc[0], 'better': sel['better'].iloc[0],
                    'mode': sel['mode'].iloc[0], 'scaling': sel,
                    'runs': runs, 'job': job, 'steps': float(steps.median()) if len(steps) else math.nan})
    return out


def model_text(s, fom):
    '''The chosen formula as the tables print it; a rate's model is of its inverse, and says so.'''
    if fom.model is None:
        return f'no model: {fom.why}'
    return f"1/{s['pvar']} = {fom.model.text()}" if fom.inverted else fom.model.text()


def _efficiency(s, value, n):
    base = s['scaling'].iloc[0]
    return scaling_mod.efficiency(s['mode'], s['better'], base['median'], value, n / base['num_nodes'])


def extrapolate(series, targets, level=0.95, n_boot=400, seed=0):
    '''The extrapolation table (``EXTRAPOLATION_COLUMNS``), one row per series and
    requested size, and per series its models: {(check, series): {'fom': Extrapolation,
    'job': Extrapolation or None}} (analysis.extrapolation).'''
    from hpcval.analysis import extrapolation, stats
    rows, models = [], {}
    for s in series:
        fom = extrapolation.extrapolate(s['runs'], targets, better=s['better'], level=level, n_boot=n_boot, seed=seed)
        job = (extrapolation.extrapolate(s['job'], targets, better='lower', level=level, n_boot=n_boot, seed=seed)
               if len(s['job']) >= 2 else None)
        models[(s['check'], s['series'])] = {'fom': fom, 'job': job}
        job_rows = {r['nodes']: r for r in (job.rows if job is not None and job.model is not None else [])}
        held = fom.held_out or {}
        for r in (fom.rows if fom.model is not None else [{'nodes': n} for n in targets]):
            n = int(r['nodes'])
            med, lo, hi, _ = stats.median_ci(s['runs'][n]) if n in s['runs'] else (math.nan,) * 4
            predicted = r.get('predicted', math.nan)
            if n in s['job']:
                jm, jlo, jhi, _ = stats.median_ci(s['job'][n])
            elif n in job_rows:
                jm, jlo, jhi = job_rows[n]['predicted'], job_rows[n]['mean_lo'], job_rows[n]['mean_hi']
            else:
                jm = jlo = jhi = math.nan
            where = MEASURED if n in s['runs'] else (INTERPOLATED if n <= max(s['runs']) else MODEL)
            rows.append({'check': s['check'], 'pvar': s['pvar'], 'variant': s['variant'], 'nodes': n,
                         'predicted': predicted, 'lo': r.get('lo', math.nan), 'hi': r.get('hi', math.nan),
                         'model': model_text(s, fom),
                         'measured_max_nodes': max(s['runs']), 'unit': s['unit'], 'better': s['better'],
                         'mode': s['mode'], 'range': where, 'factor': n / max(s['runs']),
                         'flag': r.get('flag', ''), 'measured_median': med, 'measured_lo': lo, 'measured_hi': hi,
                         'mean_lo': r.get('mean_lo', math.nan), 'mean_hi': r.get('mean_hi', math.nan),
                         'efficiency': _efficiency(s, med if n in s['runs'] else predicted, n),
                         'node_hours_per_run': n * jm / 3600, 'node_hours_lo': n * jlo / 3600,
                         'node_hours_hi': n * jhi / 3600,
                         'cv_smape': fom.model.smape if fom.model is not None else math.nan,
                         'held_out_nodes': held.get('nodes', math.nan),
                         'held_out_error': held.get('rel_error', math.nan), 'series': s['series']})
    return pd.DataFrame(rows, columns=EXTRAPOLATION_COLUMNS), models


def plan_inputs(series, models):
    '''What analysis.allocation.node_hours needs of each series (the plan's sizes must
    have been among the targets of ``extrapolate``).'''
    from hpcval.analysis import stats
    out = []
    for s in series:
        job = models[(s['check'], s['series'])]['job']
        fn, text = None, ''
        if job is not None and job.model is not None:
            at = {int(r['nodes']): r for r in job.rows}

            def fn(n, at=at):
                r = at.get(int(n), {})
                return r.get('predicted', math.nan), r.get('mean_lo', math.nan), r.get('mean_hi', math.nan)
            text = job.model.text()
        measured = {n: stats.median_ci(v)[:3] for n, v in s['job'].items()}
        out.append({'check': s['check'], 'series': s['series'], 'variant': s['variant'], 'job': measured,
                    'job_model': fn, 'job_model_text': text, 'steps': s['steps']})
    return out
