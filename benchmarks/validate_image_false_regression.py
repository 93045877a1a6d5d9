#!/usr/bin/env python3
"""False-regression rate of `hpcval validate-image`: a candidate built from the same
recipe as the current image must never be called a REGRESSION.

Builds ``openmpi:same`` from containers/openmpi (the current image's recipe), then
runs SESSIONS validate-image sessions of it against ``openmpi`` (default repeat 6)
and counts the REGRESSION cells and sessions; prints each session's wall time.

    .venv/bin/python benchmarks/validate_image_false_regression.py --sessions 5
"""
import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HPCVAL = [sys.executable, '-m', 'hpcval']


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--sessions', type=int, default=5)
    p.add_argument('--system', default='local')
    args = p.parse_args()
    subprocess.run(HPCVAL + ['image', 'build', 'openmpi', '--tag', 'same'], cwd=ROOT, check=True)
    cells = regressions = failed_sessions = 0
    verdicts = {}
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.sessions):
            out = Path(tmp) / f'report-{i}'
            t0 = time.monotonic()
            proc = subprocess.run(HPCVAL + ['validate-image', 'openmpi:same', '--against', 'openmpi',
                                            '--system', args.system, '-o', str(out)], cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            times.append(time.monotonic() - t0)
            rows = list(csv.DictReader(open(out / 'tables' / 'verdicts.csv')))
            n_reg = sum(r['verdict'] == 'REGRESSION' for r in rows)
            for r in rows:
                verdicts[r['verdict']] = verdicts.get(r['verdict'], 0) + 1
            cells += len(rows)
            regressions += n_reg
            failed_sessions += proc.returncode != 0
            print(f'session {i + 1}: exit {proc.returncode}, {len(rows)} cells, {n_reg} REGRESSION, '
                  f'{times[-1]:.0f} s', flush=True)
    print(f'{args.sessions} sessions, {cells} cells: verdicts {verdicts}; REGRESSION cells {regressions} '
          f'({regressions / max(cells, 1):.1%}), sessions exiting non-zero {failed_sessions}; '
          f'wall time per session {min(times):.0f}-{max(times):.0f} s')
    subprocess.run(HPCVAL + ['image', 'rm', 'openmpi:same'], cwd=ROOT)
    return 0


if __name__ == '__main__':
    sys.exit(main())
