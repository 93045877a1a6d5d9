#!/usr/bin/env python3
"""Small-file create rate on tmpfs: through hpcval/ReFrame vs a bare C loop outside it.

(a) bare: a tiny C program (no MPI), compiled here into a temporary folder,
    creates N files of B bytes (open O_CREAT|O_EXCL, write, close) in a new
    folder on /dev/shm and times that loop;
(b) harness: `hpcval run smallfile_io` on the ramdisk target with one rank
    and the same N and B (one iteration), its `file_creation` variable.

Rounds alternate (harness, then bare) so drift on this shared machine hits
both alike; the figure is the ratio of the medians (target: >= 0.8).

    .venv/bin/python benchmarks/smallfile_rate.py [--files 20000] [--bytes 4096] [--rounds 7]
"""
import argparse
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from _common import cases, hpcval_run, median, perf

BARE_C = r'''
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *dir = argv[1];
    long n = atol(argv[2]), b = atol(argv[3]);
    char *buf = malloc(b ? b : 1), path[4096];
    memset(buf, 'x', b ? b : 1);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long k = 0; k < n; k++) {
        snprintf(path, sizeof path, "%s/f.%ld", dir, k);
        int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (fd < 0 || write(fd, buf, b) != b || close(fd) != 0) { perror(path); return 1; }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    for (long k = 0; k < n; k++) { snprintf(path, sizeof path, "%s/f.%ld", dir, k); unlink(path); }
    printf("%.3f\n", n / s);
    return 0;
}
'''


def build_bare(folder):
    src = folder / 'create_loop.c'
    src.write_text(BARE_C)
    exe = folder / 'create_loop'
    subprocess.run(['cc', '-O2', '-o', str(exe), str(src)], check=True)
    return exe


def bare_rate(exe, files, nbytes):
    '''One bare run in a fresh folder on the tmpfs; the folder is removed after.'''
    work = Path('/dev/shm') / f'hpcval-smallfile-bare-{uuid.uuid4().hex[:12]}'
    work.mkdir()
    try:
        out = subprocess.run([str(exe), str(work), str(files), str(nbytes)], check=True,
                             capture_output=True, text=True)
        return float(out.stdout)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--files', type=int, default=20000)
    ap.add_argument('--bytes', type=int, default=4096)
    ap.add_argument('--rounds', type=int, default=7)
    ap.add_argument('--keep', action='store_true', help='keep the run directories')
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix='hpcval-bench-'))
    exe = build_bare(tmp)
    hargs = ['smallfile_io', '-S', 'SmallfileIO.tasks_per_node=1',
             '-S', f'SmallfileIO.files_per_rank={args.files}', '-S', f'SmallfileIO.file_bytes={args.bytes}',
             '-S', 'SmallfileIO.iterations=1', '--', '-n', '%target=ramdisk']
    harness, bare = [], []
    for r in range(args.rounds):
        rundir = hpcval_run(hargs[:1] + ['--name', f'h{r}'] + hargs[1:], tmp / 'runs')
        _, tcs = cases(rundir)
        tc = next(t for t in tcs if t.get('target') == 'ramdisk')
        harness.append(perf(tc)['file_creation'])
        bare.append(bare_rate(exe, args.files, args.bytes))
        print(f'round {r}: harness {harness[-1]:,.0f} creates/s | bare {bare[-1]:,.0f} creates/s', flush=True)
    ratio = median(harness) / median(bare)
    print()
    print('| metric | harness (median) | bare C loop (median) | ratio | target |')
    print('|---|---:|---:|---:|---|')
    print(f'| file creates/s on tmpfs, {args.files} x {args.bytes} B, 1 rank | {median(harness):,.0f} | '
          f'{median(bare):,.0f} | {ratio:.3f} | >= 0.80 |')
    print(f'\n{args.rounds} alternating rounds')
    print('harness command: .venv/bin/hpcval run ' + ' '.join(hargs))
    print(f'bare command:    {exe.name} /dev/shm/<new dir> {args.files} {args.bytes}  (C source in this script)')
    if args.keep:
        print(f'runs kept in {tmp}')
    else:
        shutil.rmtree(tmp)


if __name__ == '__main__':
    main()
