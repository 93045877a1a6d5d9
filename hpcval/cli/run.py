"""`hpcval run`: run checks through ReFrame; the run report under runs/."""
import argparse

from hpcval.cli.common import node_counts, show


def _setvar(text):
    if '=' not in text:
        raise argparse.ArgumentTypeError(f'expected [TEST.]VAR=VALUE, got {text!r}')
    return tuple(text.split('=', 1))


def cmd_run(args):
    from hpcval import plan as plans
    from hpcval import run
    if args.name is not None:
        run.check_label(args.name, '--name')       # before anything is read or made
    plan = plans.make(args.campaign, args.checks, args.system, args.nodes, args.repeat, args.setvar or [],
                      args.name, args.tag or [], args.fault or [], args.reframe_args or [])
    if plan.whole_system:
        print(show(f'hpcval run: no check named: {" ".join(plan.checks)} on {plan.system}, '
                   f'nodes {",".join(map(str, plan.nodes))}'
                   + (f', swept over {" ".join(plan.swept)}' if plan.swept else '')), flush=True)
    action = 'list' if args.list else 'dry-run' if args.dry_run else 'run'
    rc, _ = run.execute(plan.checks, plan.system, plan.name, plan.nodes, plan.repeat, plan.setvars, plan.extra,
                        tags=plan.tags, faults=plan.faults, action=action, app=plan.app)
    return rc


def add_parser(sub):
    r = sub.add_parser('run', help='run checks through ReFrame; store the run report under runs/')
    r.add_argument('checks', nargs='*', help='check modules under checks/ (e.g. mpi_microbench matmul)')
    r.add_argument('--campaign', help='a campaign under campaigns/ (NAME.yaml)')
    r.add_argument('--system', help='site configuration under config/ (default: local)')
    r.add_argument('--nodes', type=node_counts, help='node counts, e.g. 1,2,3')
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
