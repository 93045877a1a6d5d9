#!/usr/bin/env python3
"""DGEMM n=4096 through the matmul check, against the node's measured and nominal peak.

The measured peak is the check's own (checks/src/fma_peak.c, run before the
GEMM in the same job).

The check runs with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset (this command
only: some machines here set them, and they slow a current numpy).  A bare
numpy timing in the same script gives the harness/bare ratio.

    .venv/bin/python benchmarks/matmul_peak.py [--rounds 3] [--n 4096]
"""
import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import cases, hpcval_run, median, perf, without_openblas_overrides

BARE = '''
import time, numpy as np
n = {n}; a = np.random.rand(n, n); b = np.random.rand(n, n); a @ b
rates = []
for _ in range({reps}):
    t = time.perf_counter(); a @ b; rates.append(2 * n**3 / (time.perf_counter() - t) / 1e9)
rates.sort(); print(rates[len(rates) // 2])
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--n', type=int, default=4096)
    ap.add_argument('--reps', type=int, default=5)
    args = ap.parse_args()
    env = without_openblas_overrides()
    runs = Path(tempfile.mkdtemp(prefix='hpcval-matmul-'))
    try:
        harness, bare, measured, peak, how, mhow = [], [], [], None, '', ''
        for r in range(args.rounds):
            rundir = hpcval_run(['matmul', '--name', f'm{r}', '-S', f'MatmulBench.sizes={args.n}',
                                 '-S', f'MatmulBench.reps={args.reps}'], runs, base_env=env)
            _, tcs = cases(rundir)
            tc = next(t for t in tcs if t['display_name'].startswith('MatmulBench'))
            p = perf(tc)
            harness.append(p[f'gflops_n{args.n}'])
            peak, how = p['nominal_peak'], tc['peak_derivation']
            measured.append(p['measured_peak'])
            mhow = tc['measured_peak_derivation']
            out = subprocess.run([sys.executable, '-c', BARE.format(n=args.n, reps=args.reps)],
                                 env=env, capture_output=True, text=True, check=True)
            bare.append(float(out.stdout))
            print(f'round {r}: harness {harness[-1]:.1f} GFLOP/s, measured peak {measured[-1]:.1f}, '
                  f'bare numpy {bare[-1]:.1f} GFLOP/s', flush=True)
        print()
        print(f'Measured peak (median of {len(measured)}): {median(measured):.2f} GFLOP/s = {mhow}; '
              f'rounds {", ".join(f"{m:.1f}" for m in measured)}')
        print(f'Nominal peak: {peak:.2f} GFLOP/s = {how}')
        print()
        print('| n | harness (median) | % of measured peak | % of nominal peak | bare numpy (median) | harness/bare |')
        print('|---:|---:|---:|---:|---:|---:|')
        print(f'| {args.n} | {median(harness):.1f} GFLOP/s | {100 * median(harness) / median(measured):.1f} % '
              f'| {100 * median(harness) / peak:.1f} % | {median(bare):.1f} GFLOP/s '
              f'| {median(harness) / median(bare):.3f} |')
    finally:
        shutil.rmtree(runs, ignore_errors=True)


if __name__ == '__main__':
    main()
