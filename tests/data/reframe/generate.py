#!/usr/bin/env python3
"""Regenerate tests/data/reframe/<version>/: run reports and perflogs written by
real ReFrame releases, each installed from PyPI into a throwaway virtualenv.

    python3 tests/data/reframe/generate.py [--versions 4.0.5,4.10.4] [--venvs DIR]

Per release, three sessions of checks/foreign.py with the local scheduler
(``--repeat 6 --max-retries 1``; each release's default perflog):

- ``baseline``: references from a calibration run on this machine;
- ``same``: the same again, a pair with no change;
- ``slow``: ``-S slowdown=4``, a known slowdown that ReFrame itself fails
  against its references;

and ``project``: one of hpcval's own checks (checks/matmul.py: GEMM by numpy and TensorFlow,
one repeat) with config/local.py, in the releases that can load it (4.x; the
manifest says why not).  ReFrame 3.12 is the last 3.x: its headerless perflog.  Releases with results storage (4.7+) keep
their sessions in ``results.db`` beside the reports.  Nothing is edited
after ReFrame wrote it; ``MANIFEST.json`` says what ran, where and when.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
VERSIONS = ['3.12.0', '4.0.5', '4.3.4', '4.6.4', '4.7.4', '4.8.4', '4.9.3', '4.10.4']
REPEAT = 6
SLOWDOWN = 4
STORAGE_FROM = (4, 7)           # RFM_ENABLE_RESULTS_STORAGE appeared in 4.7
PROJECT_CHECK = 'checks/matmul.py'
PROJECT_SELECT = ['-n', 'MatmulBench']


def vtuple(v):
    return tuple(int(x) for x in v.split('.')[:2])


def venv(version, root):
    '''A virtualenv holding just reframe-hpc==version (reused when present).'''
    d = Path(root) / version
    py = d / 'bin' / 'python'
    if not (d / 'bin' / 'reframe').exists():
        subprocess.run([sys.executable, '-m', 'venv', '--clear', str(d)], check=True)
        subprocess.run([str(py), '-m', 'pip', 'install', '-q', f'reframe-hpc=={version}'], check=True)
    return d


def calibrate(tmp):
    '''Median Triad of five runs of the kernel (double, as the check runs it), in MB/s: the
    reference the sessions use.'''
    exe = Path(tmp) / 'stream_like'
    subprocess.run(['gcc', '-O2', '-o', str(exe), str(HERE / 'checks' / 'src' / 'stream_like.c')], check=True)
    values = []
    for _ in range(5):
        out = subprocess.run([str(exe), str(1 << 23), '1'], check=True, capture_output=True, text=True).stdout
        values.append(float(next(line.split()[1] for line in out.splitlines() if line.startswith('Triad:'))))
    return round(statistics.median(values), 1)


def session(env_dir, out, config, checks, extra, storage):
    '''One ReFrame session writing out/report.json and out/perflogs/.'''
    out.mkdir(parents=True)
    prefix = Path(tempfile.mkdtemp(prefix='rfm-fixture-'))
    env = {k: v for k, v in os.environ.items() if not k.startswith('RFM_')}
    env.update(PATH=f"{env_dir / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}", HPCVAL_RUN_DIR=str(out))
    if storage:
        env.update(RFM_ENABLE_RESULTS_STORAGE='1', RFM_SQLITE_DB_FILE=str(out.parent / 'results.db'))
    cmd = [str(env_dir / 'bin' / 'reframe'), '-C', str(config), '--prefix', str(prefix),
           '--perflogdir', str(out / 'perflogs'), '--report-file', str(out / 'report.json')]
    for c in checks:
        cmd += ['-c', str(c)]
    cmd += extra + ['-r']
    t = time.time()
    # (ReFrame 4.7 writes no report for a session without test cases)
    proc = subprocess.run(cmd, env=env, cwd=prefix, capture_output=True, text=True)
    (out / 'reframe.out').write_text(proc.stdout[-20000:])
    shutil.rmtree(prefix, ignore_errors=True)
    skipped = [line.split(': ', 1)[-1] for line in proc.stdout.splitlines() if 'skipping test file' in line]
    if skipped and 'Ran 0/0 test case' in proc.stdout:
        # the checks use what this release lacks: say what, keep no empty session
        shutil.rmtree(out)
        return {'command': cmd[1:], 'not_loaded': skipped[0]}
    if not (out / 'report.json').exists():
        sys.exit(f'{out}: ReFrame wrote no report (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
    return {'command': cmd[1:], 'exit': proc.returncode, 'seconds': round(time.time() - t, 1)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--versions', default=','.join(VERSIONS))
    ap.add_argument('--venvs', default=os.path.join(tempfile.gettempdir(), 'hpcval-reframe-venvs'))
    ap.add_argument('--out', default=str(HERE))
    ap.add_argument('--python', default=str(REPO / '.venv' / 'bin' / 'python'),
                    help="python with numpy for the project's check")
    args = ap.parse_args(argv)
    out_root = Path(args.out)
    with tempfile.TemporaryDirectory() as tmp:
        triad = calibrate(tmp)
    foreign = [HERE / 'checks' / 'foreign.py']
    common = ['--repeat', str(REPEAT), '--max-retries', '1', '-S', f'triad_ref={triad}']
    for version in args.versions.split(','):
        env_dir = venv(version, args.venvs)
        target = out_root / version
        if target.exists():
            shutil.rmtree(target)
        storage = vtuple(version) >= STORAGE_FROM
        manifest = {'reframe': version, 'python': platform.python_version(), 'machine': platform.node(),
                    'processor': platform.processor() or platform.machine(),
                    'date': time.strftime('%Y-%m-%dT%H:%M:%S%z'), 'triad_ref_MBps': triad, 'sessions': {}}
        config = HERE / 'checks' / 'config.py'
        for name, extra in (('baseline', []), ('same', []), ('slow', ['-S', f'slowdown={SLOWDOWN}'])):
            manifest['sessions'][name] = session(env_dir, target / name, config, foreign, common + extra, storage)
            print(f'{version} {name}: {manifest["sessions"][name]}', flush=True)
        if vtuple(version) < (4, 0):
            (target / 'MANIFEST.json').write_text(json.dumps(manifest, indent=2) + '\n')
            continue
        project = ['--max-retries', '0', '-S', f'python={args.python}', '-S', 'sizes=256',
                   '-S', 'reps=2'] + PROJECT_SELECT
        ran = manifest['sessions']['project'] = session(
            env_dir, target / 'project', REPO / 'config' / 'local.py', [REPO / PROJECT_CHECK], project, storage)
        print(f'{version} project: {ran}', flush=True)
        (target / 'MANIFEST.json').write_text(json.dumps(manifest, indent=2) + '\n')


if __name__ == '__main__':
    main()
