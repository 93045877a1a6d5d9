"""Read ReFrame run reports (data_version 3.x-4.2) into the tidy frame.

One row per test case x performance variable; a failed case without values
keeps one row with value NaN so that stability can count it.  Loggable
variables and parameters become columns; ``%name=value`` tokens of the
display name too, for foreign checks that log nothing.  Perflogs are read
when a path holds no run report (analysis.perflog).

Suspicious values are never dropped silently: a non-finite or non-positive
value of a passed case becomes NaN in ``value`` and a line in
``Dataset.warnings``; a pvar reported with two units is an error.
"""
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.units import better as better_of_unit
from analysis.units import message_size

REPORT_NAME = 'report.json'
SUPPORTED_MAJOR = ('3', '4')

CORE_COLUMNS = [
    'session_uuid', 'run_index', 'system', 'partition', 'environ', 'check',
    'display_name', 'workload', 'runtime', 'mpi', 'fabric', 'num_nodes',
    'num_tasks', 'result', 'fail_phase', 'fail_reason', 'job_nodelist',
    'completion_time', 'pvar', 'value', 'unit', 'ref', 'lower', 'upper',
    'better', 'mpi_library', 'transport', 'image', 'image_digest',
]

# Report fields that are bulky or internal: not columns of the frame
_SKIP = {
    'perfvalues', 'job_stdout', 'job_stderr', 'build_stdout', 'build_stderr',
    'dependencies_actual', 'dependencies_conceptual', 'fail_info',
    'variables', 'executable_opts', 'prerun_cmds', 'postrun_cmds',
    'prebuild_cmds', 'postbuild_cmds', 'keep_files', 'readonly_files',
    'maintainers', 'modules', 'extra_resources', 'valid_systems',
    'valid_prog_environs', 'tags', 'outputdir', 'stagedir', 'prefix',
}
_PARAM = r'%[.$]?(\w+)=(\S+)'
SECRET = re.compile(r'TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL', re.I)
REDACTED = '<redacted>'


@dataclass
class Dataset:
    frame: pd.DataFrame        # the tidy frame
    sessions: pd.DataFrame     # one row per run report: provenance of the session
    sources: list              # the files read
    warnings: list = field(default_factory=list)   # (file, case, message)


def find_reports(path):
    '''The run reports (or, failing those, perflogs) a path stands for.'''
    p = Path(path)
    if not p.exists():
        raise InputError(path, 'no such file or directory')
    if p.is_file():
        return [p]
    direct = p / REPORT_NAME
    if direct.is_file():
        return [direct]
    found, seen = [], set()
    for f in sorted(p.rglob(REPORT_NAME)):
        real = f.resolve()
        if real not in seen:            # 'latest' symlinks point at real runs
            seen.add(real)
            found.append(f)
    if not found:
        from analysis import perflog
        try:
            found = perflog.perflog_files(p)
        except InputError:
            found = []
    if not found:
        raise InputError(path, f'no {REPORT_NAME} or perflog found in this directory')
    return found


def is_perflog(path):
    name = Path(path).name
    return name.endswith('.log') or re.search(r'\.log\.h\d+$', name) is not None


def read_report(path):
    '''Load and check one run report; InputError names the fault.'''
    try:
        text = Path(path).read_text()
    except UnicodeDecodeError:
        raise InputError(path, 'not a text file (not JSON)')
    except OSError as err:
        raise InputError(path, f'cannot read: {err.strerror}')
    if not text.strip():
        raise InputError(path, 'empty file')
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        if err.pos >= len(text.rstrip()):
            raise InputError(path, f'truncated JSON (ends at line {err.lineno}, column {err.colno})')
        raise InputError(path, f'not JSON ({err.msg} at line {err.lineno}, column {err.colno})')
    if not isinstance(data, dict) or 'session_info' not in data or 'runs' not in data:
        raise InputError(path, "JSON but not a ReFrame run report (no 'session_info' and 'runs')")
    version = str(data['session_info'].get('data_version', ''))
    if version.split('.')[0] not in SUPPORTED_MAJOR:
        raise InputError(path, f'unsupported run report data_version {version!r} (need 3.x-4.x)')
    if not isinstance(data['runs'], list):
        raise InputError(path, "'runs' is not a list")
    return data


def redact_env(env):
    '''Environment variables as text, values of secret-looking names hidden.'''
    if not isinstance(env, dict) or not env:
        return ''
    return ' '.join(f'{k}={REDACTED if SECRET.search(str(k)) else v}' for k, v in sorted(env.items()))


def _flatten(col):
    '''Lists become comma-joined text, dicts JSON: one scalar per cell.'''
    sample = col.dropna()
    if sample.empty or not sample.map(lambda v: isinstance(v, (list, tuple, dict))).any():
        return col
    return col.map(lambda v: ','.join(map(str, v)) if isinstance(v, (list, tuple))
                   else json.dumps(v, sort_keys=True) if isinstance(v, dict) else v)


def frame_from_report(data, source=''):
    '''One run report -> tidy rows (cases joined with their perf values).'''
    session = data['session_info']
    cases, perf = [], []
    for run in data['runs']:
        for tc in run.get('testcases', []) or []:
            pv = tc.get('perfvalues') or {}
            if not pv and tc.get('fixture') and tc.get('result') == 'pass':
                continue            # a passing build step carries no numbers
            idx = len(cases)
            case = {k: v for k, v in tc.items() if k not in _SKIP}
            case.setdefault('run_index', run.get('run_index', 0))
            case['env_vars'] = redact_env(tc.get('env_vars'))
            cases.append(case)
            if pv:
                for key, entry in pv.items():
                    entry = list(entry) + [None] * 5
                    perf.append((idx, key.rsplit(':', 1)[-1], *entry[:5]))
            else:
                perf.append((idx, None, None, None, None, None, None))
    if not cases:
        return pd.DataFrame()
    cf = pd.DataFrame.from_records(cases)
    cf = cf.apply(_flatten)
    if 'display_name' not in cf.columns:
        cf['display_name'] = cf.get('name', '')
    cf['display_name'] = cf['display_name'].fillna(cf.get('name', '')).astype(str)
    params = cf['display_name'].str.extractall(_PARAM)
    if not params.empty:
        params.columns = ['param', 'param_value']
        wide = params.reset_index().pivot_table(index=params.index.names[0] or 'level_0', columns='param',
                                                values='param_value', aggfunc='first')
        for col in wide.columns:
            if col not in cf.columns:
                cf[col] = wide[col].reindex(cf.index)
    cf['check'] = cf['display_name'].str.split().str[0]
    if 'workload' not in cf.columns:
        cf['workload'] = cf['check']
    cf['workload'] = cf['workload'].fillna(cf['check'])
    if 'session_uuid' not in cf.columns:
        cf['session_uuid'] = session.get('uuid')
    cf['session_uuid'] = cf['session_uuid'].fillna(session.get('uuid'))
    cf['completion_time'] = cf.get('job_completion_time', cf.get('job_completion_time_unix'))
    cf['source'] = str(source)
    pf = pd.DataFrame.from_records(perf, columns=['_case', 'pvar', 'value', 'ref', 'lower', 'upper', 'unit'])
    pf['value'] = pd.to_numeric(pf['value'], errors='coerce')
    frame = cf.drop(columns=[c for c in ('pvar', 'value', 'unit', 'ref', 'lower', 'upper')
                             if c in cf.columns]).iloc[pf['_case'].to_numpy()].reset_index(drop=True)
    return pd.concat([frame, pf.drop(columns='_case')], axis=1)


def _session_row(data, source):
    s = data['session_info']
    return {
        'session_uuid': s.get('uuid'), 'source': str(source),
        'data_version': s.get('data_version'), 'reframe_version': s.get('version'),
        'hostname': s.get('hostname'), 'user': s.get('user'),
        'time_start': s.get('time_start'), 'time_end': s.get('time_end'),
        'time_elapsed': s.get('time_elapsed'), 'cmdline': s.get('cmdline'),
        'config_files': ','.join(map(str, s.get('config_files') or [])),
        'num_cases': s.get('num_cases'), 'num_failures': s.get('num_failures'),
        **{k: v for k, v in s.items() if k.startswith('hpcval_')},
    }


def _apply_better(frame, overrides):
    '''Direction from the unit, then per-check overrides ('CHECK:PVAR' or 'CHECK' -> dir).'''
    units = frame['unit'].astype(object)
    uniq = {u: better_of_unit(u) for u in units.dropna().unique()}
    frame['better'] = units.map(uniq).astype(object).fillna('')
    if 'better_overrides' in frame.columns:        # declared by the check (a loggable dict)
        for text in frame['better_overrides'].dropna().unique():
            try:
                declared = json.loads(text) if isinstance(text, str) and text.startswith('{') else {}
            except json.JSONDecodeError:
                declared = {}
            sel = frame['better_overrides'] == text
            for pvar, direction in declared.items():
                frame.loc[sel & (frame['pvar'] == pvar), 'better'] = direction
    for spec, direction in (overrides or {}).items():
        check, _, pvar = spec.partition(':')
        sel = frame['check'] == check
        if pvar:
            sel &= frame['pvar'] == pvar
        frame.loc[sel, 'better'] = direction
    return frame


def _check_units(frame, where):
    both = frame.dropna(subset=['pvar', 'unit']).groupby(['check', 'pvar'])['unit'].unique()
    for (check, pvar), units in both.items():
        if len(units) > 1:
            raise InputError(where(check, pvar, units[1]),
                             f'{check}: performance variable {pvar!r} reported in two units, '
                             f'{units[0]!r} and {units[1]!r}')


def _flag_values(frame):
    '''Non-finite or non-positive values of passed cases: NaN plus a warning.'''
    passed = frame['result'].isin(['pass', 'xfail'])
    v = frame['value']
    bad = passed & frame['pvar'].notna() & (~np.isfinite(v) | (v <= 0))
    warnings = [(r.source, r.display_name, f'{r.pvar} = {r.value!r}: not a usable measurement, '
                 'excluded from the statistics') for r in frame[bad].itertuples()]
    frame.loc[bad, 'value'] = np.nan
    empty = passed & frame['pvar'].isna()
    warnings += [(r.source, r.display_name, 'passed but reported no performance values')
                 for r in frame[empty].itertuples()]
    return frame, warnings


def load(paths, better=None):
    '''Every run report (or perflog) under ``paths`` -> Dataset.  InputError on bad input.'''
    if not paths:
        raise InputError('<arguments>', 'no run report given')
    sources = []
    for p in paths:
        sources += find_reports(p)
    frames, sessions = [], []
    for src in sources:
        if is_perflog(src) and not str(src).endswith('.json'):
            from analysis import perflog
            frames.append(perflog.frame_from_perflog(src))
            continue
        data = read_report(src)
        frames.append(frame_from_report(data, src))
        sessions.append(_session_row(data, src))
    frames = [f for f in frames if not f.empty]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    for col in CORE_COLUMNS + ['source']:
        if col not in frame.columns:
            frame[col] = np.nan if col in ('value', 'num_nodes', 'num_tasks') else ''
    frame['value'] = pd.to_numeric(frame['value'], errors='coerce').astype(float)
    frame['num_nodes'] = pd.to_numeric(frame['num_nodes'], errors='coerce')
    frame = _apply_better(frame, better)

    def where(check, pvar, unit):
        hit = frame[(frame['check'] == check) & (frame['pvar'] == pvar) & (frame['unit'] == unit)]
        return hit['source'].iloc[0] if not hit.empty else '<input>'
    _check_units(frame, where)
    frame, warnings = _flag_values(frame)
    sizes = {p: message_size(p) for p in frame['pvar'].dropna().unique()}
    frame['msg_size'] = frame['pvar'].map(sizes)
    order = CORE_COLUMNS + [c for c in frame.columns if c not in CORE_COLUMNS]
    return Dataset(frame=frame[order], sessions=pd.DataFrame(sessions),
                   sources=[str(s) for s in sources], warnings=warnings)
