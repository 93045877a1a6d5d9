"""hpcval command line: run, report, compare, image, cluster.

Exit codes: 0 ok; 1 the validation found a problem (failed checks, a regression);
2 usage or input error (one line naming the file and the fault, nothing written);
3 a bug in hpcval (one line; the traceback with --debug).
"""
import argparse
import re
import signal
import sys
import threading
import traceback
from pathlib import Path

from hpcval import __version__
from hpcval.errors import UsageError


def _p(text):
    '''Text that holds data (names, hosts, paths) as printed: control characters
    as visible escapes (analysis.textfmt.printable), imported only when printing.'''
    from analysis.textfmt import printable
    return printable(text)


def _nodes(text):
    try:
        nodes = [int(n) for n in text.split(',') if n.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f'not a list of node counts: {text!r}')
    if not nodes or min(nodes) < 1:
        raise argparse.ArgumentTypeError(f'node counts must be >= 1: {text!r}')
    return nodes


def _setvar(text):
    if '=' not in text:
        raise argparse.ArgumentTypeError(f'expected [TEST.]VAR=VALUE, got {text!r}')
    return tuple(text.split('=', 1))


def cmd_run(args):
    from hpcval import campaign as campaigns
    from hpcval import run
    if args.name is not None:
        run.check_label(args.name, '--name')       # before anything is read or made
    if args.campaign:
        camp = campaigns.load(args.campaign)
    else:
        camp = campaigns.Campaign(name=args.name or 'adhoc')
    checks = args.checks or camp.checks
    system = args.system or camp.system
    nodes = args.nodes or camp.nodes
    repeat = args.repeat or camp.repeat
    setvars = dict(camp.setvars)
    setvars.update(dict(args.setvar or []))
    extra = camp.reframe_options + camp.param_options() + (args.reframe_args or [])
    if not checks and not args.campaign and args.system:
        # no check named: every workload, over what the system declares as its sweep
        given = len(extra)
        checks, extra = run.whole_system(system, extra)
        nodes = args.nodes or run.system_nodes(system)        # 1 .. the partition's max_nodes
        swept = extra[:len(extra) - given][1::2]
        print(_p(f'hpcval run: no check named: {" ".join(checks)} on {system}, '
                 f'nodes {",".join(map(str, nodes))}'
                 + (f', swept over {" ".join(swept)}' if swept else '')), flush=True)
    user_tags = dict(run.parse_tag(t) for t in args.tag or [])    # a bad tag: exit 2, nothing run
    # session extras: the campaign's tags, the images' digests, then the user's --tag
    tags = {'hpcval_campaign_def': camp.name} if args.campaign else {}
    tags.update(camp.tags)
    if run.uses_containers(checks, camp.params, extra):
        tags.update(run.image_tags(checks))
    tags.update(user_tags)
    from cluster import faults as faults_mod
    faults = [faults_mod.parse(f) for f in list(camp.faults or []) + list(args.fault or [])]
    action = 'list' if args.list else 'dry-run' if args.dry_run else 'run'
    rc, _ = run.execute(checks, system, args.name or camp.name, nodes, repeat, setvars, extra,
                        tags=tags, faults=faults, action=action)
    return rc


def _better(text):
    spec, sep, direction = text.rpartition('=')
    if not sep or not spec or direction not in ('higher', 'lower'):
        raise argparse.ArgumentTypeError(f'expected CHECK[:PVAR]=higher|lower, got {text!r}')
    return spec, direction


def _regex(text):
    try:
        re.compile(text)
    except re.error as err:
        raise argparse.ArgumentTypeError(f'not a regular expression: {text!r} ({err})')
    return text


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'not a number: {text!r}')
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f'must lie between 0 and 1: {text!r}')
    return value


def _campaign_of(*datasets):
    '''The campaign (campaigns/NAME.yaml) all the datasets' sessions were run
    from, recorded in their session extras; None when there is none or several.'''
    from hpcval import campaign
    camp = campaign.of_sessions(*(d.sessions for d in datasets))
    if camp is not None and camp.report:
        print(_p(f"hpcval {'compare' if len(datasets) == 2 else 'report'}: report options not given "
                 f"on the command line come from campaign '{camp.name}' ({camp.path.name})"))
    return camp


def cmd_report(args):
    from analysis import ingest, outdir, report, scaling
    outdir.check(args.output, args.inputs)         # before any work: a refused folder costs nothing
    dataset = ingest.load(args.inputs, better=dict(args.better or []))   # all input checked first
    out = Path(args.output)
    opts = {}
    if args.title is None or args.mode is None or args.floor is None:
        camp = _campaign_of(dataset)
        opts = camp.report if camp is not None else {}
    title = args.title or opts.get('title') or f'hpcval report: {out.name}'
    mode = args.mode or opts.get('mode')
    floor = args.floor if args.floor is not None else opts.get('floor', scaling.DEFAULT_FLOOR)
    index = report.render(report.build(dataset, title, mode=mode, floor=floor), out, inputs=args.inputs)
    print(_p(f'hpcval report: {len(dataset.sources)} input file(s), '
             f'{dataset.frame["display_name"].nunique()} test case(s) -> {index}'))
    if dataset.warnings:
        print(f'hpcval report: {len(dataset.warnings)} warning(s), listed in the report', file=sys.stderr)
    return 0


def cmd_compare(args):
    from analysis import ingest, outdir, report
    outdir.check(args.output, [args.baseline, args.candidate])
    better = dict(args.better or [])
    base = ingest.load([args.baseline], better=better)
    cand = ingest.load([args.candidate], better=better)
    opts = {}
    if args.title is None or args.delta is None or not args.pvar:
        camp = _campaign_of(base, cand)      # both sides from the same campaign
        opts = camp.report if camp is not None else {}
    copts = opts.get('compare') or {}
    delta = args.delta if args.delta is not None else copts.get('delta', 0.05)
    pvars = args.pvar or copts.get('pvars') or []
    origin = '' if args.pvar else ' (the campaign\'s report.compare.pvars)'
    title = args.title or (f"{opts['title']}: compare" if opts.get('title') else 'hpcval compare')
    if pvars:
        from analysis.compare import select_pvars
        names = set(base.frame['pvar'].dropna()) | set(cand.frame['pvar'].dropna())
        kept = set(select_pvars(base.frame, pvars)['pvar']) | set(select_pvars(cand.frame, pvars)['pvar'])
        if not kept:
            raise UsageError(f"no performance variable matches {' '.join(pvars)}{origin} "
                             f"({len(names)} in the runs, e.g. {', '.join(sorted(names)[:5])})")
        print(_p(f"hpcval compare: {len(kept)} of {len(names)} performance variables match "
                 f"{' '.join(pvars)}; the others are left out (and out of the Holm correction)"))
    rep = report.build_compare(base, cand, delta=delta, alpha=args.alpha, strict=args.strict,
                               title=title, pvars=pvars)
    table = rep.tables['verdicts']
    if table.empty:
        print('hpcval compare: no case measured on both sides')
    else:
        undecided = rep.extra['undecided']
        if not undecided.empty:
            from analysis.textfmt import count
            need = '; '.join(f'{r.case} {r.pvar}: {count(r.runs_needed) or "?"}' for r in undecided.itertuples())
            print(_p(f'hpcval compare: {len(undecided)} cell(s) not decided (INCONCLUSIVE); '
                     f'runs per side likely to decide: {need}'))
        view = table[['case', 'pvar', 'verdict', 'ratio', 'ci_lo', 'ci_hi', 'p_holm', 'runs_needed']].copy()
        for c in ('case', 'pvar', 'verdict'):      # names from the runs: no escape sequence reaches the terminal
            view[c] = view[c].map(_p)
        with pd_options():
            print(view.to_string(index=False, float_format=lambda v: f'{v:.4g}'))
    for r in rep.tables['one_side_only'].itertuples():
        print(_p(f'{r.side}: {r.case} {r.pvar}'))
    index = report.render(rep, Path(args.output), inputs=[args.baseline, args.candidate])
    counts = ', '.join(f'{n} {v}' for v, n in rep.summary.items())
    print(_p(f'hpcval compare: {counts} -> {index}'))
    return 1 if rep.summary.get('REGRESSION') else 0


def pd_options():
    import pandas as pd
    return pd.option_context('display.width', 200, 'display.max_colwidth', 60, 'display.max_rows', 500)


def parser():
    p = argparse.ArgumentParser(prog='hpcval', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--version', action='version', version=f'hpcval {__version__}')
    p.add_argument('--debug', action='store_true',
                   help='on an internal error (exit 3) print the traceback (may stand anywhere before --)')
    sub = p.add_subparsers(dest='command', required=True)

    r = sub.add_parser('run', help='run checks through ReFrame; store the run report under runs/')
    r.add_argument('checks', nargs='*', help='check modules under checks/ (e.g. mpi_microbench matmul)')
    r.add_argument('--campaign', help='a campaign under campaigns/ (NAME.yaml)')
    r.add_argument('--system', help='site configuration under config/ (default: local)')
    r.add_argument('--nodes', type=_nodes, help='node counts, e.g. 1,2,3')
    r.add_argument('--repeat', type=int, help='repeat every test case N times')
    r.add_argument('-S', '--setvar', action='append', type=_setvar, metavar='[TEST.]VAR=VAL',
                   help='set a check variable (passed to ReFrame)')
    r.add_argument('--name', help='campaign label for runs/<name>/ (default: the campaign or "adhoc")')
    r.add_argument('--tag', action='append', metavar='KEY=VALUE',
                   help="tag the run (ReFrame session extras, in the run report's session_info), "
                        "e.g. os_patch=2024-06; repeatable; VALUE without ',' or '='")
    r.add_argument('--fault', action='append', metavar='SPEC',
                   help='inject a fault into the virtual cluster while the run goes on: '
                        'kill-rank:every=S[:after=A][:node=N] or stop-slurmd:node=N:after=A:for=F[:every=S]; '
                        'repeatable; actions are logged to faults.log in the run directory')
    what = r.add_mutually_exclusive_group()
    what.add_argument('--list', action='store_true',
                      help='list the test cases the run would make (ReFrame -l); runs nothing, makes no run folder')
    what.add_argument('--dry-run', action='store_true',
                      help='make the job scripts but run nothing (ReFrame --dry-run), in '
                           'runs/<name>/<timestamp>-dry-run/stage/; no run report, latest left alone')
    r.epilog = ('Options after a lone -- go to reframe unchanged, except its actions (-l, --dry-run, '
                '--describe, ...): hpcval gives -r, so use --list or --dry-run.  Every run directory but a '
                "dry run's holds report.json and junit.xml (JUnit XML for CI).")
    r.set_defaults(func=cmd_run)

    rp = sub.add_parser('report', help='turn run reports into an HTML/Markdown/CSV report')
    rp.add_argument('inputs', nargs='+', metavar='RUN_OR_REPORT',
                    help='run directories, report.json files, or trees of them')
    rp.add_argument('-o', '--output', required=True, help='report directory, e.g. reports/NAME')
    rp.add_argument('--title', help="report title (default: the campaign's report.title)")
    rp.add_argument('--mode', choices=['strong', 'weak'],
                    help="scaling mode for every check (default: the campaign's report.mode, else as declared, else strong)")
    rp.add_argument('--floor', type=_fraction, help="parallel-efficiency floor (default: the campaign's report.floor, else 0.75)")
    rp.add_argument('--better', action='append', type=_better, metavar='CHECK[:PVAR]=higher|lower',
                    help='override the better direction the unit implies')
    rp.set_defaults(func=cmd_report)

    c = sub.add_parser('compare', help='baseline vs candidate: a verdict per case; exit 1 on a regression')
    c.add_argument('baseline', help='run directory, report.json, or a tree of them')
    c.add_argument('candidate', help='run directory, report.json, or a tree of them')
    c.add_argument('-o', '--output', default='reports/compare', help='report directory (default reports/compare)')
    c.add_argument('--delta', type=_fraction, help="practical threshold (default: the campaign's report.compare.delta, else 0.05)")
    c.add_argument('--pvar', action='append', metavar='REGEX', type=_regex,
                   help='compare only the performance variables matching REGEX (repeatable; the Holm '
                        "correction runs over these alone; default: the campaign's report.compare.pvars "
                        'when both runs come from the same campaign, else all)')
    c.add_argument('--alpha', type=_fraction, default=0.05, help='significance level (default 0.05)')
    c.add_argument('--strict', action='store_true', help='a verdict needs the whole 95%% CI beyond delta')
    c.add_argument('--better', action='append', type=_better, metavar='CHECK[:PVAR]=higher|lower')
    c.add_argument('--title', help='report title')
    c.epilog = ('Exit codes for CI jobs: 0 no REGRESSION (IMPROVEMENT, EQUIVALENT and INCONCLUSIVE '
                'verdicts pass); 1 at least one REGRESSION; 2 usage or input error (nothing written).  '
                'Options not given come from the campaign both runs were made with (report.compare).')
    c.set_defaults(func=cmd_compare)

    from hpcval import cluster, image
    image.add_parser(sub)
    cluster.add_parser(sub)
    from hpcval import history
    history.add_parser(sub)
    return p


class Terminated(KeyboardInterrupt):
    '''SIGTERM, raised in the main thread so that what is half written is removed, as on Ctrl-C.'''


def _terminated(signum, _frame):
    raise Terminated(signum)


def main(argv=None):
    from analysis.errors import InputError
    from analysis.redact import redact_text     # an error may quote a command line or a value
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough = []
    if '--' in argv:
        i = argv.index('--')
        argv, passthrough = argv[:i], argv[i + 1:]
    debug = '--debug' in argv                  # anywhere before --, not only before the subcommand
    argv = [a for a in argv if a != '--debug']
    args = parser().parse_args(argv)
    args.reframe_args = passthrough
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminated)
    try:
        return args.func(args)
    except (UsageError, InputError) as err:
        print(_p(f'hpcval {args.command}: error: {redact_text(str(err))}'), file=sys.stderr)
        return 2
    except Terminated:
        print(f'hpcval {args.command}: terminated', file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(f'hpcval {args.command}: interrupted', file=sys.stderr)
        return 130
    except Exception as err:                   # noqa: BLE001 - the last line of defence, by design
        if debug:
            traceback.print_exc()
        where = traceback.extract_tb(err.__traceback__)[-1]
        print(_p(f'hpcval {args.command}: internal error (a bug in hpcval, please report it): '
                 f'{type(err).__name__}: {redact_text(str(err))} [{Path(where.filename).name}:{where.lineno}]'
                 + ('' if debug else '; rerun with --debug for the traceback')), file=sys.stderr)
        return 3


if __name__ == '__main__':
    sys.exit(main())
