#!/usr/bin/env python3
"""`hpcval history add` and `hpcval history show` on 1 000 sessions (target: show <= 10 s).

Synthetic ReFrame run reports (benchmarks/synth_reports.py): one session per
report, 16 test cases a session (4 node counts x 4 repeats), 10 performance
variables a case (``time`` and ``rate_0..8``), 3 % noise.  From session
``--shift-at`` on, the 8-node cases run 20 % slower and the sessions carry the
tag ``os_patch=2026-02`` instead of ``2026-01`` (as ``--session-extras`` would
put it).  Both commands run as a user calls them; wall times are medians of
``--repeat`` runs (add: each into a fresh store), and the report is checked
for the planted change point.

    .venv/bin/python benchmarks/history_scale.py [--sessions 1000] [--repeat 3]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.synth_reports import generate  # noqa: E402

NODE_COUNTS = (1, 2, 4, 8)
TAG, BEFORE, AFTER = 'os_patch', '2026-01', '2026-02'


def make_history(outdir, sessions=1000, shift_at=None, factor=1.2, shift_nodes=(8,), repeats=4,
                 extra_pvars=9, cov=0.03, seed=0, node_counts=NODE_COUNTS):
    '''``sessions`` run reports under outdir/session-NNN/, time-ordered; return their paths.

    From session index ``shift_at`` on, cases with num_nodes in ``shift_nodes``
    take ``factor`` times as long (their rates divided by it), and every
    session is tagged os_patch=2026-01 before, 2026-02 from there.
    '''
    per = repeats * len(node_counts)
    paths = generate(outdir, node_counts=node_counts, runs=sessions * repeats, cases_per_report=per,
                     extra_pvars=extra_pvars, cov=cov, seed=seed)
    for i, path in enumerate(paths):
        rep = json.loads(path.read_text())
        shifted = shift_at is not None and i >= shift_at
        rep['session_info'][TAG] = AFTER if shifted else BEFORE
        rep['session_info']['hpcval_git'] = f'{0xabc000 + (i + 37) // 100:x}'   # a new commit now and then
        if shifted:
            for tc in rep['runs'][0]['testcases']:
                if tc['num_nodes'] in shift_nodes and tc['perfvalues']:
                    for key, entry in tc['perfvalues'].items():
                        entry[0] = entry[0] * factor if key.endswith(':time') else entry[0] / factor
        path.write_text(json.dumps(rep))
    return paths


def timed(cmd, env):
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f'{" ".join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}')
    return wall, proc.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--sessions', type=int, default=1000)
    ap.add_argument('--shift-at', type=int, help='first shifted session (default: 70 %% of the way)')
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--keep', help='keep the data, store and report in this folder')
    a = ap.parse_args()
    shift_at = a.shift_at if a.shift_at is not None else int(a.sessions * 0.7)
    tmp = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix='hpcval-history-'))
    tmp.mkdir(parents=True, exist_ok=True)
    hpcval = [sys.executable, '-m', 'hpcval']
    env = dict(os.environ)
    env.pop('HPCVAL_HISTORY', None)
    try:
        t0 = time.perf_counter()
        paths = make_history(tmp / 'runs', sessions=a.sessions, shift_at=shift_at)
        gen = time.perf_counter() - t0
        planted = json.loads(paths[shift_at].read_text())['session_info']['uuid']
        os.sync()
        print(f'{len(paths)} sessions ({16 * len(paths)} cases, {160 * len(paths)} values) generated in {gen:.1f} s; '
              f'shift +20 % on 8-node cases from session {shift_at} ({planted})', flush=True)
        adds, shows = [], []
        store = tmp / 'history.sqlite'
        for k in range(a.repeat):
            if store.exists():
                store.unlink()
            wall, out = timed(hpcval + ['history', 'add', str(tmp / 'runs'), '--store', str(store)], env)
            adds.append(wall)
            print(f'add  #{k + 1}: {wall:.2f} s  {out.strip().splitlines()[-1]}', flush=True)
        wall, out = timed(hpcval + ['history', 'add', str(tmp / 'runs'), '--store', str(store)], env)
        print(f're-add (all present): {wall:.2f} s  {out.strip().splitlines()[-1]}', flush=True)
        for k in range(a.repeat):
            wall, out = timed(hpcval + ['history', 'show', '--store', str(store), '-o', str(tmp / 'report')], env)
            shows.append(wall)
            print(f'show #{k + 1}: {wall:.2f} s  {out.strip().splitlines()[-1]}', flush=True)
        print(out)
        import pandas as pd
        cps = pd.read_csv(tmp / 'report' / 'tables' / 'change_points.csv')
        hit = cps[cps['session_uuid'] == planted]
        wrong = cps[cps['session_uuid'] != planted]
        figures = len(list((tmp / 'report' / 'figures').glob('*.png')))
        print(f'change points: {len(cps)} ({len(hit)} at the planted session, {len(wrong)} elsewhere); '
              f'{figures} figures; store {store.stat().st_size / 1e6:.1f} MB')
        print()
        print('| sessions | values | history add | history show | target (show) |')
        print('|---:|---:|---:|---:|---:|')
        print(f'| {a.sessions:,} | {160 * a.sessions:,} | {statistics.median(adds):.1f} s '
              f'({min(adds):.1f}-{max(adds):.1f}) | {statistics.median(shows):.1f} s '
              f'({min(shows):.1f}-{max(shows):.1f}) | <= 10 s |')
        print(f'\nreproduce: .venv/bin/python benchmarks/history_scale.py --sessions {a.sessions} '
              f'--repeat {a.repeat}')
        ok = statistics.median(shows) <= 10.0 and len(hit) == 40 and wrong.empty
        return 0 if ok else 1
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
