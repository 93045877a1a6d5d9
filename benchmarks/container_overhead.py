#!/usr/bin/env python3
"""Container vs bare on the same node: MPI latency at 8 B and DGEMM GFLOP/s.

Each round is one `hpcval run` session with every variant: bare (host MPI),
Charliecloud with the host MPI injected, Charliecloud with the image's own
MPI.  Latency runs the Open MPI image's osu_mpi (built from the same source);
DGEMM runs matmul_bench.py with the TensorFlow image's numpy (the same numpy
release as the host venv).  Ratios are container/bare medians across rounds,
with a 95 % BCa bootstrap CI (analysis.stats.ratio_ci).

Needs the images:  hpcval image build openmpi && hpcval image build tensorflow
    .venv/bin/python benchmarks/container_overhead.py [--rounds 9]
"""
import argparse
import sys
import tempfile
from pathlib import Path

from _common import ROOT, cases, hpcval_run, perf, without_openblas_overrides

sys.path.insert(0, str(ROOT))
from hpcval.analysis.stats import ratio_ci     # noqa: E402

VARIANTS = [('bare', 'host'), ('charliecloud', 'host'), ('charliecloud', 'bundled')]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--rounds', type=int, default=9)
    ap.add_argument('--sizes', default='2048,4096', help='DGEMM sizes')
    args = ap.parse_args()
    runs = Path(tempfile.mkdtemp(prefix='hpcval-container-'))
    env = without_openblas_overrides()
    lat = {v: [] for v in VARIANTS}
    gf = {(v, n): [] for v in VARIANTS for n in args.sizes.split(',')}
    for r in range(args.rounds):
        rundir = hpcval_run(['mpi_microbench', 'matmul', '--name', f'c{r}',
                             '-S', 'MpiMicrobench.max_message_size=8',
                             '-S', f'MatmulBench.sizes={args.sizes}', '-S', 'MatmulBench.reps=3',
                             # DGEMM: numpy float64 (not the TF or float32 variants)
                             '--', '-P', 'runtime=bare,charliecloud', '-P', 'mpi=host,bundled',
                             '-P', 'MatmulBench.backend=numpy', '-P', 'MatmulBench.dtype=float64',
                             '-n', 'MpiMicrobench.*%benchmark=latency', '-n', 'MatmulBench'],
                            runs, base_env=env)
        _, tcs = cases(rundir)
        for tc in tcs:
            v = (tc.get('runtime'), tc.get('mpi'))
            if v not in lat:
                continue
            if tc['result'] != 'pass':
                sys.exit(f'{tc["name"]} failed: {tc["fail_reason"]}')
            p = perf(tc)
            if tc['name'].startswith('MpiMicrobench'):
                lat[v].append(p['latency_8B'])
            else:
                for n in args.sizes.split(','):
                    gf[(v, n)].append(p[f'gflops_n{n}'])
        print(f'round {r}: ' + ' | '.join(f'{"/".join(v)} {lat[v][-1]:.2f} us' for v in VARIANTS), flush=True)

    base = ('bare', 'host')
    print(f'\n{args.rounds} rounds; medians; ratio = container / bare with 95 % BCa CI\n')
    print('| metric | variant | median | ratio to bare | 95 % CI | within 5 % |')
    print('|---|---|---|---|---|---|')
    rows = [('latency 8 B (us)', lat)] + [(f'DGEMM n={n} (GFLOP/s)', {v: gf[(v, n)] for v in VARIANTS})
                                          for n in args.sizes.split(',')]
    for metric, data in rows:
        for v in VARIANTS:
            med = sorted(data[v])[len(data[v]) // 2]
            if v == base:
                print(f'| {metric} | {"/".join(v)} | {med:.3g} | 1 | - | - |')
                continue
            ratio, lo, hi = ratio_ci(data[v], data[base])
            ok = 'yes' if 0.95 <= lo and hi <= 1.05 else ('ratio yes, CI no' if 0.95 <= ratio <= 1.05 else 'no')
            print(f'| {metric} | {"/".join(v)} | {med:.3g} | {ratio:.3f} | {lo:.3f}-{hi:.3f} | {ok} |')


if __name__ == '__main__':
    main()
