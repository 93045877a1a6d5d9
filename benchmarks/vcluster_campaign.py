#!/usr/bin/env python3
"""The virtual cluster's figures: eth vs hsn, inter- vs intra-node, and what a
3-node campaign spends outside the jobs.

1. `hpcval run mpi_microbench --system vcluster --nodes 1,2 --repeat 3`,
   latency and bw over both fabrics: medians of bw at 4 MiB between two
   nodes (hsn / eth, target >= 3) and of 8 B latency on one node and between
   two.
2. A 3-node campaign of the microbenchmarks in every variant: runtime bare /
   Charliecloud x MPI host / bundled x fabric tcp / hsn x 1-3 nodes x
   latency, bw, allreduce, 3 repeats.  Its wall time against the sum of the
   jobs' own run times (``job_seconds``, timed inside each job script): the
   rest is harness, ReFrame and Slurm overhead.

Needs root, `hpcval cluster up` (done here if the cluster is down; taken down
again only if this script brought it up) and `hpcval image build openmpi`.

    .venv/bin/python benchmarks/vcluster_campaign.py [--repeat 3]
"""
import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _common import ROOT, VENV_BIN, cases, hpcval_run, perf


def cluster(*args):
    return subprocess.run([str(VENV_BIN / 'hpcval'), 'cluster', *args], cwd=ROOT, capture_output=True,
                          text=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--skip-campaign', action='store_true', help='only the fabric figures')
    args = ap.parse_args()
    started_here = cluster('status').returncode != 0
    if started_here and cluster('up', '--nodes', '3').returncode != 0:
        raise SystemExit('hpcval cluster up failed')
    runs = Path(tempfile.mkdtemp(prefix='hpcval-vcluster-'))
    try:
        rundir = hpcval_run(['mpi_microbench', '--system', 'vcluster', '--nodes', '1,2', '--name', 'fabrics',
                             '--repeat', str(args.repeat), '-S', 'MpiMicrobench.num_iters_large=5',
                             '-S', 'MpiMicrobench.num_warmup_large=1', '-S', 'MpiMicrobench.tasks_per_node=1',
                             '--', '-P', 'fabric=tcp,hsn', '-n', r'%benchmark=(latency|bw)\b'], runs)
        _, tcs = cases(rundir)
        med = {}
        for tc in tcs:
            if tc.get('benchmark') in ('latency', 'bw') and tc['result'] == 'pass':
                key = (tc['benchmark'], tc['fabric'], tc['num_nodes'])
                p = perf(tc)
                med.setdefault(key, []).append(p['latency_8B'] if tc['benchmark'] == 'latency' else p['bw_4MiB'])
        med = {k: statistics.median(v) for k, v in med.items()}
        print(f'\n{args.repeat} repeats, medians\n')
        print('| figure | tcp (eth0, shaped) | hsn (hsn0) | ratio hsn/eth |\n|---|---:|---:|---:|')
        bw_e, bw_h = med[('bw', 'tcp', 2)], med[('bw', 'hsn', 2)]
        print(f'| bw 4 MiB, 2 nodes (MB/s) | {bw_e:.0f} | {bw_h:.0f} | {bw_h / bw_e:.1f} |')
        for n, label in ((1, 'latency 8 B, 1 node (us)'), (2, 'latency 8 B, 2 nodes (us)')):
            e, h = med[('latency', 'tcp', n)], med[('latency', 'hsn', n)]
            print(f'| {label} | {e:.2f} | {h:.2f} | {h / e:.2f} |')
        if args.skip_campaign:
            return
        t0 = time.monotonic()
        rundir = hpcval_run(['mpi_microbench', '--system', 'vcluster', '--nodes', '1,2,3', '--name', 'campaign',
                             '--repeat', str(args.repeat), '-S', 'MpiMicrobench.max_message_size=65536',
                             '-S', 'MpiMicrobench.num_iters=500', '-S', 'MpiMicrobench.tasks_per_node=1',
                             '--', '-P', 'fabric=tcp,hsn', '-P', 'runtime=bare,charliecloud',
                             '-P', 'mpi=host,bundled', '-n', r'%benchmark=(latency|bw|allreduce)\b'], runs)
        wall = time.monotonic() - t0
        _, tcs = cases(rundir)
        mine = [tc for tc in tcs if tc['name'].startswith('MpiMicrobench')]
        ran = [tc for tc in mine if tc['result'] in ('pass', 'fail')]
        job = sum(float(tc.get('job_seconds') or 0) for tc in ran)
        by = {}
        for tc in mine:
            by[tc['result']] = by.get(tc['result'], 0) + 1
        print(f'\n3-node campaign: {len(mine)} cases ({by}), wall {wall:.0f} s, jobs ran {job:.0f} s, '
              f'harness + ReFrame + Slurm {wall - job:.0f} s = {100 * (wall - job) / wall:.0f} % of the wall time, '
              f'{(wall - job) / max(1, len(ran)):.1f} s per case')
    finally:
        if started_here:
            cluster('down')


if __name__ == '__main__':
    main()
