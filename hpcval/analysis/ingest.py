"""Read ReFrame run reports (data_version 3.0-4.2, analysis.layouts) into the tidy frame.

One row per test case x performance variable; a failed case without values
keeps one row with value NaN so that stability can count it.  Loggable
variables and parameters become columns; ``%name=value`` tokens of the
display name too, for foreign checks that log nothing.  Perflogs are read
when a path holds no run report (analysis.perflog).

Suspicious values are never dropped silently: a non-finite or non-positive
value (zero of a ``count`` aside) of a passed case becomes NaN in ``value`` and a line in
``Dataset.warnings``; a pvar reported with two units is an error.
"""
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from hpcval.analysis import layouts
from hpcval.analysis.cases import (CASE_IDENTITY, PASSED, UNKNOWN, outside_reference, strip_token,
                                   usable)
from hpcval.analysis.shape import check_shape, kind as _kind
from hpcval.analysis.sources import distinct, regular_file
from hpcval.errors import InputError
from hpcval.redact import maybe_secret, redact, redact_columns, redact_env
from hpcval.reframe_facts import NODES_TOKEN, PARAM, REPEAT_TOKEN
from hpcval.analysis.units import better as better_of_unit
from hpcval.sizes import message_size

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
# ReFrame's own loggable attributes that say nothing about the measurement:
# dropped at ingest so the tidy frame (and its CSV) stays lean
_REFRAME_INTERNALS = {
    'build_jobid', 'build_locally', 'build_time_limit', 'exclusive_access', 'executable',
    'hashcode', 'local', 'max_pending_time', 'num_cpus_per_task', 'num_gpus_per_node',
    'num_tasks_per_core', 'num_tasks_per_socket', 'sourcepath', 'sourcesdir',
    'strict_check', 'time_limit', 'use_multithreading', 'job_completion_time_unix',
    'time_setup', 'time_compile', 'time_sanity', 'time_performance', 'fail_severe',
    'descr', 'filename', 'unique_name', 'short_name',
}
# fields that are numbers in every run report: typed once, the rest stay as given
_NUMERIC_FIELDS = {'run_index', 'num_nodes', 'num_tasks', 'num_tasks_per_node', 'job_exitcode',
                   'time_run', 'time_total', 'job_submit_time'}


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
    if not p.is_dir():
        regular_file(p)
        return [p]
    direct = p / REPORT_NAME
    if direct.exists():
        regular_file(direct)
        return [direct]
    found = sorted(p.rglob(REPORT_NAME))
    for f in found:
        regular_file(f)
    found = distinct(found)
    if not found:
        from hpcval.analysis import perflog
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
    regular_file(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise InputError(path, f'cannot read: {err.strerror}') from None
    except MemoryError:
        raise InputError(path, 'too large to read into memory') from None
    try:
        data = orjson.loads(raw)          # fast path; json below explains any fault
    except orjson.JSONDecodeError as err:
        if 'depth limit' in str(err):     # a run report is six levels deep; Python's json would recurse
            raise InputError(path, 'JSON nested too deeply to be a run report') from None
        data = None
    if data is None:
        data = _slow_json(path, raw)
    return check_report(data, path)


def check_report(data, path):
    '''``data`` (parsed JSON) if it is a run report some ReFrame release writes; else InputError.'''
    if not isinstance(data, dict) or 'session_info' not in data or 'runs' not in data:
        raise InputError(path, "JSON but not a ReFrame run report (no 'session_info' and 'runs')")
    if not isinstance(data['session_info'], dict):
        raise InputError(path, f"'session_info' is {_kind(data['session_info'])}, not an object")
    version = str(data['session_info'].get('data_version', ''))
    if version.split('.')[0] not in SUPPORTED_MAJOR:
        raise InputError(path, f'unsupported run report data_version {version[:40]!r} (hpcval reads 3.x-4.x, '
                               'written by ReFrame 4.0-4.10; of ReFrame 3.x, give its perflogs)')
    if not isinstance(data['runs'], list):
        raise InputError(path, "'runs' is not a list")
    check_shape(data, path)
    return data


def _slow_json(path, raw):
    '''What orjson refused: Python's json takes NaN and Infinity, as Python writes them, and
    explains every other fault in one line.'''
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise InputError(path, 'not a text file (not JSON)') from None
    if not text.strip():
        raise InputError(path, 'empty file')
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        if err.pos >= len(text.rstrip()):
            raise InputError(path, f'truncated JSON (ends at line {err.lineno}, column {err.colno})') from None
        raise InputError(path, f'not JSON ({err.msg} at line {err.lineno}, column {err.colno})') from None
    except RecursionError:
        raise InputError(path, 'JSON nested too deeply to be a run report') from None
    except ValueError as err:             # an integer of thousands of digits
        raise InputError(path, f'not a usable JSON number ({str(err)[:80]})') from None
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:            # "\ud800": valid JSON, but no text a report can hold
        raise InputError(path, 'invalid Unicode (a lone surrogate escape such as \\ud800)') from None
    except RecursionError:
        raise InputError(path, 'JSON nested too deeply to be a run report') from None
    return data


def _memo(fn, value, cache):
    '''fn(value), computed once per distinct value: 10^5 cases share a few environments.'''
    try:
        key = (type(value).__name__, tuple(sorted(value.items())) if isinstance(value, dict)
               else tuple(value) if isinstance(value, list) else value)
        hit = cache.get(key)
    except TypeError:                   # nested or unorderable: no memo
        return fn(value)
    if hit is None:
        hit = cache[key] = fn(value)
    return hit


def _flat(v):
    '''A list or dict as one text cell, redacted as a structure (a list's '--password', 'X').'''
    def text(x):
        return ','.join(map(str, x)) if isinstance(x, (list, tuple)) else json.dumps(x, sort_keys=True)
    plain = text(v)
    return text(redact(v)) if maybe_secret(plain) else plain    # the cheap test holds for the whole


def _report_parts(data, source=''):
    '''One run report -> (cases frame, perf rows frame with the case's row number).'''
    session = data['session_info']
    v3 = layouts.major(data) == '3'
    cases, names, envs = [], {}, {}
    idx_col, pvar_col = [], []
    value_col, ref_col, lower_col, upper_col, unit_col = [], [], [], [], []
    for position, run in enumerate(data['runs']):
        run_index = run.get('run_index', position)       # data_version 3.x has none: runs are in order
        for tc in run.get('testcases', []) or []:
            if v3:
                tc = layouts.testcase_v3(tc)
            pv = tc.get('perfvalues') or {}
            if not pv and tc.get('fixture') and tc.get('result') == 'pass':
                continue            # a passing build step carries no numbers
            idx = len(cases)
            tc.setdefault('run_index', run_index)   # our own parse of the file: safe to extend
            tc['env_vars'] = _memo(redact_env, tc.get('env_vars'), envs)   # dict, list or string
            cases.append(tc)
            if not pv:
                idx_col.append(idx)
                pvar_col.append(None)
                for col in (value_col, ref_col, lower_col, upper_col, unit_col):
                    col.append(None)
                continue
            for key in pv:
                if key not in names:
                    names[key] = key.rsplit(':', 1)[-1]
                pvar_col.append(names[key])
            idx_col.extend([idx] * len(pv))
            # [value, ref, lower, upper, unit(, result)]: transpose per case
            entries = [e if len(e) >= 5 else list(e) + [None] * (5 - len(e)) for e in pv.values()]
            v, r, lo, up, u = list(zip(*entries))[:5]
            value_col.extend(v)
            ref_col.extend(r)
            lower_col.extend(lo)
            upper_col.extend(up)
            unit_col.extend(u)
    if not cases:
        return pd.DataFrame(), pd.DataFrame()
    # column by column: cheaper than a frame from a list of dicts, and the
    # bulky fields (job output, tracebacks) are never touched
    keys = {}
    for tc in cases:
        keys.update(dict.fromkeys(tc))
    drop = _SKIP | _REFRAME_INTERNALS | {'pvar', 'value', 'unit', 'ref', 'lower', 'upper'}
    # object columns as they come: no per-column type inference over 10^5 cases
    cf = pd.DataFrame({k: np.array([tc.get(k) for tc in cases] + [None], dtype=object)[:-1]
                       for k in keys if k not in drop})
    for col in _NUMERIC_FIELDS & set(cf.columns):
        cf[col] = pd.to_numeric(cf[col], errors='coerce')
    if 'display_name' not in cf.columns:
        cf['display_name'] = cf['name'] if 'name' in cf.columns else ''
    elif 'name' in cf.columns:
        cf['display_name'] = cf['display_name'].fillna(cf['name'])
    if 'session_uuid' not in cf.columns:
        cf['session_uuid'] = layouts.session_id(session)
    cf['session_uuid'] = cf['session_uuid'].fillna(layouts.session_id(session))
    cf['source'] = str(source)
    pf = pd.DataFrame({'_case': np.asarray(idx_col, dtype=np.int64), 'pvar': pd.Series(pvar_col, dtype=object),
                       'value': pd.to_numeric(pd.Series(value_col, dtype=object), errors='coerce'),
                       'ref': pd.Series(ref_col, dtype=object), 'lower': pd.Series(lower_col, dtype=object),
                       'upper': pd.Series(upper_col, dtype=object), 'unit': pd.Series(unit_col, dtype=object)})
    return cf, pf


def _numberlike(v):
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def _finish_cases(cf):
    '''Case-level columns, once for all files: flatten, parameters, check, categories.'''
    for col in cf.columns[cf.dtypes == object]:     # noqa: E721 (a dtype, not a type)
        first = cf[col].dropna().head(20)
        if first.map(lambda v: isinstance(v, (list, tuple, dict))).any():
            cf[col] = cf[col].map(lambda v: _flat(v) if isinstance(v, (list, tuple, dict)) else v)
    redact_columns(cf)                  # before names are parsed: parameters come out redacted too
    cf['display_name'] = cf['display_name'].astype(object).fillna('').astype(object)
    cf['case'] = strip_token(cf['display_name'], REPEAT_TOKEN)
    cf['series'] = strip_token(cf['case'], NODES_TOKEN)
    # parameters from the display name, parsed once per distinct case (repeats share them)
    parsed = {n: dict(PARAM.findall(n)) for n in cf['case'].unique()}
    for param in sorted({k for d in parsed.values() for k in d}):
        if param not in cf.columns:
            cf[param] = cf['case'].map({n: d.get(param) for n, d in parsed.items()})
    if 'repeat_no' not in cf.columns and cf['display_name'].str.contains('repeat_no=', regex=False).any():
        cf['repeat_no'] = cf['display_name'].str.extract(r'repeat_no=(\S+)', expand=False)
    cf['check'] = cf['case'].map({n: (n.split() or [''])[0] for n in parsed})
    cf['workload'] = cf['workload'].fillna(cf['check']) if 'workload' in cf.columns else cf['check']
    cf['completion_time'] = cf['job_completion_time'] if 'job_completion_time' in cf.columns else None
    # parameters and loggable variables arrive as text or Python objects:
    # numbers where every value of the column is one (per case, before the join)
    for col in cf.columns:
        if col in CORE_COLUMNS or col in ('case', 'series', 'source', 'display_name') or not (
                cf[col].dtype == object or pd.api.types.is_string_dtype(cf[col])):
            continue
        present = cf[col].notna()
        sample = cf[col][present].head(20)
        if sample.empty or not all(_numberlike(v) for v in sample):
            continue
        conv = pd.to_numeric(cf[col], errors='coerce')
        if conv.notna().sum() == present.sum():
            cf[col] = conv
    # repeated text: categories make the per-value replication cheap
    for col in cf.columns:
        if cf[col].dtype == object or str(cf[col].dtype).startswith('str'):
            if cf[col].nunique(dropna=True) <= max(1, len(cf) // 2):
                cf[col] = cf[col].astype('category')
    return cf


def _join(cf, pf):
    '''Repeat each case's columns for each of its values; text columns stay categorical,
    so the repeat copies integer codes, not a million string references.'''
    rows = cf.take(pf['_case'].to_numpy()).reset_index(drop=True)
    rows['case_id'] = pf['_case'].to_numpy()
    pf = pf.drop(columns='_case').reset_index(drop=True)
    pf['value'] = pd.to_numeric(pf['value'], errors='coerce').astype(float)
    return pd.concat([rows, pf], axis=1)


def _session_row(data, source):
    s = data['session_info']
    return redact({
        'session_uuid': layouts.session_id(s), 'source': str(source),
        'data_version': s.get('data_version'), 'reframe_version': s.get('version'),
        'hostname': s.get('hostname'), 'user': s.get('user'),
        'time_start': s.get('time_start'), 'time_end': s.get('time_end'),
        'time_elapsed': s.get('time_elapsed'), 'cmdline': s.get('cmdline'),
        'config_files': ','.join(map(str, s.get('config_files') or [])),
        'num_cases': s.get('num_cases'), 'num_failures': s.get('num_failures'),
        **{k: v for k, v in s.items() if k.startswith('hpcval_')},
    })                                  # cmdline, hpcval_* extras: by name and by value


def _apply_better(frame, overrides):
    '''Direction from the unit, then per-check overrides ('CHECK:PVAR' or 'CHECK' -> dir).'''
    codes, uniques = pd.factorize(frame['unit'])
    lookup = np.array([better_of_unit(u) for u in uniques] + [''], dtype=object)
    frame['better'] = lookup[codes]          # code -1 (no unit) picks the trailing ''
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
    trio = frame[['check', 'pvar', 'unit']].drop_duplicates().dropna(subset=['pvar', 'unit'])
    twice = trio[trio.duplicated(['check', 'pvar'], keep=False)]
    if not twice.empty:
        check, pvar = twice.iloc[0]['check'], twice.iloc[0]['pvar']
        units = list(twice[(twice['check'] == check) & (twice['pvar'] == pvar)]['unit'])
        raise InputError(where(check, pvar, units[1]),
                         f'{check}: performance variable {pvar!r} reported in two units, '
                         f'{units[0]!r} and {units[1]!r}')


def _flag_values(frame):
    '''Non-finite or non-positive values of measured cases: NaN plus a warning.'''
    passed = frame['result'].isin(PASSED + (UNKNOWN,))
    v = frame['value']
    # zero of a count (hazards found, errors) is a measurement; of a time or a rate it is not
    zero_ok = (v == 0) & (frame['unit'] == 'count')
    bad = (passed | frame['outside_ref']) & frame['pvar'].notna() & (~np.isfinite(v) | ((v <= 0) & ~zero_ok))
    warnings = [(r.source, r.display_name, f'{r.pvar} = {r.value!r}: not a usable measurement, '
                 'excluded from the statistics') for r in frame[bad].itertuples()]
    frame.loc[bad, 'value'] = np.nan
    empty = passed & frame['pvar'].isna()
    warnings += [(r.source, r.display_name, 'passed but reported no performance values')
                 for r in frame[empty].itertuples()]
    return frame, warnings


def load(paths, better=None, documents=()):
    '''Every run report (or perflog) under ``paths``, and ``documents`` ((name, parsed run
    report) pairs, e.g. sessions from ReFrame's results storage) -> Dataset.  InputError on bad input.'''
    if not paths and not documents:
        raise InputError('<arguments>', 'no run report given')
    sources = []
    for p in paths:
        sources += find_reports(p)
    given = {name: data for name, data in documents}
    frames, sessions, case_parts, perf_parts, offset, warnings_in = [], [], [], [], 0, []
    for src in sources + list(given):
        if src in given:
            data = check_report(given[src], src)
        elif is_perflog(src) and not str(src).endswith('.json'):
            from hpcval.analysis import perflog
            try:
                f = perflog.frame_from_perflog(src)
            except (AttributeError, TypeError, ValueError, KeyError, IndexError, RecursionError) as err:
                raise InputError(src, f'malformed perflog ({type(err).__name__}: {str(err)[:120]})') from None
            if not f.empty:
                # each line or record a case of its own: appended sessions and retries stay apart
                f['case_id'] = f.pop('perflog_case').to_numpy(np.int64) + offset
                offset = int(f['case_id'].max()) + 1
                if (f['result'] == UNKNOWN).all():
                    warnings_in.append((str(src), '', 'the perflog format logs no result (%(check_result)s): '
                                        'values are used, failures cannot be counted'))
            frames.append(f)
            continue
        else:
            data = read_report(src)
        try:
            cf, pf = _report_parts(data, src)
        except (AttributeError, TypeError, ValueError, KeyError, IndexError) as err:
            # valid JSON, right top level, wrong shape further down
            raise InputError(src, f'malformed run report ({type(err).__name__}: {str(err)[:120]})') from None
        sessions.append(_session_row(data, src))
        data = None
        if cf.empty:
            continue
        pf['_case'] += offset
        offset += len(cf)
        case_parts.append(cf)
        perf_parts.append(pf)
    if case_parts:
        frames.append(_join(_finish_cases(pd.concat(case_parts, ignore_index=True)),
                            pd.concat(perf_parts, ignore_index=True)))
    frames = [f for f in frames if not f.empty]
    if not frames:
        every = sources + list(given)
        what = every[0] if len(every) == 1 else f'{(paths or list(given))[0]} ({len(every)} inputs)'
        raise InputError(what, 'holds no test case (an empty run, or a perflog with a header and no record)')
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else (frames[0] if frames else pd.DataFrame())
    if 'case' not in frame.columns or frame['case'].isna().any():
        fill = frame.get('display_name', pd.Series(dtype=object)).astype(str)
        frame['case'] = strip_token(fill, REPEAT_TOKEN)
        frame['series'] = strip_token(frame['case'], NODES_TOKEN)
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
    frame['outside_ref'] = outside_reference(frame)
    frame, warnings = _flag_values(frame)
    warnings = warnings_in + warnings
    if 'case_id' not in frame.columns or frame['case_id'].isna().any():
        # perflog rows: number the cases by their identity
        frame['case_id'] = frame.groupby(CASE_IDENTITY, dropna=False, sort=False).ngroup()
    frame['case_id'] = frame['case_id'].astype(np.int64)
    frame['usable'] = usable(frame)
    sizes = {p: message_size(p) for p in frame['pvar'].dropna().unique()}
    frame['msg_size'] = frame['pvar'].map(sizes)
    order = CORE_COLUMNS + [c for c in frame.columns if c not in CORE_COLUMNS]
    return Dataset(frame=frame[order], sessions=pd.DataFrame(sessions),
                   sources=[str(s) for s in sources + list(given)], warnings=warnings)
