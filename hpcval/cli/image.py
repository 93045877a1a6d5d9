"""`hpcval image build|import|test|convert|list|rm`: the container pipeline's command line."""
import sys
import time

from hpcval.containers import pipeline, podman, recipes, store
from hpcval.containers.errors import ImageError
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


def _ref(text):
    try:
        return store.parse_ref(text)
    except ImageError as err:
        raise UsageError(str(err)) from None


def cmd_build(args):
    pipe = _pipeline(args)
    if args.tag is not None:
        _ref(f'x:{args.tag}')
    if args.builder == 'podman':
        build = lambda name, **kw: podman.build(pipe, name, **kw)                     # noqa: E731
    elif args.builder == 'podman-hpc':
        build = lambda name, **kw: _migrated(pipe, podman.build(pipe, name, **kw), **kw)  # noqa: E731
    else:
        build = pipe.build
    for name in args.names:
        t0 = time.monotonic()
        try:
            results = build(name, rebuild=args.rebuild, tag=args.tag or store.DEFAULT_TAG)
        except pipeline.StageFailed as err:
            return _failed(err)
        stages = '; '.join(f'{r.name} ' + ', '.join(f'{k} {v if v == "cached" else f"{v:.1f} s"}'
                                                     for k, v in r.stages.items()) for r in results)
        print(f'hpcval image: {name} ready in {time.monotonic() - t0:.1f} s ({stages})')
    return 0


def _migrated(pipe, results, tag=store.DEFAULT_TAG, rebuild=False):
    '''podman-hpc's squashed copy of the podman build just made (the last of ``results``).'''
    from hpcval.containers import podman_hpc
    name = store.parse_ref(results[-1].name.split()[0])[0]
    try:
        _, _, seconds = podman_hpc.migrate(pipe.folder, name, tag)
    except ImageError as err:
        raise pipeline.StageFailed(f'{store.ref(name, tag)} (podman-hpc)', 'migrate', str(err)) from None
    res = pipeline.Result(f'{store.ref(name, tag)} (podman-hpc)')
    res.stages['migrate'] = seconds.get('total', 'cached')
    return [*results, res]


def cmd_import(args):
    from hpcval.containers import imports
    name, tag = _ref(args.ref)
    pipe = _pipeline(args)
    try:
        seconds, entry = imports.import_image(pipe, name, tag, args.source, test=args.test, replace=args.replace)
    except pipeline.StageFailed as err:
        return _failed(err)
    from hpcval.analysis.textfmt import disk_size
    dirf = entry.get('formats', {}).get('dir', {})
    print(f"hpcval image: {store.ref(name, tag)} imported from {entry['source']['kind']} in {seconds:.1f} s: "
          f"{disk_size(dirf.get('bytes'))}, {dirf.get('digest', '')[:19]}, test passed")
    return 0


def cmd_rm(args):
    folder = store.check_folder(args.images or store.image_folder())
    index = store.Index(folder)
    gone = []
    for text in args.refs:
        name, tag = _ref(text)
        k = store.key(name, tag)
        if k not in index.images:
            raise UsageError(f'{store.ref(name, tag)}: no such image in {index.path} (see `hpcval image list`)')
        gone.append((name, tag, index.images.pop(k)))
    index.save()            # the index first: an image half removed is never listed as there
    for name, tag, entry in gone:
        for info in (entry.get('formats') or {}).values():
            path = folder / str(info.get('path', ''))
            if info.get('path') and path.parent == folder:
                pipeline._remove(path)
        if (entry.get('podman') or {}).get('image', '').startswith(podman.IMAGE_PREFIX):
            podman.Podman(podman.podman_root(folder)).remove(entry['podman']['image'])
        print(f'hpcval image: removed {store.ref(name, tag)}')
    return 0


def _each(args, stage, done):
    pipe = _pipeline(args)
    try:
        for text in args.names:
            name, tag = _ref(text)
            print(f'hpcval image: {text} {done} in {getattr(pipe, stage)(name, tag):.1f} s')
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
    rows = [('IMAGE', 'FROM', 'TEST', 'FORMAT', 'DIGEST', 'SIZE', 'AGE')]
    keys = sorted(set(recipes.names()) | set(index.images) - {recipes.BOOTSTRAP}, key=store.split_key)
    for k in keys:
        entry = index.images.get(k, {})
        test = entry.get('test', {}).get('status') or entry.get('build', {}).get('status') or 'not built'
        if entry.get('build', {}).get('status') == 'failed':
            test = 'build failed'
        origin = (f"import {entry['source'].get('kind', '?')}" if entry.get('source')
                  else entry.get('recipe') or ('recipe' if k in recipes.names() else '-'))
        formats = dict(entry.get('formats') or ({} if entry.get('podman') else {'-': {}}))
        rows += _podman_row(k, entry)
        for fmt, info in formats.items():
            rows.append((store.ref(*store.split_key(k)), origin, test, fmt, (info.get('digest') or '-')[:19],
                         disk_size(info.get('bytes')),
                         _age(entry.get('converted') or entry.get('imported') or entry.get('built'))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print('  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    boot = index.images.get(recipes.BOOTSTRAP, {})
    if boot.get('mirror'):
        print(f"(base: debootstrap {pipeline.SUITE} from {boot['mirror']}"
              + (f", {boot['mirror_from']}" if boot.get('mirror_from') else '') + ')')
    print(f'(index: {index.path})')
    return 0


def _podman_row(k, entry):
    '''The podman build of a recipe (``--builder podman``): a row of its own.'''
    rec = entry.get('podman')
    if not rec:
        return []
    test = 'build failed' if rec.get('build', {}).get('status') == 'failed' else rec.get('test', {}).get('status', '-')
    from hpcval.analysis.textfmt import disk_size
    return [(store.ref(*store.split_key(k)), rec.get('recipe', '-'), test, 'podman',
             (rec.get('digest') or '-')[:19], disk_size(rec.get('bytes')), _age(rec.get('built')))]


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
    b.add_argument('names', nargs='+', metavar='RECIPE',
                   help=f'recipes: {", ".join(recipes.names())}, or a folder holding a Dockerfile')
    b.add_argument('--tag', help='store the image as RECIPE:TAG (default: current; its bases stay current)')
    b.add_argument('--rebuild', action='store_true', help='ignore the index and rebuild (ch-image cache still used)')
    b.add_argument('--format', help='dir,squash (default both)')
    b.add_argument('--builder', choices=('charliecloud', 'podman', 'podman-hpc'), default='charliecloud',
                   help='ch-image (converted to dir and squash); podman build into the project\'s podman '
                        'storage (runtime=podman); podman-hpc: the same, then migrated to podman-hpc\'s '
                        'squashed store (runtime=podman-hpc) (default charliecloud)')
    b.add_argument('--images', **common)
    b.set_defaults(func=cmd_build)
    i = isub.add_parser('import', help='import an image: a docker/podman save archive (Docker or OCI), '
                                       'a directory tree or a SquashFS file')
    i.add_argument('ref', metavar='NAME:TAG')
    i.add_argument('source', metavar='SOURCE')
    i.add_argument('--test', metavar='COMMAND',
                   help="smoke test run in the image (default: the recipe NAME's, else that a shell starts)")
    i.add_argument('--replace', action='store_true', help='replace NAME:TAG if it exists')
    i.add_argument('--format', help='dir,squash (default both)')
    i.add_argument('--images', **common)
    i.set_defaults(func=cmd_import)
    rm = isub.add_parser('rm', help='remove images from the folder (their formats and index entries)')
    rm.add_argument('refs', nargs='+', metavar='NAME:TAG')
    rm.add_argument('--images', **common)
    rm.set_defaults(func=cmd_rm)
    t = isub.add_parser('test', help="run a built image's smoke test")
    t.add_argument('names', nargs='+', metavar='NAME[:TAG]')
    t.add_argument('--images', **common)
    t.set_defaults(func=cmd_test)
    c = isub.add_parser('convert', help='convert a tested image to a directory and SquashFS')
    c.add_argument('names', nargs='+', metavar='NAME[:TAG]')
    c.add_argument('--format', help='dir,squash (default both)')
    c.add_argument('--images', **common)
    c.set_defaults(func=cmd_convert)
    ls = isub.add_parser('list', help='images and their tags side by side: origin, test, digests, sizes, ages')
    ls.add_argument('--images', **common)
    ls.set_defaults(func=cmd_list)
