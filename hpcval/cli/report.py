"""`hpcval report`: run reports, perflogs or stored sessions -> an HTML/Markdown/CSV report."""
import sys
from pathlib import Path

from hpcval.cli import common
from hpcval.cli.common import show


def cmd_report(args):
    from hpcval.analysis import outdir, report, scaling
    outdir.check(args.output, common.files(args.inputs))  # before any work: a refused folder costs nothing
    dataset = common.load(args.inputs, dict(args.better or []))   # all input checked first
    out = Path(args.output)
    opts = common.report_options_of('report', dataset)
    title = args.title or opts.get('title') or f'hpcval report: {out.name}'
    mode = args.mode or opts.get('mode')
    floor = args.floor if args.floor is not None else opts.get('floor', scaling.DEFAULT_FLOOR)
    roles = {**opts.get('roles', {}), **dict(args.role or [])}
    index = report.render(report.build(dataset, title, mode=mode, floor=floor, roles=roles,
                                       caveats=opts.get('caveats', ()), targets=args.nodes), out,
                          inputs=common.files(args.inputs))
    print(show(f'hpcval report: {len(dataset.sources)} input file(s), '
               f'{dataset.frame["display_name"].nunique()} test case(s) -> {index}'))
    if dataset.warnings:
        print(f'hpcval report: {len(dataset.warnings)} warning(s), listed in the report', file=sys.stderr)
    return 0


def add_parser(sub):
    rp = sub.add_parser('report', help='turn run reports into an HTML/Markdown/CSV report')
    rp.add_argument('inputs', nargs='+', metavar='RUN_OR_REPORT',
                    help='run directories, report.json files, perflogs, or trees of them; '
                         "stored:UUID or stored:TIMESPAN for sessions in ReFrame's results storage")
    rp.add_argument('-o', '--output', required=True, help='report directory, e.g. reports/NAME')
    rp.add_argument('--title', help="report title (default: the campaign's report.title)")
    rp.add_argument('--mode', choices=['strong', 'weak'],
                    help="scaling mode for every check "
                         "(default: the campaign's report.mode, else as declared, else strong)")
    rp.add_argument('--floor', type=common.fraction,
                    help="parallel-efficiency floor (default: the campaign's report.floor, else 0.75)")
    rp.add_argument('--nodes', type=common.node_counts, metavar='N[,N...]',
                    help='node counts the proposal section extrapolates application series to, as a model '
                         '(default: 2 and 4 x the largest measured; `hpcval proposal` for intervals and a plan)')
    rp.add_argument('--better', action='append', type=common.better, metavar='CHECK[:PVAR]=higher|lower',
                    help='override the better direction the unit implies')
    rp.add_argument('--role', action='append', type=common.role, metavar='CHECK=ROLE',
                    help='analyse CHECK as ROLE (application, kernel, network, io, environment, cases) '
                         "whatever it declares (default: the campaign's report.roles, else as declared, "
                         'else guessed)')
    rp.set_defaults(func=cmd_report)
