"""`hpcval compare`: baseline vs candidate, a verdict per case; exit 1 on a REGRESSION."""
from pathlib import Path

from hpcval.cli import common
from hpcval.cli.common import show
from hpcval.errors import UsageError


def cmd_compare(args):
    from hpcval.analysis import outdir, report
    inputs = common.files([args.baseline, args.candidate])
    outdir.check(args.output, inputs)
    better = dict(args.better or [])
    base = common.load([args.baseline], better)
    cand = common.load([args.candidate], better)
    opts, copts = {}, {}
    if args.title is None or args.delta is None or not args.pvar:
        camp = common.campaign_of('compare', base, cand)      # both sides from the same campaign
        if camp is not None:
            opts, copts = camp.report, camp.compare_options()
    delta = args.delta if args.delta is not None else copts.get('delta', 0.05)
    pvars = args.pvar or copts.get('pvars') or []
    title = args.title or (f"{opts['title']}: compare" if opts.get('title') else 'hpcval compare')
    if pvars:
        _say_selection(base, cand, pvars, '' if args.pvar else " (the campaign's report.compare.pvars)")
    rep = report.build_compare(base, cand, delta=delta, alpha=args.alpha, strict=args.strict,
                               title=title, pvars=pvars)
    _print_verdicts(rep)
    index = report.render(rep, Path(args.output), inputs=inputs)
    counts = ', '.join(f'{n} {v}' for v, n in rep.summary.items())
    on_failures = len(rep.extra['failure_verdicts'])
    counts += f' ({on_failures} of them on failures)' if on_failures else ''
    print(show(f'hpcval compare: {counts} -> {index}'))
    return 1 if rep.summary.get('REGRESSION') else 0


def _say_selection(base, cand, pvars, origin):
    from hpcval.analysis.compare import select_pvars
    names = set(base.frame['pvar'].dropna()) | set(cand.frame['pvar'].dropna())
    kept = set(select_pvars(base.frame, pvars)['pvar']) | set(select_pvars(cand.frame, pvars)['pvar'])
    if not kept:
        raise UsageError(f"no performance variable matches {' '.join(pvars)}{origin} "
                         f"({len(names)} in the runs, e.g. {', '.join(sorted(names)[:5])})")
    print(show(f"hpcval compare: {len(kept)} of {len(names)} performance variables match "
               f"{' '.join(pvars)}; the others are left out (and out of the Holm correction)"))


def _print_verdicts(rep):
    '''Failure verdicts first, then the undecided cells, the table, the cases of one side.'''
    table = rep.tables['verdicts']
    for r in rep.extra['failure_verdicts'].itertuples():
        print(show(f'{r.verdict} ({r.why}): {r.case} failed {r.fail_base}/{r.runs_base} in the baseline, '
                   f'{r.fail_cand}/{r.runs_cand} in the candidate (Fisher, Holm p {r.fail_p_holm:.3g})'))
    if table.empty:
        print('hpcval compare: no performance value measured on both sides')
    else:
        undecided = rep.extra['undecided']
        if not undecided.empty:
            from hpcval.analysis.textfmt import count
            need = '; '.join(f'{r.case} {r.pvar}: {count(r.runs_needed) or "?"}' for r in undecided.itertuples())
            print(show(f'hpcval compare: {len(undecided)} cell(s) not decided (INCONCLUSIVE); '
                       f'runs per side likely to decide: {need}'))
        view = table[['case', 'pvar', 'verdict', 'ratio', 'ci_lo', 'ci_hi', 'p_holm', 'runs_needed']].copy()
        for c in ('case', 'pvar', 'verdict'):      # names from the runs: no escape sequence reaches the terminal
            view[c] = view[c].map(show)
        with common.pd_options():
            print(view.to_string(index=False, float_format=lambda v: f'{v:.4g}'))
    for r in rep.tables['one_side_only'].itertuples():
        print(show(f'{r.side}: {r.case} {r.pvar}'))


def add_parser(sub):
    c = sub.add_parser('compare', help='baseline vs candidate: a verdict per case; exit 1 on a regression')
    c.add_argument('baseline', help='run directory, report.json, perflog, a tree of them, or stored:QUERY')
    c.add_argument('candidate', help='run directory, report.json, perflog, a tree of them, or stored:QUERY')
    c.add_argument('-o', '--output', default='reports/compare', help='report directory (default reports/compare)')
    c.add_argument('--delta', type=common.fraction,
                   help="practical threshold (default: the campaign's report.compare.delta, else 0.05)")
    c.add_argument('--pvar', action='append', metavar='REGEX', type=common.regex,
                   help='compare only the performance variables matching REGEX (repeatable; the Holm '
                        "correction runs over these alone; default: the campaign's report.compare.pvars "
                        'when both runs come from the same campaign, else all)')
    c.add_argument('--alpha', type=common.fraction, default=0.05, help='significance level (default 0.05)')
    c.add_argument('--strict', action='store_true', help='a verdict needs the whole 95%% CI beyond delta')
    c.add_argument('--better', action='append', type=common.better, metavar='CHECK[:PVAR]=higher|lower')
    c.add_argument('--title', help='report title')
    c.epilog = ('Exit codes for CI jobs: 0 no REGRESSION (IMPROVEMENT, EQUIVALENT and INCONCLUSIVE '
                'verdicts pass); 1 at least one REGRESSION; 2 usage or input error (nothing written).  '
                'Options not given come from the campaign both runs were made with (report.compare).')
    c.set_defaults(func=cmd_compare)
