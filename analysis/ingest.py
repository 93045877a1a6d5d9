"""Read ReFrame run reports (data_version 3.x-4.2) into the tidy frame.

One row per test case x performance variable; a failed case without values
keeps one row with value NaN so that stability can count it.  Loggable
variables and parameters become columns; ``%name=value`` tokens of the
display name too, for foreign checks that log nothing.
"""
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.units import better, message_size

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
    'dependencies_actual', 'dependencies_conceptual', 'fail_info', 'env_vars',
    'variables', 'executable_opts', 'prerun_cmds', 'postrun_cmds',
    'prebuild_cmds', 'postbuild_cmds', 'keep_files', 'readonly_files',
    'maintainers', 'modules', 'extra_resources', 'valid_systems',
    'valid_prog_environs', 'tags', 'outputdir', 'stagedir', 'prefix',
}
_PARAM = re.compile(r'%\$?(\w+)=(\S+)')


@dataclass
class Dataset:
    frame: pd.DataFrame        # the tidy frame
    sessions: pd.DataFrame     # one row per run report: provenance of the session
    sources: list              # the report files read


def find_reports(path):
    '''The run report files a path stands for (a file, a run dir, a tree).'''
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
        raise InputError(path, f'no {REPORT_NAME} found in this directory')
    return found


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


def _scalar(value):
    if isinstance(value, (list, tuple)):
        return ','.join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


def _case_fields(tc, session):
    fields = {k: _scalar(v) for k, v in tc.items() if k not in _SKIP}
    display = tc.get('display_name') or tc.get('name', '')
    for name, value in _PARAM.findall(display):
        fields.setdefault(name, value)
    fields['display_name'] = display
    fields['check'] = display.split()[0] if display else tc.get('name', '')
    fields['session_uuid'] = tc.get('session_uuid') or session.get('uuid')
    fields['completion_time'] = tc.get('job_completion_time') or tc.get('job_completion_time_unix')
    fields.setdefault('workload', fields['check'])
    return fields


def _perf_rows(tc):
    '''(pvar, value, ref, lower, upper, unit) from perfvalues, any schema 3.x-4.2.'''
    rows = []
    for key, entry in (tc.get('perfvalues') or {}).items():
        pvar = key.split(':')[-1]
        entry = list(entry) + [None] * 6
        value, ref, lower, upper, unit = entry[:5]
        rows.append((pvar, value, ref, lower, upper, unit))
    return rows


def frame_from_report(data, source=''):
    rows = []
    session = data['session_info']
    for run in data['runs']:
        for tc in run.get('testcases', []):
            base = _case_fields(tc, session)
            base.setdefault('run_index', run.get('run_index', 0))
            base['source'] = str(source)
            perf = _perf_rows(tc)
            if not perf:
                # a passing fixture or build step carries no numbers; a failed
                # case keeps its row so failures are counted
                if tc.get('fixture') and tc.get('result') == 'pass':
                    continue
                perf = [(None, np.nan, None, None, None, None)]
            for pvar, value, ref, lower, upper, unit in perf:
                row = dict(base)
                row.update(pvar=pvar, value=np.nan if value is None else float(value),
                           ref=ref, lower=lower, upper=upper, unit=unit, better=better(unit))
                rows.append(row)
    return pd.DataFrame(rows)


def _session_row(data, source):
    s = data['session_info']
    return {
        'session_uuid': s.get('uuid'), 'source': str(source),
        'data_version': s.get('data_version'), 'reframe_version': s.get('version'),
        'hostname': s.get('hostname'), 'user': s.get('user'),
        'time_start': s.get('time_start'), 'time_end': s.get('time_end'),
        'time_elapsed': s.get('time_elapsed'), 'cmdline': s.get('cmdline'),
        'config_files': _scalar(s.get('config_files')),
        'num_cases': s.get('num_cases'), 'num_failures': s.get('num_failures'),
        **{k: v for k, v in s.items() if k.startswith('hpcval_') or k in ('campaign',)},
    }


def load(paths):
    '''Every run report under ``paths`` -> Dataset.  InputError on bad input.'''
    if not paths:
        raise InputError('<arguments>', 'no run report given')
    sources = []
    for p in paths:
        sources += find_reports(p)
    frames, sessions = [], []
    for src in sources:
        data = read_report(src)
        frames.append(frame_from_report(data, src))
        sessions.append(_session_row(data, src))
    frame = pd.concat([f for f in frames if not f.empty], ignore_index=True) if any(
        not f.empty for f in frames) else pd.DataFrame()
    for col in CORE_COLUMNS:
        if col not in frame.columns:
            frame[col] = np.nan if col in ('value', 'num_nodes', 'num_tasks') else ''
    frame['msg_size'] = frame['pvar'].map(lambda p: message_size(p) if isinstance(p, str) else None)
    frame['num_nodes'] = pd.to_numeric(frame['num_nodes'], errors='coerce')
    order = CORE_COLUMNS + [c for c in frame.columns if c not in CORE_COLUMNS]
    return Dataset(frame=frame[order], sessions=pd.DataFrame(sessions), sources=[str(s) for s in sources])
