"""`hpcval run`: one ReFrame session, stored under runs/<campaign>/<timestamp>/.

Beside ReFrame's run report (report.json) every run keeps ReFrame's JUnit XML
(junit.xml) for CI, and a campaign's ``app:`` section as app.json (checks/app.py).
The session is tagged (ReFrame ``--session-extras``, in the run report's
``session_info``): hpcval_campaign (the run's label), hpcval_version,
hpcval_git, hpcval_campaign_def (the campaign file, with ``--campaign``), the
campaign's ``tags``, ``image_<name>`` (the first 12 hex digits of each image
digest the checks may use, when a container runtime is among the variants)
and the user's ``--tag KEY=VALUE``.

``--list`` (ReFrame ``-l``) works in a temporary folder and keeps nothing;
``--dry-run`` (ReFrame ``--dry-run``) keeps its job scripts in
runs/<label>/<timestamp>-dry-run/ (marked by a DRY-RUN file, with no run
report or perflog: what ReFrame records of a dry run are cases that "pass"
with no values) and leaves ``latest`` alone.
"""
import datetime as _dt
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from hpcval import __version__, campaign as campaigns, paths
from hpcval.errors import UsageError

RESERVED_EXTRAS = campaigns.RESERVED_EXTRAS
_TAG_KEY = re.compile(campaigns.TAG_KEY)
_TAG_VALUE = re.compile(campaigns.TAG_VALUE)


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


def check_tag(key, value, where='--tag'):
    '''A user's session extra that ReFrame can carry unchanged, or UsageError.'''
    if not _TAG_KEY.match(key):
        raise UsageError(f'{where} {key}={value}: the name must be a letter or _ followed by '
                         f'letters, digits or _')
    if not _TAG_VALUE.match(value):
        raise UsageError(f'{where} {key}={value}: the value may not contain "," or "=" '
                         f'(ReFrame splits session extras on them)')
    if campaigns.reserved_tag(key):
        raise UsageError(f"{where} {key}={value}: the name '{key}' is reserved "
                         f"(ReFrame's session_info keys and hpcval_*)")


def parse_tag(text):
    '''``KEY=VALUE`` of ``--tag``, checked: (KEY, VALUE), or UsageError.'''
    key, sep, value = text.partition('=')
    if not sep:
        raise UsageError(f'--tag {text}: expected NAME=VALUE (e.g. os_patch=2024-06)')
    check_tag(key, value)
    return key, value


def _param_specs(reframe_args):
    '''The ``[TEST.]NAME=VALUES`` texts of the ``-P`` options among reframe's.'''
    args = [str(a) for a in reframe_args]
    for i, arg in enumerate(args):
        if arg in ('-P', '--parameterize') and i + 1 < len(args):
            yield args[i + 1]
        elif arg.startswith('--parameterize='):
            yield arg.split('=', 1)[1]
        elif arg.startswith('-P') and len(arg) > 2:
            yield arg[2:]


_RUNTIME_SPEC = re.compile(r'^(?:[\w.]+\.)?runtime=(.*)$')


def uses_containers(checks, params=None, reframe_args=()):
    '''Whether a run may start a container: a ``runtime`` parameter with a
    value other than ``bare`` (campaign ``params``, or ``-P`` among the
    reframe options), or a check that always runs in one (container_env, host_tools).'''
    if 'container_env' in checks or 'host_tools' in checks:
        return True
    values = []
    for key, vals in (params or {}).items():
        if str(key).split('.')[-1] == 'runtime':
            values += [str(v) for v in (vals if isinstance(vals, list) else [vals])]
    for spec in _param_specs(reframe_args):
        m = _RUNTIME_SPEC.match(spec)
        if m:
            values += m.group(1).split(',')
    return any(v.strip() not in ('', 'bare') for v in values)


_IMAGE_OF_CHECK = re.compile(
    r"""^\s*container_image\s*=\s*(?:variable\([^)]*?value=)?['"]([\w.-]+)['"]""", re.M)


def images_of(checks, app=None):
    '''The image names the checks run in (their ``container_image``; the ``app:`` section's image).'''
    names = {app['image'].split(':')[0]} if app and app.get('image', 'bare') != 'bare' else set()
    for c in checks:
        try:
            names.update(_IMAGE_OF_CHECK.findall((paths.CHECKS / f'{c}.py').read_text()))
        except OSError:
            pass
    return sorted(names)


def image_tags(checks, folder=None, app=None):
    '''``image_<name>``: the first 12 hex digits of the digest of each image
    the checks use, as `hpcval image build` recorded it in the image folder's
    index.json (containers.store): the directory format's digest
    (the format config/local.py and config/vcluster.py run), else the first
    format recorded.  Images not built are left out.'''
    from hpcval.containers import store
    index = store.recorded_images(folder)
    tags = {}
    for name in images_of(checks, app):
        formats = (index.get(name) or {}).get('formats') or {}
        entry = formats.get('dir') or next(iter(formats.values()), None) or {}
        digest = str(entry.get('digest') or '').split(':', 1)[-1][:12]
        key = 'image_' + re.sub(r'\W', '_', name)
        if digest and _TAG_VALUE.match(digest):
            tags[key] = digest
    return tags


def workload_checks():
    '''Every check that runs across node counts (it takes NodeCountMixin):
    what a run with no check named covers.'''
    texts = {c: (paths.CHECKS / f'{c}.py').read_text() for c in paths.known_checks()}
    return [c for c, text in texts.items() if 'NodeCountMixin' in text and not _NOT_SWEPT.search(text)]


#: a check module that a run naming no check leaves out (checks/app.py needs a campaign's app:)
_NOT_SWEPT = re.compile(r'^WHOLE_SYSTEM_SWEEP\s*=\s*False\b', re.M)
#: names the JSON of a campaign's app: section for checks/app.py (its SPEC_ENV)
APP_ENV = 'HPCVAL_APP'


def app_env(folder, app):
    '''{APP_ENV: FOLDER/app.json}, the ``app:`` section written there; {} without one.'''
    if not app:
        return {}
    path = Path(folder) / 'app.json'
    path.write_text(json.dumps(app, indent=1, sort_keys=True) + '\n')
    return {APP_ENV: str(path)}


def partition_extras(system):
    """The ``extras`` of each of a system's partitions, from its config
    module (run in this process; the environment it sets is put back)."""
    import runpy
    saved = dict(os.environ)
    scratch = tempfile.mkdtemp(prefix='hpcval-config-')
    try:
        # the config makes its log folder at load time: not runs/adhoc in the current directory
        os.environ['HPCVAL_RUN_DIR'] = scratch
        conf = runpy.run_path(str(paths.CONFIGS / f'{system}.py'))['site_configuration']
    finally:
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(scratch, ignore_errors=True)
    return [part.get('extras') or {} for sysconf in conf.get('systems', [])
            if sysconf.get('name') == system for part in sysconf.get('partitions', [])]


def system_sweep(system):
    '''The parameters a system's partitions declare as the run's sweep
    (``extras['sweep']``: parameter -> values, e.g. fabric: [tcp, hsn]),
    merged over partitions in order of first appearance.'''
    sweep = {}
    for extras in partition_extras(system):
        for param, values in (extras.get('sweep') or {}).items():
            merged = sweep.setdefault(str(param), [])
            merged += [str(v) for v in values if str(v) not in merged]
    return sweep


def system_nodes(system):
    '''1 .. the largest ``max_nodes`` a partition declares (1 when none does).'''
    return list(range(1, 1 + max([int(e.get('max_nodes', 1)) for e in partition_extras(system)] or [1])))


def site_policy_options(system, reframe_args=()):
    """``--exec-policy POLICY`` when a partition of the system declares one
    (``extras['exec_policy']``) and the user gave none.  A site whose nodes
    share CPUs with the host that runs ReFrame (the virtual cluster, a
    workstation) asks for ``serial``: under the default async policy ReFrame
    sets up, compiles and checks other cases on the host while a job runs,
    and a benchmark measures that work too."""
    if any(str(a).startswith('--exec-policy') for a in reframe_args):
        return []
    policies = {str(e['exec_policy']) for e in partition_extras(system) if e.get('exec_policy')}
    if not policies:
        return []
    if len(policies) > 1:
        raise UsageError(f"config/{system}.py: partitions ask for different exec_policy values "
                         f"({', '.join(sorted(policies))}); ReFrame runs one policy per session")
    policy = policies.pop()
    if policy not in ('async', 'serial'):
        raise UsageError(f"config/{system}.py: exec_policy {policy!r}: ReFrame knows 'async' and 'serial'")
    return ['--exec-policy', policy]


def parameterized(reframe_args):
    '''The parameter names (without a TEST. prefix) that ``-P`` options set.'''
    return {spec.split('=', 1)[0].split('.')[-1] for spec in _param_specs(reframe_args) if '=' in spec}


def sweep_options(sweep, reframe_args=()):
    '''``-P name=v1,v2`` for each swept parameter the user did not set.'''
    given = parameterized(reframe_args)
    opts = []
    for name, values in sweep.items():
        if name not in given and values:
            opts += ['-P', f'{name}={",".join(values)}']
    return opts


def whole_system(system, reframe_args=()):
    '''What a run naming only ``--system`` covers: (checks, reframe options),
    every workload check with the system's sweep put before the user's own
    options (which win: a swept parameter the user set is left alone).'''
    validate_system(system)
    return workload_checks(), sweep_options(system_sweep(system), reframe_args) + list(reframe_args)


def validate(checks, system):
    if not checks:
        raise UsageError('no check given (name checks, use --campaign, or give --system alone '
                         'for every workload over its sweep)')
    known = paths.known_checks()
    for c in checks:
        if c not in known:
            raise UsageError(f"unknown check '{c}' (known: {', '.join(known)})")
    validate_system(system)


def validate_system(system):
    systems = paths.known_systems()
    if system not in systems:
        raise UsageError(f"unknown system '{system}' (known: {', '.join(systems)})")


def check_label(label, where='run label'):
    '''A label that names one folder right under runs/, or UsageError.'''
    if not label or label in ('.', '..') or '/' in label or '\0' in label:
        raise UsageError(f'{where} {label!r}: a run label names one folder under runs/ '
                         f'(not empty, "." or "..", no "/")')


#: ReFrame's action options (4.10: one per session, required); hpcval run gives -r
_LISTING = ('-l', '--list', '-L', '--list-detailed')
_ACTIONS = _LISTING + ('--dry-run', '--list-tags', '--describe', '--ci-generate', '--show-config',
                       '--detect-host-topology', '--list-stored-sessions', '--list-stored-testcases',
                       '--describe-stored-sessions', '--describe-stored-testcases',
                       '--delete-stored-sessions', '--performance-compare', '-V', '--version')


def _action_of(arg):
    for opt in _ACTIONS:
        if arg == opt or (opt.startswith('--') and arg.startswith(opt + '=')) \
                or (opt in ('-l', '-L') and arg in (opt + 'C', opt + 'T')):
            return opt
    return None


def check_reframe_options(reframe_args):
    '''UsageError for a ReFrame action option among reframe's: it clashes with -r.'''
    for arg in map(str, reframe_args):
        opt = _action_of(arg)
        if opt in _LISTING:
            raise UsageError(f'reframe option {arg}: clashes with the -r hpcval run gives ReFrame; '
                             f'list the cases with `hpcval run ... --list` (no run folder is made)')
        if opt == '--dry-run':
            raise UsageError(f'reframe option {arg}: clashes with the -r hpcval run gives ReFrame; '
                             f'use `hpcval run ... --dry-run` (job scripts only, nothing run)')
        if opt:
            raise UsageError(f'reframe option {arg}: clashes with the -r hpcval run gives ReFrame '
                             f'(one action per session); run reframe itself for it')


def new_run_dir(campaign, root=None, suffix=''):
    base = Path(root or paths.RUNS) / campaign
    for up in [base, *base.parents]:
        if up.exists():
            if not up.is_dir():
                raise UsageError(f'{up}: refused as run folder: exists and is not a folder')
            break
    latest = base / 'latest'
    if latest.exists() and not latest.is_symlink():
        raise UsageError(f'{latest}: refused: hpcval points it at the newest run, but it is not a symbolic link')
    stamp = _dt.datetime.now().strftime('%Y%m%dT%H%M%S')
    rundir, i = base / f'{stamp}{suffix}', 1
    while rundir.exists():
        rundir, i = base / f'{stamp}-{i}{suffix}', i + 1
    rundir.mkdir(parents=True)
    return rundir


def session_extras(label, tags=None):
    '''The ``--session-extras`` value: hpcval's own keys, then ``tags``.'''
    extras = {'hpcval_campaign': label, 'hpcval_version': __version__,
              'hpcval_git': _git_commit() or 'unknown'}
    extras.update(tags or {})
    for key, value in extras.items():
        if not (_TAG_KEY.match(str(key)) and _TAG_VALUE.match(str(value))):
            raise UsageError(f'session extra {key}={value}: ReFrame cannot carry it '
                             f'(a name, then a value without "," or "=")')
    return ','.join(f'{k}={v}' for k, v in extras.items())


#: what ``action`` asks of ReFrame
ACTIONS = {'run': '-r', 'list': '-l', 'dry-run': '--dry-run'}


def reframe_command(checks, system, rundir, campaign, nodes=(1,), repeat=1, setvars=None,
                    extra=(), tags=None, action='run', scratch=None):
    '''The reframe command line of a run: ``campaign`` is the run's label
    (runs/<label>/), ``tags`` more session extras (KEY -> VALUE).  ``action``:
    run, list or dry-run (no JUnit XML); ``scratch`` the folder for the report,
    perflogs and output not kept (default: ``rundir``).'''
    scratch = Path(scratch or rundir)
    cmd = [_reframe_bin(), '-C', str(paths.CONFIGS / f'{system}.py'), '--system', system]
    for c in checks:
        cmd += ['-c', str(paths.CHECKS / f'{c}.py')]
    cmd += [ACTIONS[action], '--nocolor', '--report-file', str(scratch / 'report.json')]
    if action == 'run':
        cmd += ['--report-junit', str(rundir / 'junit.xml')]
    cmd += ['--perflogdir', str(scratch / 'perflogs'),
            '-o', str(scratch / 'output'), '-s', str(rundir / 'stage'),
            '--session-extras', session_extras(campaign, tags)]
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


#: how long ReFrame may take to cancel its jobs and write its report after a signal
STOP_GRACE_S = 120


def run_reframe(cmd, env):
    '''ReFrame in the foreground.  When hpcval is stopped (SIGTERM, or Ctrl-C), ReFrame is
    stopped the way it handles itself: SIGTERM, on which it cancels its jobs and exits;
    killed only if it has not gone within STOP_GRACE_S.  (subprocess.run would SIGKILL it
    at once and leave its scheduler jobs running.)'''
    child = subprocess.Popen(cmd, cwd=paths.ROOT, env=env)
    try:
        child.wait()
    except KeyboardInterrupt:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise
    return subprocess.CompletedProcess(cmd, child.returncode)


def _list_cases(checks, system, campaign, nodes, repeat, setvars, extra, tags, app=None):
    '''ReFrame ``-l`` in a temporary folder (the site config writes its log there): 0, or 2.'''
    scratch = Path(tempfile.mkdtemp(prefix='hpcval-list-'))
    try:
        cmd = reframe_command(checks, system, scratch, campaign, nodes, repeat, setvars, extra, tags,
                              action='list')
        proc = run_reframe(cmd, dict(os.environ, HPCVAL_RUN_DIR=str(scratch), **app_env(scratch, app)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if proc.returncode != 0:
        print(f'hpcval run: error: ReFrame could not list the cases (exit {proc.returncode})', file=sys.stderr)
        return 2
    return 0


DRY_RUN_NOTE = ('ReFrame --dry-run: job scripts under stage/, nothing was run.  No run report or perflog\n'
                'is kept (ReFrame records the cases as passed, with no values).\n')


def _dry_run(rundir, cmd, env, scratch):
    '''A dry run's exit code: 0, 1 (a case failed its setup) or 2 (no case / ReFrame failed).'''
    proc = run_reframe(cmd, env)
    if not (scratch / 'report.json').exists():
        why = ('no test case was selected' if proc.returncode == 0
               else f'ReFrame failed before making any job script (exit {proc.returncode})')
        print(f'hpcval run: error: {why}; dry run in {rundir}', file=sys.stderr)
        return 2
    scripts = len(list((rundir / 'stage').rglob('rfm_job.sh')))
    print(f'hpcval run: dry run: {scripts} job script(s) under {rundir / "stage"}; nothing was run')
    return 0 if proc.returncode == 0 else 1


def execute(checks, system, campaign, nodes=(1,), repeat=1, setvars=None, extra=(),
            runs_root=None, tags=None, faults=(), action='run', app=None):
    '''Run ReFrame; returns (exit code for hpcval, run directory).

    ``faults``: cluster.faults.Fault objects injected into the virtual
    cluster while ReFrame runs (logged to faults.log in the run directory).
    ``action``: 'list' (ReFrame -l; no run directory: None) or 'dry-run'
    (a run directory <timestamp>-dry-run with the job scripts).  ``app``: a campaign's
    ``app:`` section (plan.Plan.app), written to app.json for checks/app.py.'''
    validate(checks, system)
    if 'app' in checks and not app:
        raise UsageError("the app check runs the application of a campaign's app: section "
                         '(hpcval run --campaign NAME or FILE.yaml)')
    check_label(campaign)
    check_reframe_options(extra)
    if faults and system != 'vcluster':
        raise UsageError(f'faults are injected into the virtual cluster only (--system vcluster), not {system!r}')
    session_extras(campaign, tags)        # a label ReFrame cannot carry fails before any folder is made
    extra = site_policy_options(system, extra) + list(extra)
    if action == 'list':
        return _list_cases(checks, system, campaign, nodes, repeat, setvars, extra, tags, app), None
    if action == 'dry-run':
        rundir = new_run_dir(campaign, runs_root, suffix='-dry-run')
        (rundir / 'DRY-RUN').write_text(DRY_RUN_NOTE)
        scratch = Path(tempfile.mkdtemp(prefix='hpcval-dry-run-'))
        try:
            cmd = reframe_command(checks, system, rundir, campaign, nodes, repeat, setvars, extra, tags,
                                  action='dry-run', scratch=scratch)
            (rundir / 'command.txt').write_text(shlex.join(cmd) + '\n')
            print(f'hpcval run: {campaign} (dry run) -> {rundir}', flush=True)
            env = dict(os.environ, HPCVAL_RUN_DIR=str(scratch), **app_env(rundir, app))
            return _dry_run(rundir, cmd, env, scratch), rundir
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    rundir = new_run_dir(campaign, runs_root)
    cmd = reframe_command(checks, system, rundir, campaign, nodes, repeat, setvars, extra, tags)
    # quoted as a shell would need it: the line can be pasted back (-n 'A|B')
    (rundir / 'command.txt').write_text(shlex.join(cmd) + '\n')
    env = dict(os.environ, HPCVAL_RUN_DIR=str(rundir), **app_env(rundir, app))
    print(f'hpcval run: {campaign} -> {rundir}', flush=True)
    injector = None
    if faults:
        from hpcval.cluster.faults import Injector
        injector = Injector(list(faults), rundir / 'faults.log')
        injector.log('faults: ' + ' '.join(f.describe() for f in faults))
        injector.start()
    try:
        proc = run_reframe(cmd, env)
    finally:
        if injector:
            injector.stop()       # a stopped slurmd is continued whatever happened
            print(f'hpcval run: {len(injector.actions) - 1} fault action(s) in {rundir / "faults.log"}')
    report = rundir / 'report.json'
    if not report.exists():
        why = ('no test case was selected' if proc.returncode == 0
               else f'ReFrame failed before running anything (exit {proc.returncode})')
        print(f'hpcval run: error: {why}; no run report in {rundir}', file=sys.stderr)
        return 2, rundir
    _point_latest(rundir)
    print(f'hpcval run: run report {report}')
    if (rundir / 'junit.xml').exists():
        print(f'hpcval run: JUnit XML {rundir / "junit.xml"}')
    return (0 if proc.returncode == 0 else 1), rundir
