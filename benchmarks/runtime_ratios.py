#!/usr/bin/env python3
"""Podman, podman-hpc and Charliecloud against each other and against bare, from one run.

Reads the run report of `hpcval run --campaign podman` (every runtime x MPI
variant in one session, 6 repeats, interleaved per test) and prints, per figure
(MPI latency at 8 B, bandwidth at 4 MiB, LAMMPS loop time): each variant's
median, then the ratios container / bare (bare always runs the host MPI) and
Podman / Charliecloud, podman-hpc / Charliecloud for the same MPI mode, with a
95 % BCa bootstrap CI (analysis.stats.ratio_ci).

    .venv/bin/hpcval image build openmpi lammps && \\
    .venv/bin/hpcval image build openmpi lammps --builder podman-hpc && \\
    .venv/bin/hpcval run --campaign podman && \\
    .venv/bin/python benchmarks/runtime_ratios.py runs/podman/latest
"""
import argparse
import sys
from collections import defaultdict

from _common import ROOT, cases, perf

sys.path.insert(0, str(ROOT))
from hpcval.analysis.stats import ratio_ci     # noqa: E402

FIGURES = [('latency_8B', 'MPI latency 8 B (us)'), ('bw_4MiB', 'MPI bandwidth 4 MiB (MB/s)'),
           ('loop_time', 'LAMMPS loop time, 2 ranks (s)')]
RUNTIMES = ('bare', 'charliecloud', 'podman', 'podman-hpc')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('run', help='run folder (runs/podman/latest)')
    args = ap.parse_args()
    _, tcs = cases(args.run)
    values = defaultdict(list)
    for tc in tcs:
        if tc.get('runtime') not in RUNTIMES or tc['result'] != 'pass':
            continue
        for name, value in perf(tc).items():
            values[(name, tc['runtime'], tc['mpi'])].append(value)
    print('| figure | variant | n | median | vs bare | 95 % CI | vs Charliecloud, same MPI | 95 % CI |')
    print('|---|---|---:|---:|---:|---|---:|---|')
    for name, label in FIGURES:
        bare = values[(name, 'bare', 'host')]
        for runtime in RUNTIMES:
            for mpi in ('host', 'bundled'):
                got = values.get((name, runtime, mpi))
                if not got:
                    continue
                cells = [label, f'{runtime}, {mpi} MPI', str(len(got)), f'{sorted(got)[len(got) // 2]:.3g}']
                for ref in (bare, values.get((name, 'charliecloud', mpi), [])):
                    if runtime == 'bare' or (ref is not bare and runtime == 'charliecloud'):
                        cells += ['-', '-']
                        continue
                    r, lo, hi = ratio_ci(got, ref)
                    cells += [f'{r:.3f}', f'{lo:.3f}-{hi:.3f}']
                print('| ' + ' | '.join(cells) + ' |')


if __name__ == '__main__':
    main()
