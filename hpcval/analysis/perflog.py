"""Read ReFrame perflog files into the tidy frame: the fallback input when no
JSON run report exists.

A perflog starts with a header that ReFrame generates from the handler's
format (delimiter ``|``).  Each performance variable expands to the columns
``<var>_value|<var>_unit|<var>_ref|<var>_lower_thres|<var>_upper_thres``
(``|<var>_result`` with ``%(check_perf_result)s``); in ``perflog_multiline``
mode each line carries one variable in ``perf_var|perf_value|...`` instead.
When the header changes, ReFrame renames the old file ``X.log.h0``, ``.h1``...
Rows come out as in ``analysis.ingest``: one per test case x
performance variable, every other header field a column of its own.
"""
import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from hpcval.analysis.cases import PERFORMANCE_PHASE, UNKNOWN
from hpcval.reframe_facts import PARAM
from hpcval.errors import InputError
from hpcval.analysis.sources import distinct
from hpcval.redact import redact, redact_columns, redact_env, redact_text
from hpcval.analysis.units import better

NOT_PERFLOG = 'not a ReFrame perflog (no header with performance columns)'

FIRST_COLUMNS = [
    'session_uuid', 'run_index', 'system', 'partition', 'environ', 'check',
    'display_name', 'result', 'fail_phase', 'fail_reason', 'job_nodelist',
    'completion_time', 'pvar', 'value', 'unit', 'ref', 'lower', 'upper',
    'better', 'source',
]
_FILE = re.compile(r'\.log(?:\.h(\d+))?$')
# a header field: a name or the format's literal text ('reframe version'), not a value
# (a number, a time stamp, a 3.x 'jobid=123')
_FIELD_NAME = re.compile(r'^[^\d\s=+-][^=]*$')
_HASH = re.compile(r'_[0-9a-f]{8}$')           # short_name = <class>_<hashcode>
_MISSING = ['', 'None', 'null']                # perf fields print None, others JSON null
_PERF = {'value': 'value', 'unit': 'unit', 'ref': 'ref', 'lower_thres': 'lower',
         'upper_thres': 'upper', 'result': 'presult',
         'lower': 'lower', 'upper': 'upper'}        # ReFrame 4.0's default: %(check_perf_lower)s
_MULTI = {f'perf_{k}': v for k, v in _PERF.items()} | {'perf_var': 'pvar'}
_NAMES = ('display_name', 'name', 'short_name')
# the fields one multiline record (one test case) repeats on each of its lines
_RECORD = ('display_name', 'name', 'short_name', 'system', 'partition', 'environ', 'jobid',
           'job_completion_time', 'job_completion_time_unix', 'check_job_completion_time')
# counts that a run report gives as numbers; every other field stays text
_NUMERIC = ('num_nodes', 'num_tasks', 'num_tasks_per_node', 'num_tasks_per_core',
            'num_tasks_per_socket', 'num_cpus_per_task', 'num_gpus_per_node',
            'job_exitcode', 'job_completion_time_unix', 'job_submit_time')


def perflog_files(path):
    '''The perflog files a path stands for: the file itself, or every
    ``*.log`` and rotated ``*.log.h<N>`` below a directory, oldest first.'''
    p = Path(path)
    if not p.exists():
        raise InputError(path, 'no such file or directory')
    if p.is_file():
        return [p]
    found = [f for f in p.rglob('*.log*') if f.is_file() and _FILE.search(f.name)]
    # a run directory also holds reframe.log: keep what lies under perflogs/
    under = [f for f in found if 'perflogs' in f.parts]
    files = distinct(under or found)
    if not files:
        raise InputError(path, 'no perflog (*.log) found in this directory')

    def order(f):                       # X.log.h0, X.log.h1, ..., then X.log
        m = _FILE.search(f.name)
        return (str(f.parent), f.name[:m.start()], int(m.group(1)) if m.group(1) else float('inf'))
    return sorted(files, key=order)


def _read_table(path):
    '''(a text frame, one column per header field, missing values NaN;
    a mask of the lines whose perf block was empty).'''
    try:
        text = Path(path).read_text(encoding='utf-8')
    except UnicodeDecodeError:
        raise InputError(path, 'not a text file') from None
    except OSError as err:
        raise InputError(path, f'cannot read: {err.strerror}') from None
    if not text.strip():
        raise InputError(path, 'empty file')
    lines = pd.Series(text.split('\n'), dtype=object).str.rstrip('\r')
    sep = _delimiter(lines.iloc[0])
    if sep is None:
        table = _headerless(lines, path)
        return table, np.zeros(len(table), bool)
    names = lines.iloc[0].strip().split(sep)
    known = set(names)
    perf = [i for i, n in enumerate(names) if _perf_column(n, known)]
    # a test without perf vars still logs (build fixtures): its name shows it is ReFrame's
    if len(names) < 2 or not (perf or 'perf_value' in known or known & set(_NAMES)):
        raise InputError(path, NOT_PERFLOG)
    lines = lines.iloc[1:]
    lines = lines[lines.str.strip() != '']
    counts = lines.map(lambda s: s.count(sep)) + 1
    m = len(names)
    # a case that failed before its performance stage logs an empty perf
    # block: one empty field where the header has one per perf column
    empty = pd.Series(False, index=lines.index)
    if perf:
        start, width = perf[0], len(perf)
        short = lines[counts == m - width + 1]
        pos = short.str.split(sep, regex=False).str[start] == ''
        empty[pos[pos].index] = True
        lines[empty] = lines[empty].map(lambda s: _pad(s, start, width - 1, sep))
        counts[empty] = m
    bad = counts != m
    if bad.any():
        n = bad.idxmax()
        raise InputError(path, f'line {n + 1}: {counts[n]} fields, header has {m}')
    table = pd.read_csv(io.StringIO('\n'.join(lines)), sep=sep, header=None, names=range(m),
                        dtype=str, na_filter=False, quoting=csv.QUOTE_NONE,
                        engine='c') if len(lines) else pd.DataFrame(columns=range(m), dtype=str)
    # the project's format repeats display_name and environ after check_#ALL;
    # the first copy wins, and empty names (no perf vars) carry nothing
    keep = [i for i, n in enumerate(names) if n and n not in names[:i]]
    table = table[keep].set_axis([names[i] for i in keep], axis=1)
    return table.mask(table.isin(_MISSING)), empty.to_numpy()


def _perf_column(name, names):
    '''Is ``name`` one of the fields a perf variable expands to?'''
    for suffix in _PERF:
        var = name[:-len(suffix) - 1] if name.endswith('_' + suffix) else ''
        if var == 'perf' and 'perf_var' in names:     # multiline's own columns
            return False
        if var and f'{var}_value' in names and f'{var}_unit' in names:
            return True
    return False


def _pad(line, start, extra, sep='|'):
    fields = line.split(sep)
    return sep.join(fields[:start] + [''] * extra + fields[start:])


# ReFrame 3.x wrote no header; its default format was
#   %(check_job_completion_time)s|reframe %(version)s|%(check_info)s|jobid=%(check_jobid)s|
#   %(check_perf_var)s=%(check_perf_value)s|ref=%(check_perf_ref)s (l=%(check_perf_lower_thres)s,
#   u=%(check_perf_upper_thres)s)|%(check_perf_unit)s
# with check_info 'NAME on SYSTEM:PARTITION using ENVIRON' (3.10+: 'NAME @SYSTEM:PARTITION+ENVIRON'):
# one line per variable, no result
_V3_LINE = re.compile(
    r'^(?P<job_completion_time>[^|]*)\|reframe (?P<version>[^|]+)\|'
    r'(?:(?P<display_name>.+?) on (?P<system>[^:|\s]+):(?P<partition>[^|\s]+) using (?P<environ>[^|]+?)'
    r'|(?P<name3>.+?) @(?P<system3>[^:|\s]+):(?P<partition3>[^+|\s]+)\+(?P<environ3>[^|]+?))\|'
    r'jobid=(?P<jobid>[^|]*)\|(?P<perf_var>[^=|]+)=(?P<perf_value>[^|]*)\|\s*'
    r'ref=(?P<perf_ref>[^|\s]+) \(l=(?P<perf_lower_thres>[^,|]*), u=(?P<perf_upper_thres>[^)|]*)\)\|'
    r'(?P<perf_unit>[^|]*)$')
V3_LAYOUT = 'TIME|reframe VERSION|NAME @SYS:PART+ENV|jobid=ID|VAR=VALUE|ref=REF (l=L, u=U)|UNIT'


def _headerless(lines, path):
    '''A perflog without a header: ReFrame 3.x's default layout as a multiline table, else
    InputError naming what the file holds.'''
    lines = lines[lines.str.strip() != '']
    parts = lines.str.extract(_V3_LINE)
    bad = parts['perf_var'].isna()
    if bad.all():
        raise InputError(path, f'{NOT_PERFLOG}; a headerless perflog is read only in ReFrame 3.x\'s '
                               f'default layout ({V3_LAYOUT})')
    if bad.any():
        n = bad.idxmax()
        raise InputError(path, f'line {n + 1}: not in the layout of the lines before it, '
                               f"ReFrame 3.x's default ({V3_LAYOUT})")
    for col in ('system', 'partition', 'environ'):
        parts[col] = parts[col].fillna(parts.pop(f'{col}3'))
    parts['display_name'] = parts['display_name'].fillna(parts.pop('name3'))
    return parts.reset_index(drop=True).mask(parts.isin(_MISSING + ['null']))


def _delimiter(header):
    '''The delimiter of a perflog header: ReFrame writes the header from the handler's format,
    so its fields are names (``|`` by default; ``,`` in ReFrame 4.0's default); None when the
    first line is a record, not a header (ReFrame 3.x wrote none).'''
    best, most = None, 1
    for sep in ('|', ',', ';', '\t'):
        fields = header.strip().split(sep)
        if len(fields) > most and all(_FIELD_NAME.match(f) for f in fields if f):
            best, most = sep, len(fields)
    return best


def _describe(cases):
    '''Per-case columns as ingest names them; one row per logged line, so the
    string work runs over unique values, not over every row.'''
    # secrets out first, as ingest does: env_vars (and ReFrame's old name for it, variables)
    # are JSON text, a dict, a list or a string; then every column by name and by value
    for col in ('env_vars', 'variables'):
        if col in cases.columns:
            envs = cases[col].dropna().unique()
            cases[col] = cases[col].map({e: redact_env(_env(e)) for e in envs})
    redact_columns(cases, text=_redact_field)
    if 'result' not in cases.columns and 'check_result' in cases.columns:
        cases = cases.rename(columns={'check_result': 'result'})
    for name in [c for c in cases.columns if ':' in c]:   # e.g. 'system:partition'
        parts = name.split(':')
        split = cases[name].str.split(':', n=len(parts) - 1, expand=True)
        for i, part in enumerate(parts):
            if part not in cases.columns and i in split.columns:
                cases[part] = split[i]
    display = _column(cases, 'display_name').fillna(_column(cases, 'name'))
    short = _column(cases, 'short_name')
    names = {d: d.split()[0] if d.split() else d for d in display.dropna().unique()}
    stems = {s: _HASH.sub('', s) for s in short.dropna().unique()}
    cases['check'] = display.map(names).astype(object).fillna(short.map(stems).astype(object))
    cases['display_name'] = display.fillna(short)
    params = {d: dict(PARAM.findall(d)) for d in cases['display_name'].dropna().unique()}
    for name in dict.fromkeys(k for p in params.values() for k in p):
        if name not in cases.columns:   # a logged field wins over the name's token
            cases[name] = cases['display_name'].map({d: p.get(name) for d, p in params.items()})
    cases['completion_time'] = _column(cases, 'job_completion_time').fillna(
        _column(cases, 'job_completion_time_unix'))
    if 'result' not in cases.columns:     # a format without %(check_result)s
        cases['result'] = UNKNOWN
    for col in ('system', 'partition', 'environ', 'fail_phase', 'fail_reason', 'job_nodelist'):
        if col not in cases.columns:
            cases[col] = None
    cases['session_uuid'] = _column(cases, 'session_uuid').fillna('')
    cases['run_index'] = pd.to_numeric(_column(cases, 'run_index')).fillna(0).astype(int)
    cases['workload'] = _column(cases, 'workload').astype(object).fillna(cases['check'])
    for col in _NUMERIC:
        if col in cases.columns:
            numbers = pd.to_numeric(cases[col], errors='coerce')
            if numbers.notna().sum() == cases[col].notna().sum():   # only if all parse
                cases[col] = numbers
    return cases


def _melt(cases, table, pvars, empty, path):
    '''Wide layout -> one row per case x perf var.'''
    k, n = max(len(pvars), 1), len(cases)
    out = cases.loc[cases.index.repeat(k)].reset_index(drop=True)
    if not pvars:                       # a test without performance variables
        out['pvar'] = None
        return out
    out['pvar'] = np.tile(pvars, n)
    for suffix, col in _PERF.items():
        names = [f'{v}_{suffix}' for v in pvars]
        if any(c in table.columns for c in names):
            out[col] = table.reindex(columns=names).to_numpy().ravel()   # row-major: case, var
    # a case without values keeps a single row, as in ingest
    first = np.tile(np.arange(k) == 0, n)
    blank = np.repeat(empty, k)
    out.loc[blank, 'pvar'] = None
    out = out[~blank | first].reset_index(drop=True)
    # ReFrame writes one header per test class from the first record it logs:
    # a variant with other perf vars lands under names that are not its own
    units = out.dropna(subset=['unit']).groupby('pvar')['unit'].unique()
    mixed = units[units.map(len) > 1]
    if len(mixed):
        raise InputError(path, f'perf variable {mixed.index[0]!r} has units {sorted(mixed.iloc[0])}: '
                               'the header was written for another variant of the test')
    return out


def _floats(col):
    try:                                # fast path: every field a number or missing
        return col.to_numpy(dtype=object).astype(float)
    except (TypeError, ValueError):
        return pd.to_numeric(col, errors='coerce').astype(float)


def _json(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _redact_field(text):
    '''A perflog field: ReFrame's JSON dump of a list or dict variable is redacted as the structure
    it is (a string in it may hold JSON again), any other text as text.'''
    if text[:1] in '[{':
        value = _json(text)
        if isinstance(value, (list, dict)):
            hidden = redact(value)
            return text if hidden == value else json.dumps(hidden)
    return redact_text(text)


def _env(text):
    '''An environment field: its JSON value, or the text itself when it is not JSON.'''
    value = _json(text)
    return text if value is None else value


def _column(frame, name):
    return frame[name] if name in frame.columns else pd.Series(None, index=frame.index, dtype=object)


def frame_from_perflog(path):
    '''One perflog file -> tidy frame (the columns of ingest's rows).  ``perflog_case``
    numbers the test cases of the file: one per line in the wide layout, one per record
    (the lines of one job and completion time) in the multiline layout.'''
    table, empty = _read_table(path)
    cols = set(table.columns)
    wide = [c for c in table.columns if _perf_column(c, cols)]
    if 'perf_var' in cols:              # multiline (a variable called perf is wide: perf_value, no perf_var)
        same = [c for c in _RECORD if c in cols]
        table['perflog_case'] = table.groupby(same, sort=False, dropna=False).ngroup() if same else 0
        frame = _describe(table.drop(columns=wide).rename(columns=_MULTI))   # check_#ALL repeats wide
    else:
        table['perflog_case'] = np.arange(len(table))
        pvars = [c[:-len('_value')] for c in wide if c.endswith('_value')]
        frame = _melt(_describe(table.drop(columns=wide)), table, pvars, empty, path)
    for col in ('value', 'ref', 'lower', 'upper'):
        frame[col] = _floats(_column(frame, col))
    # a failed record with values was logged after its performance stage ran (perfvalues are
    # filled there): the values lay outside the reference
    outside = (frame['result'] == 'fail') & frame['value'].notna() & frame['fail_phase'].isna()
    frame.loc[outside, 'fail_phase'] = PERFORMANCE_PHASE
    frame['unit'] = _column(frame, 'unit')
    frame['better'] = frame['unit'].map({u: better(u) for u in frame['unit'].dropna().unique()})
    frame['better'] = frame['better'].astype(object).fillna('')
    frame['source'] = str(path)
    # a passing fixture (' ~scope' in its name) without values is not a row, as in ingest
    fixture = frame['display_name'].map({d: ' ~' in d for d in frame['display_name'].dropna().unique()})
    drop = fixture.astype(object).fillna(False).astype(bool) & (frame['result'] == 'pass')
    if drop.any():
        frame = frame[~(drop & frame['pvar'].isna() & frame['value'].isna())].reset_index(drop=True)
    return frame[FIRST_COLUMNS + [c for c in frame.columns if c not in FIRST_COLUMNS]]


def frame_from_perflogs(paths):
    '''Every perflog under ``paths`` (files or directories) -> one frame.'''
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise InputError('<arguments>', 'no perflog given')
    frames = [frame_from_perflog(f) for p in paths for f in perflog_files(p)]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=FIRST_COLUMNS)
    return pd.concat(frames, ignore_index=True)
