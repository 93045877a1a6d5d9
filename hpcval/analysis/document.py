"""The report machinery every report shares (run report, compare, history).

A Report holds tables (DataFrames, written as CSV) and figures (matplotlib
Figures, or anything ``draw`` turns into bytes); ``write`` renders it whole
into a folder: ``index.html`` with the figures embedded, ``report.md``,
``tables/*.csv``, ``figures/*``.  The folder is built beside its destination
and renamed into place (analysis.outdir), so a reader never sees half a
report.  Light on purpose: jinja2 and the standard library, pandas and
matplotlib only as the objects passed in, so that ``history show`` does not
import scipy.
"""
import base64
import datetime as _dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from hpcval.analysis import outdir as outdir_mod
from hpcval.analysis.textfmt import (count, disk_size, fmt, markdown_env, md, pct, printable_figure,
                                     short_series, slug)
from hpcval.sizes import size_label

TEMPLATES = Path(__file__).with_name('templates')


@dataclass
class Report:
    title: str
    summary: dict
    tables: dict = field(default_factory=dict)     # name -> DataFrame (written as CSV)
    figures: dict = field(default_factory=dict)    # name -> (caption, Figure or what ``draw`` takes)
    sessions: object = None                        # DataFrame of the sessions read
    sources: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    sentences: dict = field(default_factory=dict)  # (check, series) -> one sentence
    floor: float = None                            # the parallel-efficiency floor (run reports)
    extra: dict = field(default_factory=dict)      # anything a template needs besides tables


def environment(markdown=False):
    '''The jinja2 environment of the templates: HTML autoescaped, or (``markdown``)
    every ``{{ }}`` escaped as Markdown text (textfmt.markdown_env).'''
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(['html', 'j2']),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(fmt=fmt, count=count, pct1=pct, size=size_label, slug=slug, md=md,
                       short=short_series, disk_size=disk_size)
    return markdown_env(env) if markdown else env


def figure_bytes(fig, fmt_='png', dpi=110, fast=False):
    '''A Figure as PNG or SVG bytes, without timestamps (the same data gives the
    same bytes) and with every text printable.  ``fast``: zlib level 1 (a third
    bigger than the default 6, quicker to write: trend figures by the dozen).'''
    import io
    buf = io.BytesIO()
    meta = {'svg': {'Date': None}, 'pdf': {'CreationDate': None}}.get(fmt_, {'Software': None})
    printable_figure(fig)       # names from the runs: no control character drawn or warned about
    kwargs = {'pil_kwargs': {'compress_level': 1}} if fast and fmt_ == 'png' else {}
    fig.savefig(buf, format=fmt_, dpi=dpi, metadata=meta, **kwargs)
    return buf.getvalue()


def png_and_svg(figs):
    '''The default ``draw``: each Figure as {'png': ..., 'svg': ...}.'''
    return [{'png': figure_bytes(f, 'png'), 'svg': figure_bytes(f, 'svg')} for f in figs]


def with_pdf(figs):
    '''``draw`` for figures meant to be pasted into a proposal: PNG, SVG and PDF.'''
    return [{'png': figure_bytes(f, 'png'), 'svg': figure_bytes(f, 'svg'), 'pdf': figure_bytes(f, 'pdf')}
            for f in figs]


def write(rep, outdir, kind, html, markdown, inputs=(), draw=png_and_svg, context=None, extra_files=None):
    '''Write ``rep`` whole into ``outdir`` (analysis.outdir says which folders may
    be written) from the templates ``html`` and ``markdown``; returns index.html.

    ``kind``: what the folder holds ('report', 'compare', 'history');
    ``inputs``: the paths the report was made from, besides ``rep.sources``
    (an output folder may not hold one); ``draw(list of figures) -> list of
    {extension: bytes}`` with a 'png' each (embedded in the HTML);
    ``context``: more names for the templates; ``extra_files``: more files, {path in the
    folder: text} (a table as Markdown or LaTeX beside its CSV).
    '''
    with outdir_mod.writing(outdir, [*inputs, *rep.sources], kind=kind) as tmp:
        pool = ThreadPoolExecutor(max_workers=1)
        try:
            (tmp / 'tables').mkdir()
            (tmp / 'figures').mkdir()
            # Arrow's CSV writer releases the GIL: tables are written while the figures render
            writes = [pool.submit(outdir_mod.write_csv, df, tmp / 'tables' / f'{name}.csv')
                      for name, df in rep.tables.items()]
            names = list(rep.figures)
            embedded = {}
            for name, files in zip(names, draw([rep.figures[n][1] for n in names])):
                for ext, data in files.items():
                    (tmp / 'figures' / f'{name}.{ext}').write_bytes(data)
                embedded[name] = (rep.figures[name][0], base64.b64encode(files['png']).decode('ascii'))
            for w in writes:
                w.result()
            for rel, text in (extra_files or {}).items():
                (tmp / rel).write_text(text)
            ctx = {'rep': rep, 'figures': embedded, 'tables': rep.tables, 'pct': pct,
                   'generated': _dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
                   **(context or {})}
            (tmp / 'index.html').write_text(environment().get_template(html).render(**ctx))
            (tmp / 'report.md').write_text(environment(markdown=True).get_template(markdown).render(**ctx))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)   # no writer left in the folder we remove
            raise
        finally:
            pool.shutdown(wait=True)
    return Path(outdir) / 'index.html'
