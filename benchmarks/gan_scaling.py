#!/usr/bin/env python3
"""3D-GAN training through the harness: global samples/s on 1 and 2 ranks of
this machine, strong and weak, and the share of the step in the allreduce.

All cases run in one ReFrame session (`--repeat`), interleaved by ReFrame's
order, so the 1- and 2-rank figures share the machine's state; ratios are
of medians over the repeats.

    .venv/bin/python benchmarks/gan_scaling.py [--repeat 5] [--steps 8]
"""
import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from _common import cases, hpcval_run, perf


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--repeat', type=int, default=5)
    ap.add_argument('--steps', type=int, default=8)
    ap.add_argument('--batch', type=int, default=8)
    args = ap.parse_args()
    runs = Path(tempfile.mkdtemp(prefix='hpcval-gan-'))
    try:
        rundir = hpcval_run(['gan_training', '--name', 'gan', '--repeat', str(args.repeat),
                             '-S', f'GanTraining.steps={args.steps}', '-S', f'GanTraining.batch={args.batch}',
                             '--', '-P', 'ranks_per_node=1,2'], runs)
        _, tcs = cases(rundir)
        got = {}
        for tc in tcs:
            if tc['name'].startswith('GanTraining') and tc['result'] == 'pass':
                got.setdefault((tc['mode'], tc['ranks']), []).append(perf(tc))
        print(f'{"mode":6} {"ranks":>5} {"batch":>5} {"samples/s":>10} {"min-max":>13} {"step s":>7} '
              f'{"allreduce %":>11} {"allreduce ms":>12} {"speedup":>7} {"runs":>4}')
        for mode in ('strong', 'weak'):
            base = statistics.median(p['samples_per_s'] for p in got[(mode, 1)])
            for ranks in (1, 2):
                ps = got[(mode, ranks)]
                rate = [p['samples_per_s'] for p in ps]
                batch = args.batch if mode == 'strong' else args.batch * ranks
                print(f'{mode:6} {ranks:5d} {batch:5d} {statistics.median(rate):10.2f} '
                      f'{min(rate):6.2f}-{max(rate):6.2f} {statistics.median(p["step_time"] for p in ps):7.3f} '
                      f'{statistics.median(p["allreduce_share"] for p in ps):11.3f} '
                      f'{1000 * statistics.median(p["allreduce_time"] for p in ps):12.3f} '
                      f'{statistics.median(rate) / base:7.3f} {len(ps):4d}')
        print(f'command: .venv/bin/python benchmarks/gan_scaling.py --repeat {args.repeat} '
              f'--steps {args.steps} --batch {args.batch}')
    finally:
        shutil.rmtree(runs, ignore_errors=True)


if __name__ == '__main__':
    main()
