"""`hpcval image build|test|convert|list`: the container pipeline's command line."""
import sys
import time

from hpcval.containers import pipeline, recipes, store
from hpcval.errors import UsageError


def _pipeline(args):
    formats = args.format.split(',') if getattr(args, 'format', None) else pipeline.FORMATS
    bad = [f for f in formats if f not in pipeline.FORMATS]
    if bad:
        raise UsageError(f'unknown image format(s) {", ".join(bad)}: choose from {", ".join(pipeline.FORMATS)}')
    return pipeline.Pipeline(folder=args.images, formats=formats,
                             echo=lambda m: print(f'hpcval image: {m}', flush=True))


def _failed(err):
    print(f'hpcval image: error: {err}', file=sys.stderr)
    # a recipe that does not build is bad input; an image that fails its test
    # is a finding
    return 2 if err.stage in ('build', 'debootstrap', 'import') else 1


def cmd_build(args):
    pipe = _pipeline(args)
    for name in args.names:
        t0 = time.monotonic()
        try:
            results = pipe.build(name, rebuild=args.rebuild)
        except pipeline.StageFailed as err:
            return _failed(err)
        stages = '; '.join(f'{r.name} ' + ', '.join(f'{k} {v if v == "cached" else f"{v:.1f} s"}'
                                                     for k, v in r.stages.items()) for r in results)
        print(f'hpcval image: {name} ready in {time.monotonic() - t0:.1f} s ({stages})')
    return 0


def _each(args, stage, done):
    pipe = _pipeline(args)
    try:
        for name in args.names:
            print(f'hpcval image: {name} {done} in {getattr(pipe, stage)(name):.1f} s')
    except pipeline.StageFailed as err:
        return _failed(err)
    return 0


def cmd_test(args):
    return _each(args, 'test', 'test passed')


def cmd_convert(args):
    return _each(args, 'convert', 'converted')


def cmd_list(args):
    from hpcval.analysis.textfmt import disk_size
    folder = args.images or store.image_folder()
    index = store.Index(folder)
    rows = [('IMAGE', 'TEST', 'FORMAT', 'DIGEST', 'SIZE', 'AGE')]
    for name in sorted(set(recipes.names()) | set(index.images) - {recipes.BOOTSTRAP}):
        entry = index.images.get(name, {})
        test = entry.get('test', {}).get('status') or entry.get('build', {}).get('status') or 'not built'
        if entry.get('build', {}).get('status') == 'failed':
            test = 'build failed'
        formats = entry.get('formats') or {'-': {}}
        for fmt, info in formats.items():
            rows.append((name, test, fmt, (info.get('digest') or '-')[:19],
                         disk_size(info.get('bytes')), _age(entry.get('converted') or entry.get('built'))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print('  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print(f'(index: {index.path})')
    return 0


def _age(stamp):
    if not stamp:
        return '-'
    try:
        then = time.mktime(time.strptime(stamp, '%Y-%m-%dT%H:%M:%S%z'))
    except ValueError:
        return stamp
    s = max(0, time.time() - then)
    return f'{s / 60:.0f} min' if s < 7200 else (f'{s / 3600:.0f} h' if s < 172800 else f'{s / 86400:.0f} d')


def add_parser(sub):
    im = sub.add_parser('image', help='container images: build -> test -> convert (Charliecloud)')
    isub = im.add_subparsers(dest='image_command', required=True)
    common = dict(help='image folder (default .cache/images, or $HPCVAL_IMAGES)')
    b = isub.add_parser('build', help='build, test and convert recipes (bases first, cached when unchanged)')
    b.add_argument('names', nargs='+', metavar='RECIPE', help=f'recipes: {", ".join(recipes.names())}')
    b.add_argument('--rebuild', action='store_true', help='ignore the index and rebuild (ch-image cache still used)')
    b.add_argument('--format', help='dir,squash (default both)')
    b.add_argument('--images', **common)
    b.set_defaults(func=cmd_build)
    t = isub.add_parser('test', help="run a built image's smoke test")
    t.add_argument('names', nargs='+', metavar='RECIPE')
    t.add_argument('--images', **common)
    t.set_defaults(func=cmd_test)
    c = isub.add_parser('convert', help='convert a tested image to a directory and SquashFS')
    c.add_argument('names', nargs='+', metavar='RECIPE')
    c.add_argument('--format', help='dir,squash (default both)')
    c.add_argument('--images', **common)
    c.set_defaults(func=cmd_convert)
    ls = isub.add_parser('list', help='images, test status, digests, sizes, ages')
    ls.add_argument('--images', **common)
    ls.set_defaults(func=cmd_list)
