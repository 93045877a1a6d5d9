#!/usr/bin/env python3
"""GEMM through the matmul check: numpy and TensorFlow, float64 and float32,
against the node's nominal peak (x 2 for float32), in one ReFrame session.

    .venv/bin/python benchmarks/matmul_backends.py [--repeat 3] [--sizes 1024,2048,4096]
"""
import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from _common import cases, hpcval_run, perf, without_openblas_overrides


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--sizes', default='1024,2048,4096')
    ap.add_argument('--reps', type=int, default=5)
    args = ap.parse_args()
    runs = Path(tempfile.mkdtemp(prefix='hpcval-gemm-'))
    try:
        rundir = hpcval_run(['matmul', '--name', 'gemm', '--repeat', str(args.repeat),
                             '-S', f'MatmulBench.sizes={args.sizes}', '-S', f'MatmulBench.reps={args.reps}'],
                            runs, base_env=without_openblas_overrides())
        _, tcs = cases(rundir)
        got = {}
        for tc in tcs:
            if tc['name'].startswith('MatmulBench') and tc['result'] == 'pass':
                got.setdefault((tc['backend'], tc['dtype']), []).append(perf(tc))
        sizes = [int(n) for n in args.sizes.split(',')]
        print(f'{"backend":10} {"dtype":7} {"peak":>6} ' + ' '.join(f'{"n=" + str(n):>16}' for n in sizes))
        numpy_rate = {}
        for (backend, dtype) in sorted(got, key=lambda k: (k[1], k[0] != 'numpy')):
            ps = got[(backend, dtype)]
            peak = statistics.median(p['nominal_peak'] for p in ps)
            cells = []
            for n in sizes:
                rate = statistics.median(p[f'gflops_n{n}'] for p in ps)
                if backend == 'numpy':
                    numpy_rate[(dtype, n)] = rate
                rel = f' x{rate / numpy_rate[(dtype, n)]:.2f}' if backend != 'numpy' else ''
                cells.append(f'{rate:6.1f} ({100 * rate / peak:3.0f}%){rel}')
            print(f'{backend:10} {dtype:7} {peak:6.1f} ' + ' '.join(f'{c:>16}' for c in cells))
        print('GFLOP/s per node, median of', args.repeat, 'runs; (% of nominal peak); xR: TensorFlow / numpy')
        print(f'command: .venv/bin/python benchmarks/matmul_backends.py --repeat {args.repeat} '
              f'--sizes {args.sizes} --reps {args.reps}')
    finally:
        shutil.rmtree(runs, ignore_errors=True)


if __name__ == '__main__':
    main()
