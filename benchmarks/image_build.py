#!/usr/bin/env python3
"""Image pipeline times and sizes: from nothing, unchanged, one instruction changed.

Builds the `openmpi` chain (debootstrap -> base -> openmpi, each built,
tested and converted to a directory and SquashFS) into a fresh temporary
image folder and ch-image storage, then:
  * rebuilds with nothing changed (the index says up to date),
  * rebuilds after appending one ENV line to a copy of the openmpi recipe
    (ch-image's build cache serves every earlier instruction; test and both
    conversions run again).
Stage times and sizes come from the image index.  Needs root (debootstrap).

    .venv/bin/python benchmarks/image_build.py [--keep DIR]
"""
import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT

sys.path.insert(0, str(ROOT))
from hpcval.analysis.textfmt import disk_size     # noqa: E402
from hpcval.containers import pipeline, recipes, store     # noqa: E402


def timed(pipe, name):
    t0 = time.monotonic()
    pipe.build(name)
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--keep', help='build into DIR and keep it (default: a temporary folder, removed)')
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix='hpcval-images-'))
    rec = work / 'recipes'
    shutil.copytree(recipes.RECIPES, rec, ignore=shutil.ignore_patterns('*.py', '__pycache__'))
    pipe = pipeline.Pipeline(folder=work / 'images', storage=work / 'ch-image', root=rec,
                             echo=lambda m: print(f'  {m}', flush=True))
    try:
        t_fresh = timed(pipe, 'openmpi')
        t_same = timed(pipe, 'openmpi')
        with open(rec / 'openmpi' / 'Dockerfile', 'a') as fp:
            fp.write(f'\nENV HPCVAL_BENCH_TOUCH={int(time.time())}\n')
        t_touch = timed(pipe, 'openmpi')
        idx = store.Index(work / 'images').images
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print('\n| build | wall (s) |\n|---|---|')
    print(f'| from nothing: debootstrap, base, openmpi (build, test, dir + SquashFS) | {t_fresh:.1f} |')
    print(f'| unchanged rebuild (index hit) | {t_same:.2f} |')
    print(f'| last openmpi instruction changed (ch-image cache, test, convert) | {t_touch:.1f} |')
    print('\n| image | stage times (s), last build | dir | SquashFS | convert dir / squash (s) |\n'
          '|---|---|---|---|---|')
    for name in ('bootstrap', 'base', 'openmpi'):
        e = idx.get(name, {})
        f = e.get('formats', {})
        def size(k, f=f):
            return disk_size(f[k]['bytes']) if k in f else '-'
        conv = ' / '.join(str(f[k]['seconds']) for k in ('dir', 'squash') if k in f) or '-'
        print(f'| {name} | {e.get("seconds")} | {size("dir")} | {size("squash")} | {conv} |')


if __name__ == '__main__':
    main()
