"""`hpcval validate-image CANDIDATE --against CURRENT`: one interleaved session, one verdict.

Exit 0: the candidate passed its functional checks and no workload is a
REGRESSION; 1: a functional failure or a REGRESSION; 2: usage or input
error (an image not in the folder, a bad option), nothing written.
"""
from pathlib import Path

from hpcval.cli import common
from hpcval.cli.common import show


def cmd_validate_image(args):
    from hpcval import campaign as campaigns
    from hpcval import validate
    from hpcval.analysis import ingest, outdir, report
    from hpcval.analysis import image_validation
    from hpcval.containers import store
    from hpcval.errors import UsageError
    if args.repeat is not None and args.repeat < 2:
        raise UsageError('--repeat must be at least 2: a verdict needs repeats on both sides')
    outdir.check(args.output, [])                    # refused before anything runs
    v = validate.validate(args.candidate, args.against, system=args.system, repeat=args.repeat,
                          nodes=args.nodes, name=args.name or validate.CAMPAIGN,
                          folder=args.images or store.image_folder(),
                          echo=lambda m: print(show(m), flush=True))
    if v.functional_rc == 2 or v.functional_dir is None:
        raise UsageError('the functional checks did not run (ReFrame made no run report)')
    func = ingest.load([v.functional_dir])
    copts = campaigns.load(validate.CAMPAIGN).compare_options()
    delta = args.delta if args.delta is not None else copts.get('delta', 0.05)
    if v.workload_dir is None:
        # nothing measured (a smoke test failed): the functional results alone
        work = func
    else:
        if v.workload_rc == 2:
            raise UsageError(f'the workload session made no run report ({v.workload_dir})')
        work = ingest.load([v.workload_dir])
    rep = image_validation.build(func, work, v.candidate, v.current, v.index, delta=delta,
                                 pvars=copts.get('pvars'), measured=v.workload_dir is not None,
                                 no_host_mpi=v.no_host_mpi)
    rep.extra['left_out'] = v.left_out
    inputs = [p for p in (v.functional_dir, v.workload_dir) if p]
    index = report.render(rep, Path(args.output), inputs=inputs)
    for r in rep.tables['functional'].itertuples():
        print(show(f'hpcval validate-image: {r.image} {r.check}: {r.result}' + (f' ({r.detail})' if r.detail else '')))
    table = rep.tables['verdicts']
    for r in table.itertuples():
        print(show(f'hpcval validate-image: {r.verdict:12s} {r.case} {r.pvar}: {v.candidate} / {v.current} = '
                   f'{r.ratio:.3g} [{r.ci_lo:.3g}, {r.ci_hi:.3g}]'))
    print(show(f"hpcval validate-image: {rep.extra['verdict']} -> {index}"))
    return 0 if rep.extra['verdict'] == 'PASS' else 1


def add_parser(sub):
    p = sub.add_parser('validate-image', help='a candidate image against the current one: functional checks, '
                                              'then every workload interleaved in one session; exit 1 on a '
                                              'regression or a functional failure')
    p.add_argument('candidate', metavar='CANDIDATE', help='NAME[:TAG] in the image folder (`hpcval image list`)')
    p.add_argument('--against', required=True, metavar='CURRENT', help='NAME[:TAG] of the image in service')
    p.add_argument('--system', help='site configuration under config/ (default: local; vcluster here)')
    p.add_argument('--repeat', type=int, help='runs of every case per image (default 6)')
    p.add_argument('--nodes', type=common.node_counts, help='node counts (default 1)')
    p.add_argument('--delta', type=common.fraction, help='practical threshold (default 0.05)')
    p.add_argument('--name', help='run label: runs/<name>/ and runs/<name>-functional/ (default validate-image)')
    p.add_argument('--images', help='image folder (default .cache/images, or $HPCVAL_IMAGES)')
    p.add_argument('-o', '--output', default='reports/validate-image',
                   help='report directory (default reports/validate-image)')
    p.epilog = ('Exit codes: 0 the candidate passed (functional checks, no REGRESSION); 1 a functional failure '
                'or a REGRESSION; 2 usage or input error (nothing run, nothing written).')
    p.set_defaults(func=cmd_validate_image)
