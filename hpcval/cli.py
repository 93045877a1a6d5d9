"""hpcval command line: run, report, compare, image, cluster.

Exit codes: 0 ok; 1 the validation found a problem (failed checks, a regression);
2 usage or input error (one line naming the file and the fault).
"""
import argparse
import sys
from pathlib import Path

from hpcval import __version__
from hpcval.errors import UsageError


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
    rc, _ = run.execute(checks, system, args.name or camp.name, nodes, repeat, setvars,
                        camp.reframe_options + camp.param_options() + (args.reframe_args or []))
    return rc


def _better(text):
    spec, sep, direction = text.rpartition('=')
    if not sep or not spec or direction not in ('higher', 'lower'):
        raise argparse.ArgumentTypeError(f'expected CHECK[:PVAR]=higher|lower, got {text!r}')
    return spec, direction


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'not a number: {text!r}')
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f'must lie between 0 and 1: {text!r}')
    return value


def cmd_report(args):
    from analysis import ingest, report
    dataset = ingest.load(args.inputs, better=dict(args.better or []))   # all input checked first
    out = Path(args.output)
    title = args.title or f'hpcval report: {out.name}'
    index = report.render(report.build(dataset, title, mode=args.mode, floor=args.floor), out)
    print(f'hpcval report: {len(dataset.sources)} input file(s), '
          f'{dataset.frame["display_name"].nunique()} test case(s) -> {index}')
    if dataset.warnings:
        print(f'hpcval report: {len(dataset.warnings)} warning(s), listed in the report', file=sys.stderr)
    return 0


def cmd_compare(args):
    from analysis import ingest, report
    better = dict(args.better or [])
    base = ingest.load([args.baseline], better=better)
    cand = ingest.load([args.candidate], better=better)
    rep = report.build_compare(base, cand, delta=args.delta, alpha=args.alpha, strict=args.strict,
                               title=args.title or 'hpcval compare')
    table = rep.tables['verdicts']
    if table.empty:
        print('hpcval compare: no case measured on both sides')
    else:
        view = table[['case', 'pvar', 'verdict', 'ratio', 'ci_lo', 'ci_hi', 'p_holm', 'runs_needed']].copy()
        with pd_options():
            print(view.to_string(index=False, float_format=lambda v: f'{v:.4g}'))
    for r in rep.tables['one_side_only'].itertuples():
        print(f'{r.side}: {r.case} {r.pvar}')
    index = report.render(rep, Path(args.output))
    counts = ', '.join(f'{n} {v}' for v, n in rep.summary.items())
    print(f'hpcval compare: {counts} -> {index}')
    return 1 if rep.summary.get('REGRESSION') else 0


def pd_options():
    import pandas as pd
    return pd.option_context('display.width', 200, 'display.max_colwidth', 60, 'display.max_rows', 500)


def parser():
    p = argparse.ArgumentParser(prog='hpcval', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--version', action='version', version=f'hpcval {__version__}')
    sub = p.add_subparsers(dest='command', required=True)

    r = sub.add_parser('run', help='run checks through ReFrame; store the run report under runs/')
    r.add_argument('checks', nargs='*', help='check modules under checks/ (e.g. mpi_microbench matmul)')
    r.add_argument('--campaign', help='a campaign under campaigns/ (NAME.toml)')
    r.add_argument('--system', help='site configuration under config/ (default: local)')
    r.add_argument('--nodes', type=_nodes, help='node counts, e.g. 1,2,3')
    r.add_argument('--repeat', type=int, help='repeat every test case N times')
    r.add_argument('-S', '--setvar', action='append', type=_setvar, metavar='[TEST.]VAR=VAL',
                   help='set a check variable (passed to ReFrame)')
    r.add_argument('--name', help='campaign label for runs/<name>/ (default: the campaign or "adhoc")')
    r.epilog = 'Options after a lone -- go to reframe unchanged.'
    r.set_defaults(func=cmd_run)

    rp = sub.add_parser('report', help='turn run reports into an HTML/Markdown/CSV report')
    rp.add_argument('inputs', nargs='+', metavar='RUN_OR_REPORT',
                    help='run directories, report.json files, or trees of them')
    rp.add_argument('-o', '--output', required=True, help='report directory, e.g. reports/NAME')
    rp.add_argument('--title', help='report title')
    rp.add_argument('--mode', choices=['strong', 'weak'], help='scaling mode for every check (default: as declared, else strong)')
    rp.add_argument('--floor', type=_fraction, default=0.75, help='parallel-efficiency floor (default 0.75)')
    rp.add_argument('--better', action='append', type=_better, metavar='CHECK[:PVAR]=higher|lower',
                    help='override the better direction the unit implies')
    rp.set_defaults(func=cmd_report)

    c = sub.add_parser('compare', help='baseline vs candidate: a verdict per case; exit 1 on a regression')
    c.add_argument('baseline', help='run directory, report.json, or a tree of them')
    c.add_argument('candidate', help='run directory, report.json, or a tree of them')
    c.add_argument('-o', '--output', default='reports/compare', help='report directory (default reports/compare)')
    c.add_argument('--delta', type=_fraction, default=0.05, help='practical threshold (default 0.05)')
    c.add_argument('--alpha', type=_fraction, default=0.05, help='significance level (default 0.05)')
    c.add_argument('--strict', action='store_true', help='a verdict needs the whole 95%% CI beyond delta')
    c.add_argument('--better', action='append', type=_better, metavar='CHECK[:PVAR]=higher|lower')
    c.add_argument('--title', help='report title')
    c.set_defaults(func=cmd_compare)

    from hpcval import cluster, image
    image.add_parser(sub)
    cluster.add_parser(sub)
    return p


def main(argv=None):
    from analysis.errors import InputError
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough = []
    if '--' in argv:
        i = argv.index('--')
        argv, passthrough = argv[:i], argv[i + 1:]
    args = parser().parse_args(argv)
    args.reframe_args = passthrough
    try:
        return args.func(args)
    except (UsageError, InputError) as err:
        print(f'hpcval {args.command}: error: {err}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'hpcval {args.command}: interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
