"""`hpcval proposal`: measured scaling, an extrapolation to the sizes asked for, and the
node-hours of a production plan, as a report ready to paste into an allocation proposal."""
import sys
from pathlib import Path

from hpcval.cli import common
from hpcval.cli.common import show


def cmd_proposal(args):
    from hpcval.analysis import allocation, outdir, proposal_report, scaling
    outdir.check(args.output, common.files(args.inputs))   # before any work: a refused folder costs nothing
    plan = allocation.load(args.plan) if args.plan else []
    dataset = common.load(args.inputs, dict(args.better or []))
    out = Path(args.output)
    opts = common.report_options_of('proposal', dataset)
    title = args.title or (f"Proposal: {opts['title']}" if opts.get('title') else f'hpcval proposal: {out.name}')
    floor = args.floor if args.floor is not None else opts.get('floor', scaling.DEFAULT_FLOOR)
    rep = proposal_report.build(dataset, args.nodes, plan, title=title, mode=args.mode or opts.get('mode'),
                                floor=floor, roles={**opts.get('roles', {}), **dict(args.role or [])},
                                caveats=opts.get('caveats', ()), level=args.level, n_boot=args.boot,
                                seed=args.seed, beyond=args.beyond_10x)
    index = proposal_report.render(rep, out, inputs=common.files(args.inputs))
    ext = rep.tables['extrapolation']
    print(show(f'hpcval proposal: {len(rep.extra["summary"])} application series, '
               f'{len(ext)} row(s) in tables/extrapolation.csv -> {index}'))
    for m in rep.extra['summary']:
        print(show(f'  {m["name"]}: {m["model"] or "no model: " + m["why"]}'))
    if 'plan' in rep.tables:
        p = rep.tables['plan']
        print(show(f'hpcval proposal: the plan needs {p["node_hours"].sum():.4g} node-hours '
                   f'(95 % interval {p["node_hours_lo"].sum():.4g}-{p["node_hours_hi"].sum():.4g})'))
    far = ext[ext['flag'].astype(str) != '']
    if len(far):
        print(f'hpcval proposal: {len(far)} row(s) flagged, beyond what the runs support: see the table',
              file=sys.stderr)
    if dataset.warnings:
        print(f'hpcval proposal: {len(dataset.warnings)} warning(s), listed in the report', file=sys.stderr)
    return 0


def _level(text):
    value = common.fraction(text)
    if not 0.5 <= value < 1:
        import argparse
        raise argparse.ArgumentTypeError(f'an interval level lies in [0.5, 1): {text!r}')
    return value


def add_parser(sub):
    pp = sub.add_parser('proposal', help='proposal-ready scaling, an extrapolation and the node-hours of a plan')
    pp.add_argument('inputs', nargs='+', metavar='RUN',
                    help='run directories, report.json files, perflogs, or trees of them; stored:QUERY')
    pp.add_argument('--nodes', required=True, type=common.node_counts, metavar='N[,N...]',
                    help='node counts to give figures for: measured ones are quoted, larger ones extrapolated')
    pp.add_argument('--plan', metavar='FILE',
                    help='production plan (YAML: nodes, runs, and steps or wall_time per run) -> node-hours')
    pp.add_argument('-o', '--output', required=True, help='report directory, e.g. reports/proposal')
    pp.add_argument('--title', help="report title (default: from the campaign's report.title)")
    pp.add_argument('--mode', choices=['strong', 'weak'], help='scaling mode for every series (default: as declared)')
    pp.add_argument('--floor', type=common.fraction,
                    help="parallel-efficiency floor (default: the campaign's report.floor, else 0.75)")
    pp.add_argument('--level', type=_level, default=0.95, help='prediction-interval level (default 0.95)')
    pp.add_argument('--boot', type=common.count, default=400, metavar='B',
                    help='bootstrap replicates of the runs for the intervals (default 400)')
    pp.add_argument('--seed', type=common.count, default=0, help='seed of the resampling (default 0)')
    pp.add_argument('--beyond-10x', action='store_true',
                    help='give figures past 10 x the largest measured size, flagged as no forecast '
                         '(default: refused, exit 2)')
    pp.add_argument('--better', action='append', type=common.better, metavar='CHECK[:PVAR]=higher|lower',
                    help='override the better direction the unit implies')
    pp.add_argument('--role', action='append', type=common.role, metavar='CHECK=ROLE',
                    help="analyse CHECK as ROLE whatever it declares (only 'application' checks are scaled)")
    pp.set_defaults(func=cmd_proposal)
