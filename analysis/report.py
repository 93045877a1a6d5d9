"""Assemble a report directory: index.html, report.md, tables/*.csv, figures/*.

The directory is built beside its destination and renamed into place, so a
reader never sees half a report and a failure leaves the old one intact.
"""
import base64
from concurrent.futures import ThreadPoolExecutor
import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd

from analysis import outdir as outdir_mod
from analysis.outdir import write_csv
from analysis.textfmt import count as _count, fmt as _fmt, markdown_env as _markdown_env, pct as _pct, slug as _slug
from analysis import cases as cases_mod
from analysis import compare as compare_mod
from analysis import figures, gan, matmul, microbench, proposal, provenance, scaling, smallfile, stability

TEMPLATES = Path(__file__).with_name('templates')
VALUE_COLUMNS = ['pvar', 'value', 'unit', 'ref', 'lower', 'upper', 'better', 'msg_size', 'usable']
RESULT_COLUMNS = ['case_id', 'session_uuid', 'run_index', 'system', 'partition', 'environ', 'check',
                  'case', 'num_nodes', 'result'] + VALUE_COLUMNS


@dataclass
class Report:
    title: str
    summary: dict
    tables: dict = field(default_factory=dict)     # name -> DataFrame (written as CSV)
    figures: dict = field(default_factory=dict)    # name -> (title, Figure)
    sessions: pd.DataFrame = None
    sources: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    sentences: dict = field(default_factory=dict)  # (check, series) -> one sentence
    floor: float = scaling.DEFAULT_FLOOR
    extra: dict = field(default_factory=dict)      # anything a template needs besides tables


#: more boxes than one figure can label: the scaling table's CIs say it
MAX_BOXES = 24


def _scaling_section(rep, frame, fails, mode, floor):
    table = scaling.scaling(frame, mode=mode, floor=floor)
    if table.empty:
        return
    rep.tables['scaling'] = table
    prop, rep.sentences = proposal.table(table, fails, floor)
    rep.tables['proposal'] = prop
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
            label = f'{int(n)} n' if g['series'].nunique() == 1 else f'{figures.short_series(series, check)}, {int(n)} n'
            values[label] = v['value'].to_numpy()
        if values and len(values) <= MAX_BOXES:
            rep.figures[f'boxes_{_slug(check)}'] = (
                f'{check}: {pvar} per node count',
                figures.boxes(values, f'{check}: {pvar} per node count', f'{pvar} ({g["unit"].iloc[0]})'))


def build(dataset, title='hpcval report', mode=None, floor=scaling.DEFAULT_FLOOR):
    '''Dataset -> Report (tables and figures, nothing written yet).'''
    frame = dataset.frame
    outcomes = provenance.outcomes(frame)
    rep = Report(title=title, summary=provenance.summary(frame, outcomes), sessions=dataset.sessions,
                 sources=dataset.sources, warnings=list(dataset.warnings), floor=floor)
    fails = stability.failures(frame)
    _scaling_section(rep, frame, fails, mode, floor)
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
        for name, fn, cap in (('latency_vs_size', figures.latency_vs_size, 'Latency vs message size'),
                              ('bandwidth_vs_size', figures.bandwidth_vs_size, 'Bandwidth vs message size')):
            fig = fn(curve)
            if fig is not None:
                rep.figures[name] = (cap, fig)
    mm = matmul.table(frame)
    if not mm.empty:
        rep.tables['matmul'] = mm
        rep.figures['matmul_rates'] = ('Matrix multiply rate vs matrix order', figures.matmul_rates(mm))
    gt = gan.table(frame)
    if not gt.empty:
        rep.tables['gan_scaling'] = gt
        rep.figures['gan_scaling'] = ('3D-GAN samples/s per rank count', figures.gan_scaling(gt))
    io = smallfile.table(frame)
    if not io.empty:
        rep.tables['smallfile_io'] = io
        rep.figures['smallfile_io'] = ('Small-file metadata rates per target', figures.io_rates(io))
    rep.tables['stability_failures'] = fails
    var = stability.variability(frame)
    rep.tables['stability_variability'] = var
    rep.extra['variability_headline'] = _headline_variability(var, frame)
    sn = stability.suspicious_nodes(frame)
    rep.tables['suspicious_nodes'] = sn
    # every node of a failed case, flagged or not: a crashed node shows up here
    rep.tables['failed_nodes'] = sn[(sn['failed'] > 0) | sn['suspicious']] if not sn.empty else sn
    rep.tables['cases'] = outcomes
    rep.tables['provenance'] = provenance.cases(frame)
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
    keep = []
    for case, g in var.groupby('case'):
        keep.append(g[g['pvar'] == proposal.headline_pvar(g)])
    return pd.concat(keep, ignore_index=True)


def _size(n):
    return figures.size_label(n)


def _env():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(['html', 'j2']),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters['fmt'] = _fmt
    env.filters['count'] = _count
    env.filters['pct1'] = _pct
    env.filters['size'] = _size
    env.filters['slug'] = _slug
    return env


def build_compare(base, cand, delta=0.05, alpha=0.05, strict=False, title='hpcval compare', pvars=None):
    '''Two Datasets -> a Report of verdicts (tables, forest plot); ``pvars``:
    regular expressions limiting the compared variables (and the Holm family).'''
    table, one_side, fails = compare_mod.compare(base.frame, cand.frame, delta, alpha, strict, pvars=pvars)
    rep = Report(title=title, summary=compare_mod.summary(table), sessions=pd.concat(
        [base.sessions.assign(side='baseline'), cand.sessions.assign(side='candidate')], ignore_index=True),
        sources=base.sources + cand.sources, warnings=list(base.warnings) + list(cand.warnings))
    rep.extra.update(delta=delta, alpha=alpha, strict=strict, kind='compare', pvars=list(pvars or []),
                     baseline=base.sources, candidate=cand.sources)
    rep.tables['verdicts'] = table
    rep.extra['undecided'] = compare_mod.undecided(table)
    rep.tables['one_side_only'] = one_side
    rep.tables['failures'] = fails
    rep.tables['sessions'] = rep.sessions
    if not table.empty:
        rep.figures['forest'] = ('Candidate / baseline per case and variable',
                                 figures.forest(table, delta, f'Verdicts (δ = {delta:.0%})'))
    return rep


def render(rep, outdir, inputs=()):
    '''Write ``rep`` to ``outdir`` whole (analysis.outdir says which folders may be); returns index.html.

    ``inputs``: the paths the report was made from, besides ``rep.sources``.
    '''
    kind = 'compare' if rep.extra.get('kind') == 'compare' else 'report'
    with outdir_mod.writing(outdir, [*inputs, *rep.sources], kind=kind) as tmp:
        pool = ThreadPoolExecutor(max_workers=1)
        try:
            (tmp / 'tables').mkdir()
            (tmp / 'figures').mkdir()
            # Arrow's CSV writer releases the GIL: tables are written while the figures render
            writes = [pool.submit(write_csv, df, tmp / 'tables' / f'{name}.csv') for name, df in rep.tables.items()]
            embedded = {}
            for name, (caption, fig) in rep.figures.items():
                png = figures.to_bytes(fig, 'png')
                (tmp / 'figures' / f'{name}.png').write_bytes(png)
                (tmp / 'figures' / f'{name}.svg').write_bytes(figures.to_bytes(fig, 'svg'))
                embedded[name] = (caption, base64.b64encode(png).decode('ascii'))
            cases = rep.tables.get('cases', pd.DataFrame(columns=['result']))
            failed_cases = cases[cases_mod.failed(cases['result'])]
            for w in writes:
                w.result()
            ctx = {'rep': rep, 'figures': embedded, 'tables': rep.tables, 'pct': _pct, 'failed_cases': failed_cases,
                   'generated': _dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}
            env = _env()
            prefix = 'compare' if rep.extra.get('kind') == 'compare' else 'index'
            md_name = 'compare.md.j2' if prefix == 'compare' else 'report.md.j2'
            (tmp / 'index.html').write_text(env.get_template(f'{prefix}.html.j2').render(**ctx))
            md_env = _markdown_env(_env())      # every {{ }} escaped as Markdown text
            (tmp / 'report.md').write_text(md_env.get_template(md_name).render(**ctx))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)   # no writer left in the folder we remove
            raise
        finally:
            pool.shutdown(wait=True)
    return Path(outdir) / 'index.html'


