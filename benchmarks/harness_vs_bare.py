#!/usr/bin/env python3
"""Latency at 8 B and bandwidth at 4 MiB: through hpcval/ReFrame vs the same binary bare.

Alternates rounds (harness, then bare) so drift on this shared machine hits
both sides alike, and compares medians as ratios.  The bare runs use the very
binary ReFrame built and the very command line of its job script.

    .venv/bin/python benchmarks/harness_vs_bare.py [--rounds 7]
"""
import argparse
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from _common import cases, hpcval_run, median, perf

def job_line(rundir, benchmark):
    '''The launcher line and exported env of the ReFrame job script that ran `benchmark`.'''
    for script in Path(rundir).glob('output/**/rfm_job.sh'):
        text = script.read_text()
        m = re.search(rf'^(mpirun .*osu_mpi {benchmark} .*)$', text, re.M)
        if m:
            env = dict(re.findall(r'^export (\w+)=(\S*)$', text, re.M))
            return m.group(1).split(), env
    raise SystemExit(f'no job script for {benchmark} in {rundir}')


def parse_value(text, size):
    m = re.search(rf'^{size}\s+([0-9.]+)', text, re.M)
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--rounds', type=int, default=9)
    ap.add_argument('--keep', action='store_true', help='keep the run directories')
    args = ap.parse_args()
    runs = Path(tempfile.mkdtemp(prefix='hpcval-bench-'))
    h_lat, h_bw, b_lat, b_bw = [], [], [], []
    for r in range(args.rounds):
        rundir = hpcval_run(['mpi_microbench', '--name', f'h{r}', '--',
                             '-n', '%benchmark=latency', '-n', '%benchmark=bw', '--keep-stage-files'], runs)
        _, tcs = cases(rundir)
        by = {tc['benchmark']: perf(tc) for tc in tcs if tc.get('benchmark')}
        h_lat.append(by['latency']['latency_8B'])
        h_bw.append(by['bw']['bw_4MiB'])
        for bench, sink, size in (('latency', b_lat, 8), ('bw', b_bw, 4194304)):
            cmd, job_env = job_line(rundir, bench)
            out = subprocess.run(cmd, env=dict(os.environ, **job_env), capture_output=True, text=True,
                                 check=True)
            sink.append(parse_value(out.stdout, size))
        print(f'round {r}: harness lat {h_lat[-1]:.2f} us bw {h_bw[-1]:.0f} MB/s | '
              f'bare lat {b_lat[-1]:.2f} us bw {b_bw[-1]:.0f} MB/s', flush=True)
    lat_ratio = median(h_lat) / median(b_lat)
    bw_ratio = median(h_bw) / median(b_bw)
    print()
    print('| metric | harness (median) | bare (median) | ratio | target |')
    print('|---|---:|---:|---:|---|')
    print(f'| latency 8 B | {median(h_lat):.2f} us | {median(b_lat):.2f} us | {lat_ratio:.3f} | <= 1.10 |')
    print(f'| bandwidth 4 MiB | {median(h_bw):.0f} MB/s | {median(b_bw):.0f} MB/s | {bw_ratio:.3f} | >= 0.90 |')
    print(f'\n{args.rounds} alternating rounds')
    if args.keep:
        print(f'runs kept in {runs}')
    else:
        shutil.rmtree(runs)


if __name__ == '__main__':
    main()
