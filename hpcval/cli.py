"""hpcval command line: run, report.

Exit codes: 0 ok; 1 the validation found a problem (failed checks);
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
                        camp.reframe_options + (args.reframe_args or []))
    return rc


def cmd_report(args):
    from analysis import ingest, report
    dataset = ingest.load(args.inputs)           # all input checked before anything is written
    out = Path(args.output)
    title = args.title or f'hpcval report: {out.name}'
    index = report.render(report.build(dataset, title), out)
    print(f'hpcval report: {len(dataset.sources)} run report(s), '
          f'{dataset.frame["display_name"].nunique()} test case(s) -> {index}')
    return 0


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
    rp.set_defaults(func=cmd_report)
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
