#!/usr/bin/env python3
"""Ingest + full report time and peak memory for 10 000 and 100 000 test cases.

Synthetic run reports (benchmarks/synth_reports.py: 10 perf variables a case,
1 000 cases a session file, 2 MPI variants, 4 node counts, 3 % failures) are
written once per size; then `hpcval report` runs on them as a user would.
Wall time and the child's peak RSS (getrusage) are measured, and the cost
per case compared between the sizes to show it grows linearly.

    .venv/bin/python benchmarks/report_scale.py [--sizes 10000,100000]
"""
import argparse
import os
import resource
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run_child(cmd):
    '''Run cmd; return (seconds, peak RSS in MB of that child alone).'''
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the max over all waited children: run the
    # largest size last, or read it as an upper bound for the smaller one
    return wall, max(after, before) / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--sizes', default='10000,100000')
    ap.add_argument('--repeat', type=int, default=3, help='report runs per size (median shown)')
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix='hpcval-scale-'))
    rows = []
    try:
        for n in sorted(int(s) for s in args.sizes.split(',')):
            data = tmp / f'in{n}'
            subprocess.run([sys.executable, str(ROOT / 'benchmarks' / 'synth_reports.py'), str(data),
                            '--cases', str(n), '--extra-pvars', '9', '--cases-per-report', '1000',
                            '--mpi-variants', 'host,bundled', '--fail-rate', '0.03', '--bad-node', 'nid0007'],
                           check=True, stdout=subprocess.DEVNULL)
            os.sync()       # the generator's writes are flushed before the clock starts
            walls = []
            for _ in range(args.repeat):
                wall, rss = run_child([str(BIN / 'hpcval'), 'report', str(data), '-o', str(tmp / f'rep{n}')])
                walls.append(wall)
            size = sum(p.stat().st_size for p in (tmp / f'rep{n}').rglob('*') if p.is_file()) / 1e6
            rows.append((n, statistics.median(walls), min(walls), max(walls), rss, size))
            print(f'{n} cases: {", ".join(f"{w:.1f}" for w in walls)} s, peak RSS {rss:.0f} MB, '
                  f'report {size:.0f} MB', flush=True)
            shutil.rmtree(data)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print('| test cases | perf rows | wall (median) | range | peak RSS | report size |')
    print('|---:|---:|---:|---:|---:|---:|')
    for n, wall, lo, hi, rss, size in rows:
        print(f'| {n:,} | ~{10 * n:,} | {wall:.1f} s | {lo:.1f}-{hi:.1f} s | {rss:.0f} MB | {size:.0f} MB |')
    if len(rows) > 1:
        (n0, w0, *_), (n1, w1, *_) = rows[0], rows[-1]
        print(f'\nmarginal cost: {(w1 - w0) / (n1 - n0) * 1e4:.2f} s per 10 000 cases; '
              f'fixed part about {w0 - (w1 - w0) / (n1 - n0) * n0:.1f} s')


if __name__ == '__main__':
    main()
