"""Helpers shared by the benchmark scripts: run hpcval, read its run report."""
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def hpcval_run(args, runs, env=None, base_env=None):
    '''`hpcval run ARGS` with its runs under ``runs``; returns runs/<name>/latest.'''
    e = dict(os.environ if base_env is None else base_env, HPCVAL_RUNS=str(runs), **(env or {}))
    proc = subprocess.run([str(VENV_BIN / 'hpcval'), 'run', *args], cwd=ROOT, env=e,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f'hpcval run failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}')
    name = args[args.index('--name') + 1]
    return Path(runs) / name / 'latest'


def cases(rundir):
    rep = json.loads((Path(rundir) / 'report.json').read_text())
    return rep, [tc for run in rep['runs'] for tc in run['testcases']]


def perf(tc):
    return {k.split(':')[-1]: v[0] for k, v in tc['perfvalues'].items()}


def median(xs):
    return statistics.median(xs)


def without_openblas_overrides():
    '''The env with OPENBLAS_CORETYPE/L2_SIZE unset (they slow current numpy here).'''
    return {k: v for k, v in os.environ.items() if k not in ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE')}
