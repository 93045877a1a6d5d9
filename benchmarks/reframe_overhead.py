#!/usr/bin/env python3
"""ReFrame's overhead per test case on the local scheduler.

Runs a session of 1 and a session of N+1 do-nothing cases (config/local.py,
`true` as the job) and takes (T(N+1) - T(1)) / N: start-up cancels out, and
what is left is setup, job script, spawn, poll, sanity and report per case.
Rounds alternate; medians.

    .venv/bin/python benchmarks/reframe_overhead.py [--cases 40] [--rounds 3]
"""
import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from _common import ROOT, VENV_BIN, median


def session(ncases, rundir):
    env = dict(os.environ, HPCVAL_TRIVIAL_CASES=str(ncases), HPCVAL_RUN_DIR=str(rundir))
    cmd = [str(VENV_BIN / 'reframe'), '-C', str(ROOT / 'config' / 'local.py'), '--system', 'local',
           '-c', str(ROOT / 'benchmarks' / 'trivial_check.py'), '-r', '--nocolor',
           '-o', str(rundir / 'output'), '-s', str(rundir / 'stage'),
           '--report-file', str(rundir / 'report.json')]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--cases', type=int, default=40)
    ap.add_argument('--rounds', type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix='hpcval-overhead-'))
    try:
        small, large = [], []
        for r in range(args.rounds):
            small.append(session(1, tmp / f's{r}'))
            large.append(session(args.cases + 1, tmp / f'l{r}'))
            print(f'round {r}: 1 case {small[-1]:.2f} s, {args.cases + 1} cases {large[-1]:.2f} s', flush=True)
        per_case = (median(large) - median(small)) / args.cases
        print()
        print('| sessions | 1 case (median) | N+1 cases (median) | per case | target |')
        print('|---|---:|---:|---:|---|')
        print(f'| {args.rounds} x 2, N = {args.cases} | {median(small):.2f} s | {median(large):.2f} s '
              f'| {per_case:.3f} s | <= 0.3 s |')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
