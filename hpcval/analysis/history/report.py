"""The history report: one trend figure per series (drawn from plain arrays, so
that worker processes can draw them), the tables, written by analysis.document."""
import datetime as _dt
from dataclasses import dataclass

import numpy as np

from hpcval.analysis import document
from hpcval.analysis.history.changepoints import DEFAULT_THRESHOLD, MIN_SEGMENT, PENALTY_BETA, analyse
from hpcval.analysis.history.sessions import format_tags
from hpcval.analysis.textfmt import slug as _slug

MAX_FIGURES = 40


def _series_label(r, multi):
    label = f'{r["case"]} · {r["pvar"]}'
    if multi:
        label += f' ({r["system"]}:{r["partition"]}+{r["environ"]})'
    return label


def _date_label(x, _pos=None, fmt='%Y-%m-%d'):
    return _dt.datetime.fromtimestamp(x, _dt.timezone.utc).strftime(fmt)


def _date_format(span_s):
    '''A tick label format that tells the ticks of a span of ``span_s`` seconds apart.'''
    return '%Y-%m-%d' if span_s > 4 * 86400 else '%m-%d %H:%M' if span_s > 2 * 3600 else '%H:%M:%S'


@dataclass
class TrendFigure:
    '''What one trend figure shows: plain arrays, so that worker processes can draw it.'''
    title: str
    ylabel: str
    t: np.ndarray             # session start, unix seconds
    median: np.ndarray
    segment: np.ndarray       # median of the segment each session falls in
    changes: list             # (t, verdict, shift, session uuid)

    @classmethod
    def of(cls, pts, cps, title):
        t = pts['time_start'].to_numpy(float)
        uuids = pts['session_uuid'].to_numpy(object)
        changes = [(float(t[np.flatnonzero(uuids == u)[0]]), v, float(sh), u)
                   for u, v, sh in zip(cps['session_uuid'], cps['verdict'], cps['shift'])]
        return cls(title=title, ylabel=f'{pts["pvar"].iloc[0]} ({pts["unit"].iloc[0]})',
                   t=t, median=pts['median'].to_numpy(float), segment=pts['segment_median'].to_numpy(float),
                   changes=changes)

    def figure(self):
        '''Per-session medians over time (blue), segment medians (orange), change points as dashed
        vertical lines (red: regression, green: improvement), each named in the title.

        Drawn for speed (40 of these for 1 000 sessions in a few seconds; text is
        most of the cost): a fixed layout instead of constrained layout, plain
        numbers (unix seconds) on the time axis with few, one-line date labels,
        no legend (the report's caption says what the colours are).
        '''
        from functools import partial
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, MaxNLocator
        fig = Figure(figsize=(8, 3.2))
        ax = fig.add_axes((0.085, 0.13, 0.895, 0.76))
        t, seg = self.t, self.segment
        # markers while they can be told apart (cheap next to the text)
        ax.plot(t, self.median, '.-' if len(t) <= 200 else '-', lw=0.6 if len(t) <= 200 else 0.8, ms=3,
                color='#1565c0')
        cut = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1], True])
        ax.hlines(seg[cut[:-1]], t[cut[:-1]], t[np.minimum(cut[1:], len(t) - 1)], colors='#ef6c00', lw=1.6)
        for x, verdict_, _shift, _uuid in self.changes:
            ax.axvline(x, color={'regression': '#c62828', 'improvement': '#2e7d32'}.get(verdict_, '#6a1b9a'),
                       ls='--', lw=1.2)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        span = t[-1] - t[0] if len(t) else 0
        ax.xaxis.set_major_formatter(FuncFormatter(partial(_date_label, fmt=_date_format(span))))
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.tick_params(labelsize='small')
        ax.set_ylabel(self.ylabel[:40], fontsize='small')
        title = self.title if len(self.title) <= 70 else self.title[:67] + '...'
        if self.changes:
            title += ': ' + ', '.join(f'{sh:+.1%} at {u[:8]}' for _x, _v, sh, u in self.changes[:3])
            title += ' ...' if len(self.changes) > 3 else ''
        ax.set_title(title, fontsize='medium')
        ax.grid(True, alpha=0.3)
        return fig

    def png(self):
        return _png(self.figure())


def _png(fig):
    return document.figure_bytes(fig, 'png', dpi=80, fast=True)


def draw_all(specs):
    '''PNG bytes of each TrendFigure, one after the other: the default ``draw`` of render.'''
    return [spec.png() for spec in specs]


def build(hist, threshold=DEFAULT_THRESHOLD, max_figures=MAX_FIGURES, title='hpcval history', selection='',
          detect=None):
    '''History -> Report (tables, figures to draw; nothing written yet).'''
    points, cps, series = analyse(hist, threshold, detect=detect)
    used = hist.sessions[hist.sessions['session_uuid'].isin(set(points['session_uuid']))] \
        if not points.empty else hist.sessions.iloc[:0]
    multi = series[['system', 'partition', 'environ']].drop_duplicates().shape[0] > 1 if not series.empty else False
    # figures: series with change points first (largest shift first), then the rest in order
    order = []
    if not cps.empty:
        order += list(dict.fromkeys(cps['series_id'].tolist()))
    order += [s for s in series['series_id'].tolist() if s not in set(order)]
    shown = order[:max_figures]
    names, figs = {}, {}
    by_series = dict(tuple(points.groupby('series_id', sort=False))) if not points.empty else {}
    info = series.set_index('series_id')
    for sid in shown:
        r = info.loc[sid]
        name = f'trend_{sid}_{_slug(r["case"])[:40]}_{_slug(r["pvar"])[:20]}'
        names[sid] = name
        label = _series_label(r, multi)
        figs[name] = (label, TrendFigure.of(by_series[sid], cps[cps['series_id'] == sid], label))
    series = series.assign(figure=series['series_id'].map(lambda s: names.get(s, '')))
    cps = cps.assign(figure=cps['series_id'].map(lambda s: names.get(s, '')))
    sessions = used.assign(time=used['time'].dt.strftime('%Y-%m-%d %H:%M:%S UTC'),
                           tags=used['tags'].map(format_tags)).drop(columns=['session_id', 'time_start'])
    regress = int((cps['verdict'] == 'regression').sum()) if not cps.empty else 0
    summary = {
        'sessions': int(points['session_uuid'].nunique()) if not points.empty else 0,
        'sessions_in_store': len(hist.sessions), 'series': len(series), 'change_points': len(cps),
        'regressions': regress, 'improvements': int((cps['verdict'] == 'improvement').sum()) if not cps.empty else 0,
        'first': points['time'].min().strftime('%Y-%m-%d %H:%M UTC') if not points.empty else '',
        'last': points['time'].max().strftime('%Y-%m-%d %H:%M UTC') if not points.empty else '',
        'figures': len(figs), 'threshold': threshold,
    }
    rep = document.Report(title=title, summary=summary, sessions=sessions, sources=[hist.store])
    rep.tables['change_points'] = cps
    rep.tables['series'] = series
    rep.tables['trends'] = points.drop(columns=['session_id', 'time_start'])
    rep.tables['sessions'] = sessions
    rep.figures = figs
    cp_uuids = set(cps['session_uuid']) if not cps.empty else set()
    rep.extra.update(kind='history', store=hist.store, selection=selection, min_segment=MIN_SEGMENT,
                     beta=PENALTY_BETA, cp_sessions=sessions[sessions['session_uuid'].isin(cp_uuids)],
                     max_figures=max_figures)
    return rep


def render(rep, outdir, draw=None, inputs=()):
    '''Write a history Report to ``outdir`` (analysis.document.write); returns index.html.

    ``draw(list of TrendFigure) -> list of PNG bytes`` may draw elsewhere (the
    command line uses one process per core); default draw_all.  A plain
    Figure among them is drawn here.
    '''
    def pngs(specs):
        trends = [s for s in specs if isinstance(s, TrendFigure)]
        drawn = iter((draw or draw_all)(trends))
        return [{'png': next(drawn) if isinstance(s, TrendFigure) else _png(s)} for s in specs]
    return document.write(rep, outdir, 'history', 'history.html.j2', 'history.md.j2', inputs=inputs, draw=pngs)
