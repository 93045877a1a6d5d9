"""`hpcval run`: one ReFrame session, stored under runs/<campaign>/<timestamp>/."""
import datetime as _dt
import os
import subprocess
import sys
from pathlib import Path

from hpcval import __version__, paths
from hpcval.errors import UsageError


def _reframe_bin():
    # the reframe next to this interpreter: the project's .venv
    candidate = Path(sys.executable).with_name('reframe')
    return str(candidate) if candidate.exists() else 'reframe'


def _git_commit():
    try:
        out = subprocess.run(['git', '-C', str(paths.ROOT), 'rev-parse', '--short', 'HEAD'],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else ''
    except (OSError, subprocess.SubprocessError):
        return ''


def validate(checks, system):
    if not checks:
        raise UsageError('no check given (name checks or use --campaign)')
    known = paths.known_checks()
    for c in checks:
        if c not in known:
            raise UsageError(f"unknown check '{c}' (known: {', '.join(known)})")
    systems = paths.known_systems()
    if system not in systems:
        raise UsageError(f"unknown system '{system}' (known: {', '.join(systems)})")


def new_run_dir(campaign, root=None):
    base = Path(root or paths.RUNS) / campaign
    stamp = _dt.datetime.now().strftime('%Y%m%dT%H%M%S')
    rundir, i = base / stamp, 1
    while rundir.exists():
        rundir, i = base / f'{stamp}-{i}', i + 1
    rundir.mkdir(parents=True)
    return rundir


def reframe_command(checks, system, rundir, campaign, nodes=(1,), repeat=1, setvars=None,
                    extra=()):
    cmd = [_reframe_bin(), '-C', str(paths.CONFIGS / f'{system}.py'), '--system', system]
    for c in checks:
        cmd += ['-c', str(paths.CHECKS / f'{c}.py')]
    cmd += ['-r', '--nocolor',
            '--report-file', str(rundir / 'report.json'),
            '--perflogdir', str(rundir / 'perflogs'),
            '-o', str(rundir / 'output'), '-s', str(rundir / 'stage'),
            '--session-extras',
            f'hpcval_campaign={campaign},hpcval_version={__version__},hpcval_git={_git_commit() or "unknown"}']
    if list(nodes) != [1]:
        cmd += ['-P', 'num_nodes=' + ','.join(str(int(n)) for n in nodes)]
    if repeat and int(repeat) > 1:
        cmd += ['--repeat', str(int(repeat))]
    for var, value in (setvars or {}).items():
        if isinstance(value, (list, tuple)):
            value = ','.join(str(v) for v in value)
        cmd += ['-S', f'{var}={value}']
    return cmd + list(extra)


def _point_latest(rundir):
    latest = rundir.parent / 'latest'
    tmp = rundir.parent / f'.latest.{os.getpid()}'
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(rundir.name)
    os.replace(tmp, latest)


def execute(checks, system, campaign, nodes=(1,), repeat=1, setvars=None, extra=(),
            runs_root=None):
    '''Run ReFrame; returns (exit code for hpcval, run directory).'''
    validate(checks, system)
    rundir = new_run_dir(campaign, runs_root)
    cmd = reframe_command(checks, system, rundir, campaign, nodes, repeat, setvars, extra)
    (rundir / 'command.txt').write_text(' '.join(cmd) + '\n')
    env = dict(os.environ, HPCVAL_RUN_DIR=str(rundir))
    print(f'hpcval run: {campaign} -> {rundir}', flush=True)
    proc = subprocess.run(cmd, cwd=paths.ROOT, env=env)
    report = rundir / 'report.json'
    if not report.exists():
        why = ('no test case was selected' if proc.returncode == 0
               else f'ReFrame failed before running anything (exit {proc.returncode})')
        print(f'hpcval run: error: {why}; no run report in {rundir}', file=sys.stderr)
        return 2, rundir
    _point_latest(rundir)
    print(f'hpcval run: run report {report}')
    return (0 if proc.returncode == 0 else 1), rundir
