"""`hpcval history add|show`: keep results across sessions; trends and change points.

The store is one SQLite file: --store, else $HPCVAL_HISTORY, else
.cache/history.sqlite in the repository (hpcval/analysis/history says why SQLite).
"""
import importlib
import os
import sys
import time
from pathlib import Path

from hpcval import paths
from hpcval.cli.common import count, fraction, show
from hpcval.errors import UsageError


def default_store():
    return Path(os.environ.get('HPCVAL_HISTORY') or paths.ROOT / '.cache' / 'history.sqlite')


def _store(args):
    return Path(args.store) if args.store else default_store()


def _when(unix):
    return time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(unix))


def cmd_add(args):
    from hpcval.analysis import history, ingest
    from hpcval.redact import redact_text
    store = _store(args)
    t0 = time.monotonic()
    files = sum(len(ingest.find_reports(p)) for p in args.inputs)
    if files > 20:                                # long work shows progress
        print(f'hpcval history: reading {files} run report(s) ...', flush=True)
    dataset = ingest.load(args.inputs)            # every input checked before the store is touched
    prepared = history.prepare(dataset)
    res = history.add(store, dataset, prepared)
    for s in res.added[:20]:
        tags = redact_text(history.format_tags(s['tags']))    # stored redacted; printed so, whatever the store
        print(show(f'hpcval history: + {s["uuid"]}  {_when(s["time_start"])}  {s["hostname"] or "-"}'
                 f'{"  " + tags if tags else ""}'))
    if len(res.added) > 20:
        print(f'hpcval history: ... and {len(res.added) - 20} more session(s)')
    for src, uuid in res.duplicates:
        print(show(f'hpcval history: {src}: session {uuid} given twice in the input; read once'), file=sys.stderr)
    print(show(f'hpcval history: {len(res.added)} session(s) added, {len(res.present)} already present, '
             f'{res.rows} value row(s) -> {store} ({time.monotonic() - t0:.1f} s)'))
    if dataset.warnings:
        print(f'hpcval history: {len(dataset.warnings)} warning(s) from ingest (values stored as NaN)',
              file=sys.stderr)
    return 0


def _cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1)


def _import_ruptures():
    importlib.import_module('ruptures')     # it imports scipy.stats, .signal and .spatial: the slowest import
    return True


def _png(spec):
    return spec.png()


class Workers:
    '''Process-level parallelism for `history show`; analysis.history itself stays one process.

    Two costs dominate `show` on a long history: importing ruptures (it pulls
    in scipy.stats/signal/spatial) and drawing the trend figures
    (benchmarks/history_scale.py).
    On Linux with more than one core, a forked helper imports ruptures and
    then detects the change points while this process reads the store and
    imports matplotlib; then one forked process per core draws the figures,
    matplotlib already imported.  Elsewhere everything runs here, in order.
    '''

    def __init__(self, cores=None):
        import multiprocessing as mp
        self.cores = min(cores or _cores(), 8)
        self.ctx = mp.get_context('fork') if 'fork' in mp.get_all_start_methods() and self.cores > 1 else None
        self.helper = None
        if self.ctx is not None:
            from concurrent.futures import ProcessPoolExecutor
            self.helper = ProcessPoolExecutor(max_workers=1, mp_context=self.ctx)
            self.helper.submit(_import_ruptures)

    def detect(self, series, threshold, min_size, beta):
        from hpcval.analysis import history
        if self.helper is None:
            return history.detect_all(series, threshold, min_size, beta)
        try:
            return self.helper.submit(history.detect_all, series, threshold, min_size, beta).result()
        finally:
            self.helper.shutdown()          # its core is free for drawing
            self.helper = None

    def draw(self, specs):
        from hpcval.analysis import history
        if self.ctx is None or len(specs) < 8:
            return history.draw_all(specs)
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(max_workers=self.cores, mp_context=self.ctx) as pool:
            return list(pool.map(_png, specs, chunksize=max(1, len(specs) // (4 * self.cores))))

    def close(self):
        if self.helper is not None:
            self.helper.shutdown(cancel_futures=True)
            self.helper = None


def cmd_show(args):
    from hpcval.analysis import history
    store = _store(args)
    t0 = time.monotonic()
    from hpcval.analysis import outdir
    outdir.check(args.output, [store])
    history.checks(store)           # a missing, corrupt or foreign store fails here, before any fork
    workers = Workers()
    try:
        return _show(args, history, store, workers, t0)
    finally:
        workers.close()


def _show(args, history, store, workers, t0):
    from hpcval.redact import redact_text
    hist = history.load(store, check=args.check, pvar=args.pvar)
    if hist.sessions.empty:
        raise UsageError(f'{store}: the history store holds no session yet')
    if hist.points.empty:
        known = history.checks(store)
        what = ' and '.join(x for x in (f'check {args.check!r}' if args.check else '',
                                         f'pvar {args.pvar!r}' if args.pvar else '') if x)
        raise UsageError(f'{store}: no usable values for {what or "any check"} '
                         f'(checks in the store: {", ".join(known) or "none"})')
    importlib.import_module('matplotlib.figure')    # now, while the helper imports ruptures; drawers inherit it
    selection = ' '.join(x for x in (args.check or '', f'--pvar {args.pvar}' if args.pvar else '') if x)
    title = args.title or ('hpcval history' + (f': {selection}' if selection else ''))
    rep = history.build(hist, threshold=args.threshold, max_figures=args.max_figures, title=title,
                        selection=selection, detect=workers.detect)
    index = history.render(rep, Path(args.output), draw=workers.draw, inputs=[store])
    s = rep.summary
    print(f'hpcval history: {s["sessions"]} session(s) from {s["first"]} to {s["last"]}, {s["series"]} series, '
          f'{s["change_points"]} change point(s) ({s["regressions"]} regression(s), '
          f'{s["improvements"]} improvement(s))')
    cps = rep.tables['change_points']
    for r in cps.head(args.list).itertuples():
        tags = redact_text(r.tags_changed or r.tags)
        print(show(f'  {r.verdict:<11} {100 * r.shift:+6.1f} %  {r.case}  {r.pvar}  at {r.session_time}  '
                 f'session {r.session_uuid}  {r.hostname or "-"}{"  " + tags if tags else ""}'))
    if len(cps) > args.list:
        print(show(f'  ... {len(cps) - args.list} more in {Path(args.output) / "tables" / "change_points.csv"}'))
    print(show(f'hpcval history: report -> {index} ({time.monotonic() - t0:.1f} s)'))
    return 0


def add_parser(sub):
    h = sub.add_parser('history', help='keep results across sessions; trends with change points')
    hsub = h.add_subparsers(dest='history_command', required=True)
    store_help = 'history store (SQLite; default $HPCVAL_HISTORY or .cache/history.sqlite)'
    a = hsub.add_parser('add', help='add run reports to the history store (idempotent, all or nothing)')
    a.add_argument('inputs', nargs='+', metavar='RUN_OR_REPORT',
                   help='run directories, report.json files, or trees of them')
    a.add_argument('--store', help=store_help)
    a.set_defaults(func=cmd_add)
    s = hsub.add_parser('show', help='trend per pvar with change points, linked to sessions and their tags')
    s.add_argument('check', nargs='?', help='check name (or glob pattern); default all checks')
    s.add_argument('--pvar', metavar='PATTERN', help='performance variables matching this glob, e.g. "latency_*"')
    s.add_argument('-o', '--output', default='reports/history', help='report directory (default reports/history)')
    s.add_argument('--store', help=store_help)
    s.add_argument('--threshold', type=fraction, default=0.05,
                   help='smallest relative shift reported as a change point (default 0.05)')
    s.add_argument('--max-figures', type=count, default=40,
                   help='trend figures at most, series with change points first (default 40)')
    s.add_argument('--list', type=count, default=10, help='change points printed (default 10)')
    s.add_argument('--title', help='report title')
    s.set_defaults(func=cmd_show)
