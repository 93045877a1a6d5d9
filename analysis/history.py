"""Result history: a store of tidy-frame values across sessions, trends and change points.

The store
---------
One SQLite file (stdlib ``sqlite3``; default ``.cache/history.sqlite``, chosen by
the command line).  Why SQLite rather than ReFrame's own results storage or
Parquet files of the tidy frame:

* ``add`` must be atomic and idempotent.  SQLite gives both for free: every
  ``add`` is one transaction (all of its sessions or none; a crash or a bad
  row leaves the store as it was), and the session uuid is a UNIQUE key, so
  re-adding a run report adds nothing.  A new store is built in a temporary
  file and linked into place, so not even an empty store is left behind by a
  failed first ``add``.  Parquet would need a file per add plus our own
  de-duplication and locking.
* ``history show CHECK`` reads one check out of thousands of sessions:
  indexes on (check, pvar) and on the series id answer that without reading
  the rest.  Readers never block each other; a writer takes the lock for the
  few hundred milliseconds of its transaction (busy timeout 30 s).
* ReFrame's results storage (``--store-results``, also SQLite) holds whole
  JSON reports per session and is written only by ReFrame itself while it
  runs: it cannot take reports from other machines or older runs, and every
  query would re-parse the JSON.  ``analysis/`` also must not import ReFrame.
* It is one portable file, readable by any SQLite client (``sqlite3`` CLI,
  pandas ``read_sql``), with a ``meta`` table naming the schema version.

Tables: ``meta(key, value)``; ``sessions`` (uuid UNIQUE, start time, hostname,
user, cmdline, ReFrame version, source path, tags as JSON, when added);
``series`` (system, partition, environ, check, case, pvar, unit UNIQUE;
better); ``results`` (session id, series id, run index, result, value,
num_nodes, usable, completion time): one row per value of the tidy frame,
failed cases included (pvar '' when a failed case reported no value);
``points`` (series id, session id, median, runs): the trends, computed once
when the session is added, so that ``show`` reads one number per session and
series.

Tags are every ``session_info`` key ReFrame does not reserve, i.e. what
``reframe --session-extras k=v,...`` added: ``hpcval_campaign``,
``hpcval_git``, and the user's own labels (``os_patch=...``,
``image_openmpi=<digest>``).  Secrets are redacted before anything is stored,
by key name and by value (analysis/redact.py): tags, the command line, hosts.

Trends and change points
------------------------
A series is one (system, partition, environ, check, case, pvar, unit); its
trend is the median of the usable values of each session, ordered by the
session's start time.  Change points are found on log(median) (so the noise
scale and the threshold are relative, whatever the unit) by ``ruptures``:
``KernelCPD(kernel='linear')`` -- exact PELT search (Killick et al. 2012) for
the least-squares (``l2``) cost, ruptures' C implementation -- with

* minimum segment length ``MIN_SEGMENT`` = 3 sessions (no change point from
  one odd session);
* penalty ``pen = PENALTY_BETA * sigma^2 * log(n)`` (the BIC-type penalty
  that ruptures' documentation gives for the l2 cost, ``log(n) * sigma^2``,
  made four times stricter), with ``sigma`` the robust noise of the series:
  1.4826 * MAD of the first differences / sqrt(2), which a level shift
  barely moves (unlike the MAD of the values themselves).  Measured on
  lognormal noise of 5 % CoV per session median, 200 seeds: pure noise of
  120 sessions gives no change point in 100 % of series (beta 3: 98 %,
  beta 2: 95 %), and a 20 % step is found within 2 sessions of its place in
  100 % (30 sessions: 96 % found, 4 % false alarms);
* then every change whose segment medians differ by less than the practical
  threshold (default ``DEFAULT_THRESHOLD`` = 5 %) is merged away, smallest
  first, recomputing the neighbouring medians each time: a statistically
  clear but practically irrelevant shift is no change point.

Each change point names the session it starts at (uuid, start time,
hostname, tags and the tags that differ from the session before), the
medians of the segments before and after, and the relative shift
after/before - 1, judged by the pvar's ``better`` direction.
"""
import base64
import datetime as _dt
import json
import math
import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from analysis.errors import InputError
from analysis.redact import REDACTED, SECRET, redact, redact_text  # noqa: F401 (REDACTED, SECRET: kept importable)
from analysis import outdir as _outdir
from analysis.outdir import write_csv as _write_csv
from analysis.textfmt import fmt as _fmt, markdown_env as _markdown_env, md as _md_text, pct as _pct, slug as _slug
from analysis.textfmt import printable_figure as _printable_figure

SCHEMA_VERSION = '1'
DEFAULT_THRESHOLD = 0.05
MIN_SEGMENT = 3
PENALTY_BETA = 4.0
NOISE_FLOOR = 1e-4          # relative: a noise-free series still gets a finite penalty
MAX_FIGURES = 40
BUSY_TIMEOUT_S = 30.0      # $HPCVAL_HISTORY_BUSY_TIMEOUT (seconds) overrides it

# session_info keys of the ReFrame run report schema (reframe/schemas/runreport.json,
# 4.x): the rest are --session-extras, the session's tags
RESERVED_SESSION_KEYS = frozenset({
    'cmdline', 'config_files', 'data_version', 'hostname', 'log_files', 'num_aborted',
    'num_cases', 'num_failures', 'num_skipped', 'prefix_output', 'prefix_stage',
    'session_uuid', 'time_elapsed', 'time_end', 'time_end_unix', 'time_start',
    'time_start_unix', 'user', 'uuid', 'version', 'workdir',
})
TEMPLATES = Path(__file__).with_name('templates')
SERIES_KEY = ['system', 'partition', 'environ', 'check', 'case', 'pvar', 'unit']

_SCHEMA = '''
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    time_start REAL NOT NULL,            -- unix seconds
    hostname TEXT, user TEXT, cmdline TEXT, reframe_version TEXT, data_version TEXT,
    num_cases INTEGER, num_failures INTEGER,
    source TEXT, tags TEXT NOT NULL,     -- tags: JSON object
    added TEXT NOT NULL
);
CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    system TEXT NOT NULL, partition TEXT NOT NULL, environ TEXT NOT NULL,
    check_name TEXT NOT NULL, case_name TEXT NOT NULL, pvar TEXT NOT NULL, unit TEXT NOT NULL,
    better TEXT NOT NULL DEFAULT '',
    UNIQUE (system, partition, environ, check_name, case_name, pvar, unit)
);
CREATE TABLE results (
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    series_id INTEGER NOT NULL REFERENCES series(id),
    run_index INTEGER, result TEXT, value REAL, num_nodes REAL, usable INTEGER NOT NULL,
    completion_time TEXT
);
CREATE TABLE points (                    -- the trends: median per series and session, made by add
    series_id INTEGER NOT NULL REFERENCES series(id),
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    median REAL NOT NULL, runs INTEGER NOT NULL,
    PRIMARY KEY (series_id, session_id)
) WITHOUT ROWID;
CREATE INDEX series_check_pvar ON series (check_name, pvar);
CREATE INDEX results_series ON results (series_id);
CREATE INDEX results_session ON results (session_id);
CREATE INDEX sessions_time ON sessions (time_start);
'''


# ----------------------------------------------------------------------------- sessions and tags

def _text(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ''
    return str(v)


def tags_of(session_info):
    '''The session's tags: every session_info key ReFrame does not reserve, values as text,
    secrets redacted (by key name and by value, analysis.redact).'''
    tags = {}
    for k, v in (session_info or {}).items():
        if k in RESERVED_SESSION_KEYS:
            continue
        v = redact(v, str(k))
        if isinstance(v, (dict, list)):
            v = json.dumps(v, sort_keys=True)
        tags[str(k)] = _text(v)
    return dict(sorted(tags.items()))


def _clean(v):
    '''A session field as stored and shown: text, credentials redacted (the command line's -S X.password=...).'''
    return redact_text(_text(v))


def format_tags(tags, skip=()):
    return '; '.join(f'{k}={v}' for k, v in (tags or {}).items() if k not in skip)


def _session_info(source):
    '''session_info of a run report file (ingest keeps only hpcval_* extras); None for perflogs.'''
    try:
        data = orjson.loads(Path(source).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        try:
            data = json.loads(Path(source).read_text())     # NaN/Infinity as Python writes them
        except (OSError, ValueError):
            return None
    info = data.get('session_info') if isinstance(data, dict) else None
    return info if isinstance(info, dict) else None


def _unix(info):
    t = info.get('time_start_unix')
    if isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t):
        return float(t)
    text = info.get('time_start')
    if text:
        for fmt in ('%Y%m%dT%H%M%S%z', '%Y-%m-%dT%H:%M:%S%z'):
            try:
                return _dt.datetime.strptime(str(text), fmt).timestamp()
            except ValueError:
                pass
        stamp = pd.to_datetime(str(text), utc=True, errors='coerce')
        if not pd.isna(stamp):
            return stamp.timestamp()
    return math.nan


def _completion_unix(values):
    stamps = pd.to_datetime(pd.Series(values, dtype=object).astype(str), utc=True, errors='coerce',
                            format='mixed')
    stamps = stamps.dropna()
    return stamps.min().timestamp() if not stamps.empty else math.nan


@dataclass
class Prepared:
    '''A Dataset cut into what the store holds.'''
    sessions: list            # dicts, one per distinct session uuid, input order
    rows: pd.DataFrame        # value rows with a 'session_uuid' key
    duplicates: list = field(default_factory=list)   # (source, uuid) seen twice in the input


def prepare(dataset):
    '''Dataset -> sessions (with tags read from each run report) and value rows.

    InputError names the file when a session cannot be placed in time or has
    no identity (a perflog without session uuids).
    '''
    frame = dataset.frame
    known = {}
    for s in dataset.sessions.to_dict('records') if not dataset.sessions.empty else []:
        known.setdefault(str(s.get('source')), s)
    sources = [str(s) for s in dataset.sources]
    src_col = frame['source'].astype(object).map(str) if len(frame) else pd.Series(dtype=object)
    sessions, seen, duplicates, keep_sources, perflog_sources = [], {}, [], {}, set()
    for src in sources:
        s = known.get(src)
        if s is not None:                      # a run report: one session per file
            info = _session_info(src) or {}
            uuid = _text(info.get('uuid') or s.get('session_uuid'))
            if not uuid:
                raise InputError(src, 'run report without a session uuid (session_info.uuid)')
            if uuid in seen:
                duplicates.append((src, uuid))
                continue
            t = _unix(info) if info else _unix({'time_start': s.get('time_start')})
            if not math.isfinite(t):
                t = _completion_unix(frame.loc[src_col == src, 'completion_time'])
            if not math.isfinite(t):
                raise InputError(src, 'cannot tell when this session ran (no session_info.time_start)')
            tags = tags_of(info) if info else tags_of({k: v for k, v in s.items() if str(k).startswith('hpcval_')})
            seen[uuid] = src
            keep_sources[src] = uuid
            sessions.append({
                'uuid': uuid, 'time_start': t, 'hostname': _clean(info.get('hostname', s.get('hostname'))),
                'user': _clean(info.get('user', s.get('user'))),
                'cmdline': _clean(info.get('cmdline', s.get('cmdline'))),
                'reframe_version': _clean(info.get('version', s.get('reframe_version'))),
                'data_version': _clean(info.get('data_version', s.get('data_version'))),
                'num_cases': info.get('num_cases'), 'num_failures': info.get('num_failures'),
                'source': src, 'tags': tags})
            continue
        # a perflog: its rows say which session they belong to, or nothing can
        part = frame[src_col == src]
        if part.empty:
            continue
        uuids = part['session_uuid'].astype(object).map(_text)
        if (uuids == '').any():
            raise InputError(src, 'perflog lines without a session uuid: history needs ReFrame run '
                                  'reports (report.json), or perflogs that log check_session_uuid')
        for uuid, g in part.groupby(uuids.to_numpy(), sort=False):
            if uuid in seen:
                if seen[uuid] != src:
                    duplicates.append((src, uuid))
                continue
            t = _completion_unix(g['completion_time'])
            if not math.isfinite(t):
                raise InputError(src, f'session {uuid}: no completion times to place it in time')
            seen[uuid] = src
            perflog_sources.add(src)
            sessions.append({'uuid': uuid, 'time_start': t, 'hostname': '', 'user': '', 'cmdline': '',
                             'reframe_version': '', 'data_version': '', 'num_cases': None,
                             'num_failures': None, 'source': src, 'tags': {}})
    if len(frame):
        session_of = src_col.map(keep_sources)
        if perflog_sources:
            # a perflog row belongs to its own session uuid, when this file was the first to bring it
            uu = frame['session_uuid'].astype(object).map(_text)
            own = src_col.isin(perflog_sources) & (uu.map(seen) == src_col)
            session_of = session_of.where(~own, uu)
        keep = session_of.notna()
        rows = frame[keep].assign(session_uuid=session_of[keep].astype(object))
    else:
        rows = frame.assign(session_uuid=pd.Series(dtype=object))
    return Prepared(sessions=sessions, rows=rows, duplicates=duplicates)


# ----------------------------------------------------------------------------- the store

@dataclass
class Added:
    added: list               # session dicts added
    present: list             # uuids already in the store
    rows: int                 # value rows written
    duplicates: list = field(default_factory=list)


def busy_timeout():
    '''Seconds to wait for another process's lock on the store (SQLite's busy timeout).'''
    try:
        return max(0.0, float(os.environ.get('HPCVAL_HISTORY_BUSY_TIMEOUT', BUSY_TIMEOUT_S)))
    except ValueError:
        return BUSY_TIMEOUT_S


def _connect(path):
    con = sqlite3.connect(str(path), timeout=busy_timeout(), isolation_level=None)
    con.execute('PRAGMA foreign_keys = ON')
    return con


def _locked(err):
    '''Whether an SQLite error is a lock held by another connection (after the busy timeout).'''
    name = getattr(err, 'sqlite_errorname', '')
    return name.startswith(('SQLITE_BUSY', 'SQLITE_LOCKED')) or (
        not name and isinstance(err, sqlite3.OperationalError) and 'locked' in str(err))


def _locked_error(path):
    return InputError(path, f'the history store is locked by another process (waited {busy_timeout():g} s); '
                            f'try again when it has finished')


def _check_store(con, path):
    '''InputError unless ``con`` is an hpcval history store of our schema version.'''
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as err:
        if _locked(err):            # a writer's lock is no sign of a foreign file
            raise _locked_error(path) from None
        raise InputError(path, f'not an hpcval history store (SQLite: {err})') from None
    if row is None:
        raise InputError(path, 'not an hpcval history store (no schema_version in its meta table)')
    if row[0] != SCHEMA_VERSION:
        raise InputError(path, f'history store schema version {row[0]!r}; this hpcval reads {SCHEMA_VERSION!r}')


def open_store(path):
    '''An existing store, checked; InputError when absent, corrupt or foreign.'''
    path = Path(path)
    if not path.exists():
        raise InputError(path, 'no history store here (`hpcval history add RUN...` creates it)')
    if not path.is_file():
        raise InputError(path, 'not a file (a history store is one SQLite file)')
    try:
        con = _connect(path)
    except sqlite3.Error as err:
        raise InputError(path, f'cannot open the history store ({err})') from None
    try:
        _check_store(con, path)
    except BaseException:
        con.close()
        raise
    return con


def _texts(rows, col):
    '''A column as text ('' for missing), converting each distinct value once.'''
    if col not in rows.columns:
        return np.full(len(rows), '', dtype=object)
    codes, uniques = pd.factorize(rows[col], use_na_sentinel=True)
    return np.array([_text(u) for u in uniques] + [''], dtype=object)[codes]    # code -1: missing


def _series_frame(rows):
    cols = {c: _texts(rows, c) for c in ['system', 'partition', 'environ', 'check', 'case', 'pvar', 'unit', 'better']}
    return pd.DataFrame(cols, index=rows.index)


def _insert(con, prep, now):
    '''Inside an open transaction: add what is new; returns Added.'''
    uuids = [s['uuid'] for s in prep.sessions]
    present = set()
    for i in range(0, len(uuids), 500):
        chunk = uuids[i:i + 500]
        q = f'SELECT uuid FROM sessions WHERE uuid IN ({",".join("?" * len(chunk))})'
        present.update(r[0] for r in con.execute(q, chunk))
    new = [s for s in prep.sessions if s['uuid'] not in present]
    con.executemany(
        'INSERT INTO sessions (uuid, time_start, hostname, user, cmdline, reframe_version, data_version, '
        'num_cases, num_failures, source, tags, added) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)',
        [(s['uuid'], s['time_start'], s['hostname'], s['user'], s['cmdline'], s['reframe_version'],
          s['data_version'], _int_or_none(s['num_cases']), _int_or_none(s['num_failures']), s['source'],
          json.dumps(s['tags'], sort_keys=True), now) for s in new])
    rows = prep.rows[prep.rows['session_uuid'].isin([s['uuid'] for s in new])] if new else prep.rows.iloc[:0]
    if rows.empty:
        return Added(added=new, present=[u for u in uuids if u in present], rows=0, duplicates=prep.duplicates)
    ids = {}
    new_uuids = [s['uuid'] for s in new]
    for i in range(0, len(new_uuids), 500):
        chunk = new_uuids[i:i + 500]
        q = f'SELECT uuid, id FROM sessions WHERE uuid IN ({",".join("?" * len(chunk))})'
        ids.update(con.execute(q, chunk))
    ser = _series_frame(rows)
    distinct = ser.drop_duplicates(SERIES_KEY).to_numpy().tolist()
    con.executemany(
        'INSERT INTO series (system, partition, environ, check_name, case_name, pvar, unit, better) '
        'VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (system, partition, environ, check_name, case_name, pvar, unit) '
        'DO UPDATE SET better = excluded.better WHERE excluded.better != \'\'', distinct)
    series_ids = {}
    for d in distinct:
        sid = con.execute('SELECT id FROM series WHERE system=? AND partition=? AND environ=? AND check_name=? '
                          'AND case_name=? AND pvar=? AND unit=?', d[:7]).fetchone()[0]
        series_ids[tuple(d[:7])] = sid
    codes = ser.groupby(SERIES_KEY, sort=False).ngroup().to_numpy()
    firsts = ser.drop_duplicates(SERIES_KEY)
    sid_of_code = np.array([series_ids[k] for k in map(tuple, firsts[SERIES_KEY].to_numpy().tolist())], np.int64)
    sid_col = sid_of_code[codes]
    sess_col = rows['session_uuid'].map(ids).to_numpy(np.int64)
    value = pd.to_numeric(rows['value'], errors='coerce').astype(float).to_numpy()
    num_nodes = pd.to_numeric(rows['num_nodes'], errors='coerce').astype(float).to_numpy() \
        if 'num_nodes' in rows.columns else np.full(len(rows), np.nan)
    usable = rows['usable'].astype(bool).to_numpy() if 'usable' in rows.columns else np.isfinite(value)
    run_index = pd.to_numeric(rows['run_index'], errors='coerce').to_numpy() \
        if 'run_index' in rows.columns else np.zeros(len(rows))
    result = _texts(rows, 'result')
    ctime = _texts(rows, 'completion_time')

    def none_nan(x):
        return None if x != x else x
    con.executemany(
        'INSERT INTO results (session_id, series_id, run_index, result, value, num_nodes, usable, completion_time) '
        'VALUES (?,?,?,?,?,?,?,?)',
        zip(sess_col.tolist(), sid_col.tolist(), [None if r != r else int(r) for r in run_index.tolist()],
            list(result), map(none_nan, value.tolist()), map(none_nan, num_nodes.tolist()),
            usable.astype(int).tolist(), list(ctime)))
    pts = medians(sess_col, sid_col, value, usable)
    con.executemany('INSERT INTO points (series_id, session_id, median, runs) VALUES (?,?,?,?)',
                    zip(pts['series_id'].tolist(), pts['session_id'].tolist(), pts['median'].tolist(),
                        pts['runs'].tolist()))
    return Added(added=new, present=[u for u in uuids if u in present], rows=len(rows),
                 duplicates=prep.duplicates)


def _int_or_none(v):
    try:
        return None if v is None or v != v else int(v)
    except (TypeError, ValueError):
        return None


def add(store, dataset, prepared=None):
    '''Add the sessions of ``dataset`` to the store (created if absent), all or nothing.

    Sessions already in the store (same uuid) are skipped: adding a run twice
    changes nothing.  Returns Added(added, present, rows).
    '''
    prep = prepared or prepare(dataset)
    store = Path(store)
    now = _dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    if not store.exists() and not store.is_symlink():
        result = _create_with(store, prep, now)
        if result is not None:
            return result
    con = open_store(store)
    try:
        con.execute('BEGIN IMMEDIATE')
        try:
            result = _insert(con, prep, now)
            con.execute('COMMIT')
        except BaseException:
            con.execute('ROLLBACK')
            raise
    except sqlite3.Error as err:
        if _locked(err):
            raise _locked_error(store) from None
        raise InputError(store, f'history store write failed ({err}); nothing was added') from None
    finally:
        con.close()
    return result


def _create_with(store, prep, now):
    '''A new store: built beside its destination, then linked into place (None if one appeared meanwhile).'''
    store.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{store.name}.tmp-', dir=store.parent)
    os.close(fd)
    try:
        con = _connect(tmp)
        try:
            con.execute('BEGIN')
            for stmt in filter(str.strip, _SCHEMA.split(';')):
                con.execute(stmt)
            con.executemany('INSERT INTO meta (key, value) VALUES (?, ?)',
                            [('schema_version', SCHEMA_VERSION), ('created', now), ('kind', 'hpcval history')])
            result = _insert(con, prep, now)
            con.execute('COMMIT')
        finally:
            con.close()
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, store)          # never replaces a store another add created meanwhile
        except FileExistsError:
            return None
        return result
    finally:
        os.unlink(tmp)


def checks(store):
    '''Check names in the store.'''
    con = open_store(store)
    try:
        return [r[0] for r in con.execute('SELECT DISTINCT check_name FROM series ORDER BY check_name')]
    except sqlite3.DatabaseError as err:
        if _locked(err):            # a writer took the lock after the store was checked
            raise _locked_error(store) from None
        raise InputError(store, f'cannot read the history store ({err})') from None
    finally:
        con.close()


@dataclass
class History:
    points: pd.DataFrame      # per series and session: median of the usable values (the trend), time-ordered
    sessions: pd.DataFrame    # every session of the store, tags as dicts
    store: str = ''


def _selection(check, pvar):
    where, params = ["s.pvar != ''"], []
    if check:
        where.append('s.check_name GLOB ?')
        params.append(check)
    if pvar:
        where.append('s.pvar GLOB ?')
        params.append(pvar)
    return ' AND '.join(where), params


def _read(store, check, pvar, table, columns):
    '''(series, rows of ``table`` for those series, sessions) from the store.'''
    con = open_store(store)
    try:
        where, params = _selection(check, pvar)
        series = pd.read_sql_query(
            'SELECT s.id AS series_id, s.system, s.partition, s.environ, s.check_name AS "check", '
            's.case_name AS "case", s.pvar, s.unit, s.better FROM series s WHERE ' + where, con, params=params)
        sessions = pd.read_sql_query(
            'SELECT id AS session_id, uuid AS session_uuid, time_start, hostname, user, cmdline, '
            'reframe_version, num_cases, num_failures, source, tags, added FROM sessions ORDER BY time_start, uuid',
            con)
        ids, parts = series['series_id'].tolist(), []
        for i in range(0, max(len(ids), 1), 900):
            chunk = ids[i:i + 900]
            cur = con.execute(f'SELECT {", ".join(columns)} FROM {table} '
                              f'WHERE series_id IN ({",".join("?" * len(chunk))})', chunk)
            parts.append(pd.DataFrame(cur.fetchall(), columns=columns))
        rows = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    except sqlite3.DatabaseError as err:
        if _locked(err):
            raise _locked_error(store) from None
        raise InputError(store, f'cannot read the history store ({err})') from None
    finally:
        con.close()
    # a store written before redaction was complete must not show what it holds either
    sessions['tags'] = sessions['tags'].map(lambda t: redact(json.loads(t)) if t else {})
    for col in ('hostname', 'user', 'cmdline', 'source'):
        sessions[col] = sessions[col].map(redact_text)
    sessions['time'] = pd.to_datetime(sessions['time_start'], unit='s', utc=True)
    return series, rows, sessions


POINT_COLUMNS = ['series_id', 'system', 'partition', 'environ', 'check', 'case', 'pvar', 'unit', 'better',
                 'session_id', 'session_uuid', 'time_start', 'time', 'median', 'runs']


def _attach(points, series, sessions):
    '''Per-session medians with their series attributes and session times, time-ordered per series.'''
    points = points.merge(series, on='series_id').merge(
        sessions[['session_id', 'session_uuid', 'time_start', 'time']], on='session_id')
    points = points.sort_values(['check', 'case', 'pvar', 'system', 'partition', 'environ', 'series_id',
                                 'time_start', 'session_uuid'], kind='stable').reset_index(drop=True)
    return points[POINT_COLUMNS]


def load(store, check=None, pvar=None):
    '''The trends of the store (of checks / pvars matching glob patterns): History(points, sessions).

    Per-session medians are computed once, when a session is added (the
    ``points`` table): ``show`` on 1 000 sessions reads 40 000 medians, not
    160 000 values.
    '''
    series, points, sessions = _read(store, check, pvar, 'points', ['series_id', 'session_id', 'median', 'runs'])
    points['median'] = points['median'].astype(float)
    return History(points=_attach(points, series, sessions), sessions=sessions, store=str(store))


def values(store, check=None, pvar=None):
    '''Every value row of the store (failed cases included), with series attributes and session times.'''
    cols = ['session_id', 'series_id', 'run_index', 'result', 'value', 'num_nodes', 'usable']
    series, rows, sessions = _read(store, check, pvar, 'results', cols)
    rows['value'] = pd.to_numeric(rows['value'], errors='coerce').astype(float)
    rows['usable'] = rows['usable'].astype(bool)
    return rows.merge(series, on='series_id').merge(
        sessions[['session_id', 'session_uuid', 'time_start', 'time']], on='session_id')


# ----------------------------------------------------------------------------- trends and change points

def medians(session_ids, series_ids, value, usable):
    '''(series_id, session_id, median, runs) of the usable values: a session's point in each trend.'''
    ok = np.asarray(usable, bool) & np.isfinite(np.asarray(value, float))
    f = pd.DataFrame({'series_id': np.asarray(series_ids)[ok], 'session_id': np.asarray(session_ids)[ok],
                      'value': np.asarray(value, float)[ok]})
    g = f.groupby(['series_id', 'session_id'], sort=False)['value']
    return pd.DataFrame({'median': g.median(), 'runs': g.size()}).reset_index()


def trends(frame):
    '''Value rows (as ``values`` returns) -> per series and session: median of the usable values, time-ordered.'''
    pts = medians(frame['session_id'], frame['series_id'], frame['value'], frame['usable'])
    series = frame.drop_duplicates('series_id')[['series_id', 'system', 'partition', 'environ', 'check', 'case',
                                                  'pvar', 'unit', 'better']]
    sessions = frame.drop_duplicates('session_id')[['session_id', 'session_uuid', 'time_start', 'time']]
    return _attach(pts, series, sessions)


def noise_sigma(z):
    '''Robust noise of a series: 1.4826 * MAD of the first differences / sqrt(2).'''
    d = np.diff(np.asarray(z, float))
    if len(d) == 0:
        return 0.0
    mad = np.median(np.abs(d - np.median(d)))
    sigma = 1.4826 * mad / math.sqrt(2)
    if sigma == 0:                    # quantised values: fall back on the plain spread
        sigma = float(np.std(d)) / math.sqrt(2)
    return float(sigma)


@dataclass
class ChangePoint:
    index: int                # position in the series of the first session after the change
    before: float             # median of the segment before
    after: float              # median of the segment after
    shift: float              # after / before - 1
    n_before: int             # sessions in the segment before
    n_after: int


def change_points(values, threshold=DEFAULT_THRESHOLD, min_size=MIN_SEGMENT, beta=PENALTY_BETA):
    '''Change points of a series of per-session medians (time-ordered), see the module doc.'''
    import ruptures
    y = np.asarray(values, dtype=float)
    n = len(y)
    if n < 2 * min_size or not np.isfinite(y).all() or (y <= 0).any():
        return []
    z = np.log(y)
    sigma = max(noise_sigma(z), NOISE_FLOOR)
    pen = beta * sigma * sigma * math.log(n)
    algo = ruptures.KernelCPD(kernel='linear', min_size=min_size).fit(z.reshape(-1, 1))
    bkps = [int(b) for b in algo.predict(pen=pen)[:-1]]
    while True:
        edges = [0] + bkps + [n]
        meds = [float(np.median(y[a:b])) for a, b in zip(edges[:-1], edges[1:])]
        shifts = [meds[i + 1] / meds[i] - 1.0 for i in range(len(bkps))]
        small = [i for i, s in enumerate(shifts) if abs(s) < threshold]
        if not small:
            break
        del bkps[min(small, key=lambda i: abs(shifts[i]))]
    return [ChangePoint(index=b, before=meds[i], after=meds[i + 1], shift=shifts[i],
                        n_before=edges[i + 1] - edges[i], n_after=edges[i + 2] - edges[i + 1])
            for i, b in enumerate(bkps)]


def verdict(shift, better):
    if better == 'lower':
        return 'regression' if shift > 0 else 'improvement'
    if better == 'higher':
        return 'regression' if shift < 0 else 'improvement'
    return 'change'


def _tag_diff(before, after):
    keys = sorted(set(before) | set(after))
    return '; '.join(f'{k}: {before.get(k, "-")} -> {after.get(k, "-")}' for k in keys
                     if before.get(k) != after.get(k))


def detect_all(series, threshold=DEFAULT_THRESHOLD, min_size=MIN_SEGMENT, beta=PENALTY_BETA):
    '''change_points of each series (a list of arrays): the default ``detect`` of analyse.'''
    return [change_points(y, threshold, min_size, beta) for y in series]


def analyse(hist, threshold=DEFAULT_THRESHOLD, min_size=MIN_SEGMENT, beta=PENALTY_BETA, detect=None):
    '''History -> (trend points with a 'segment_median' column, change-point table, per-series table).

    ``detect(list of arrays, threshold, min_size, beta) -> list of lists of ChangePoint``
    may run the detection elsewhere (the command line uses a process that
    imported ruptures while the store was read); default detect_all.
    '''
    points = hist.points
    sess = hist.sessions.set_index('session_uuid')
    tags = sess['tags'].to_dict()
    rows, series_rows = [], []
    seg_median = np.full(len(points), np.nan)
    starts = np.flatnonzero(np.r_[True, points['series_id'].to_numpy()[1:] != points['series_id'].to_numpy()[:-1]]) \
        if len(points) else np.array([], dtype=int)
    ends = np.r_[starts[1:], len(points)] if len(points) else np.array([], dtype=int)
    med_all = points['median'].to_numpy(float)
    uuid_all = points['session_uuid'].to_numpy(object)
    bounds = list(zip(starts.tolist(), ends.tolist()))
    found = (detect or detect_all)([med_all[a:b] for a, b in bounds], threshold, min_size, beta)
    for (a, b), cps in zip(bounds, found):
        y = med_all[a:b]
        first = points.iloc[a]
        edges = [0] + [c.index for c in cps] + [len(y)]
        for lo, hi in zip(edges[:-1], edges[1:]):
            seg_median[a + lo:a + hi] = np.median(y[lo:hi])
        for c in cps:
            u, prev = uuid_all[a + c.index], uuid_all[a + c.index - 1]
            s = sess.loc[u]
            rows.append({
                'series_id': int(first['series_id']), 'check': first['check'], 'case': first['case'],
                'pvar': first['pvar'], 'unit': first['unit'], 'better': first['better'],
                'system': first['system'], 'partition': first['partition'], 'environ': first['environ'],
                'session_uuid': u, 'session_time': s['time'].strftime('%Y-%m-%d %H:%M:%S UTC'),
                'hostname': s['hostname'], 'tags': format_tags(tags.get(u)),
                'tags_changed': _tag_diff(tags.get(prev) or {}, tags.get(u) or {}),
                'before': c.before, 'after': c.after, 'shift': c.shift, 'verdict': verdict(c.shift, first['better']),
                'sessions_before': c.n_before, 'sessions_after': c.n_after, 'previous_session_uuid': prev,
                'source': s['source'],
            })
        last = points.iloc[b - 1]
        series_rows.append({
            'series_id': int(first['series_id']), 'check': first['check'], 'case': first['case'],
            'pvar': first['pvar'], 'unit': first['unit'], 'better': first['better'], 'system': first['system'],
            'partition': first['partition'], 'environ': first['environ'], 'sessions': b - a,
            'first': first['time'].strftime('%Y-%m-%d %H:%M'), 'last': last['time'].strftime('%Y-%m-%d %H:%M'),
            'last_median': float(last['median']), 'noise': noise_sigma(np.log(y[y > 0])) if (y > 0).sum() > 2 else math.nan,
            'change_points': len(cps), 'largest_shift': max((c.shift for c in cps), key=abs, default=math.nan),
        })
    points = points.assign(segment_median=seg_median)
    cp_cols = ['check', 'case', 'pvar', 'unit', 'better', 'verdict', 'shift', 'before', 'after', 'session_uuid',
               'session_time', 'hostname', 'tags', 'tags_changed', 'sessions_before', 'sessions_after',
               'previous_session_uuid', 'system', 'partition', 'environ', 'source', 'series_id']
    cps = pd.DataFrame(rows, columns=cp_cols)
    if not cps.empty:
        cps = cps.assign(_abs=cps['shift'].abs()).sort_values(
            ['_abs', 'check', 'case', 'pvar'], ascending=[False, True, True, True]).drop(columns='_abs')
        cps = cps.reset_index(drop=True)
    series = pd.DataFrame(series_rows, columns=[
        'series_id', 'check', 'case', 'pvar', 'unit', 'better', 'system', 'partition', 'environ', 'sessions',
        'first', 'last', 'last_median', 'noise', 'change_points', 'largest_shift'])
    return points, cps, series


# ----------------------------------------------------------------------------- figures and the report

def _series_label(r, multi):
    label = f'{r["case"]} · {r["pvar"]}'
    if multi:
        label += f' ({r["system"]}:{r["partition"]}+{r["environ"]})'
    return label


def _date_label(x, _pos=None, fmt='%Y-%m-%d'):
    return _dt.datetime.fromtimestamp(x, _dt.timezone.utc).strftime(fmt)


def _date_format(span_s):
    '''A tick label format that tells the ticks of a span of ``span_s`` seconds apart.'''
    return '%Y-%m-%d' if span_s > 4 * 86400 else '%m-%d %H:%M' if span_s > 2 * 3600 else '%H:%M:%S'


@dataclass
class TrendFigure:
    '''What one trend figure shows: plain arrays, so that worker processes can draw it.'''
    title: str
    ylabel: str
    t: np.ndarray             # session start, unix seconds
    median: np.ndarray
    segment: np.ndarray       # median of the segment each session falls in
    changes: list             # (t, verdict, shift, session uuid)

    @classmethod
    def of(cls, pts, cps, title):
        t = pts['time_start'].to_numpy(float)
        uuids = pts['session_uuid'].to_numpy(object)
        changes = [(float(t[np.flatnonzero(uuids == u)[0]]), v, float(sh), u)
                   for u, v, sh in zip(cps['session_uuid'], cps['verdict'], cps['shift'])]
        return cls(title=title, ylabel=f'{pts["pvar"].iloc[0]} ({pts["unit"].iloc[0]})',
                   t=t, median=pts['median'].to_numpy(float), segment=pts['segment_median'].to_numpy(float),
                   changes=changes)

    def figure(self):
        '''Per-session medians over time (blue), segment medians (orange), change points as dashed
        vertical lines (red: regression, green: improvement), each named in the title.

        Drawn for speed (40 of these for 1 000 sessions in a few seconds; text is
        most of the cost): a fixed layout instead of constrained layout, plain
        numbers (unix seconds) on the time axis with few, one-line date labels,
        no legend (the report's caption says what the colours are).
        '''
        from functools import partial
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, MaxNLocator
        fig = Figure(figsize=(8, 3.2))
        ax = fig.add_axes((0.085, 0.13, 0.895, 0.76))
        t, seg = self.t, self.segment
        # markers while they can be told apart (and cost little: 50 ms for 1 000 of them)
        ax.plot(t, self.median, '.-' if len(t) <= 200 else '-', lw=0.6 if len(t) <= 200 else 0.8, ms=3,
                color='#1565c0')
        cut = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1], True])
        ax.hlines(seg[cut[:-1]], t[cut[:-1]], t[np.minimum(cut[1:], len(t) - 1)], colors='#ef6c00', lw=1.6)
        for x, verdict_, _shift, _uuid in self.changes:
            ax.axvline(x, color={'regression': '#c62828', 'improvement': '#2e7d32'}.get(verdict_, '#6a1b9a'),
                       ls='--', lw=1.2)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_major_formatter(FuncFormatter(partial(_date_label, fmt=_date_format(t[-1] - t[0] if len(t) else 0))))
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.tick_params(labelsize='small')
        ax.set_ylabel(self.ylabel[:40], fontsize='small')
        title = self.title if len(self.title) <= 70 else self.title[:67] + '...'
        if self.changes:
            title += ': ' + ', '.join(f'{sh:+.1%} at {u[:8]}' for _x, _v, sh, u in self.changes[:3])
            title += ' ...' if len(self.changes) > 3 else ''
        ax.set_title(title, fontsize='medium')
        ax.grid(True, alpha=0.3)
        return fig

    def png(self):
        return _png(self.figure())


def trend_figure(pts, cps, title):
    '''The matplotlib Figure of one series' trend (see TrendFigure).'''
    return TrendFigure.of(pts, cps, title).figure()


def draw_all(specs):
    '''PNG bytes of each TrendFigure, one after the other: the default ``draw`` of render.'''
    return [spec.png() for spec in specs]


# The report machinery of analysis/report.py, in the few lines history needs:
# importing that module pulls in scipy.stats and the whole analysis (2 s of
# the 10 s that `history show` on 1 000 sessions may take).

@dataclass
class Report:
    title: str
    summary: dict
    tables: dict = field(default_factory=dict)     # name -> DataFrame (written as CSV)
    figures: dict = field(default_factory=dict)    # name -> (caption, TrendFigure or Figure)
    sessions: pd.DataFrame = None
    sources: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def _md(value):
    '''Text from a run as literal Markdown (analysis.textfmt.md): no cell or line breaks, no markup.'''
    return _md_text(value)


def _env(autoescape=True):
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(['html', 'j2']) if autoescape else False,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(fmt=_fmt, pct1=_pct, slug=_slug, md=_md)
    return env


def _png(fig):
    import io
    buf = io.BytesIO()
    _printable_figure(fig)      # names from the runs: no control character drawn or warned about
    # zlib level 1: a third bigger than the default 6, but 25 ms less per figure
    fig.savefig(buf, format='png', dpi=80, metadata={'Software': None}, pil_kwargs={'compress_level': 1})
    return buf.getvalue()


def build(hist, threshold=DEFAULT_THRESHOLD, max_figures=MAX_FIGURES, title='hpcval history', selection='',
          detect=None):
    '''History -> Report (tables, figures to draw; nothing written yet).'''
    points, cps, series = analyse(hist, threshold, detect=detect)
    used = hist.sessions[hist.sessions['session_uuid'].isin(set(points['session_uuid']))] \
        if not points.empty else hist.sessions.iloc[:0]
    multi = series[['system', 'partition', 'environ']].drop_duplicates().shape[0] > 1 if not series.empty else False
    # figures: series with change points first (largest shift first), then the rest in order
    order = []
    if not cps.empty:
        order += list(dict.fromkeys(cps['series_id'].tolist()))
    order += [s for s in series['series_id'].tolist() if s not in set(order)]
    shown = order[:max_figures]
    names, figs = {}, {}
    by_series = dict(tuple(points.groupby('series_id', sort=False))) if not points.empty else {}
    info = series.set_index('series_id')
    for sid in shown:
        r = info.loc[sid]
        name = f'trend_{sid}_{_slug(r["case"])[:40]}_{_slug(r["pvar"])[:20]}'
        names[sid] = name
        label = _series_label(r, multi)
        figs[name] = (label, TrendFigure.of(by_series[sid], cps[cps['series_id'] == sid], label))
    series = series.assign(figure=series['series_id'].map(lambda s: names.get(s, '')))
    cps = cps.assign(figure=cps['series_id'].map(lambda s: names.get(s, '')))
    sessions = used.assign(time=used['time'].dt.strftime('%Y-%m-%d %H:%M:%S UTC'),
                           tags=used['tags'].map(format_tags)).drop(columns=['session_id', 'time_start'])
    regress = int((cps['verdict'] == 'regression').sum()) if not cps.empty else 0
    summary = {
        'sessions': int(points['session_uuid'].nunique()) if not points.empty else 0,
        'sessions_in_store': len(hist.sessions), 'series': len(series), 'change_points': len(cps),
        'regressions': regress, 'improvements': int((cps['verdict'] == 'improvement').sum()) if not cps.empty else 0,
        'first': points['time'].min().strftime('%Y-%m-%d %H:%M UTC') if not points.empty else '',
        'last': points['time'].max().strftime('%Y-%m-%d %H:%M UTC') if not points.empty else '',
        'figures': len(figs), 'threshold': threshold,
    }
    rep = Report(title=title, summary=summary, sessions=sessions, sources=[hist.store])
    rep.tables['change_points'] = cps
    rep.tables['series'] = series
    rep.tables['trends'] = points.drop(columns=['session_id', 'time_start'])
    rep.tables['sessions'] = sessions
    rep.figures = figs
    cp_uuids = set(cps['session_uuid']) if not cps.empty else set()
    rep.extra.update(kind='history', store=hist.store, selection=selection, min_segment=MIN_SEGMENT,
                     beta=PENALTY_BETA, cp_sessions=sessions[sessions['session_uuid'].isin(cp_uuids)],
                     max_figures=max_figures)
    return rep


def render(rep, outdir, draw=None, inputs=()):
    '''Write a history Report to ``outdir`` atomically (as analysis.report.render); returns index.html.

    ``draw(list of TrendFigure) -> list of PNG bytes`` may draw elsewhere (the
    command line uses one process per core); default draw_all.
    '''
    with _outdir.writing(outdir, inputs, kind='history') as tmp:
        (tmp / 'tables').mkdir()
        (tmp / 'figures').mkdir()
        names = list(rep.figures)
        specs = [rep.figures[n][1] for n in names]
        pngs = [_png(s) if not isinstance(s, TrendFigure) else None for s in specs]   # a Figure as is
        todo = [i for i, p in enumerate(pngs) if p is None]
        for i, png in zip(todo, (draw or draw_all)([specs[i] for i in todo])):
            pngs[i] = png
        embedded = {}
        for name, png in zip(names, pngs):
            (tmp / 'figures' / f'{name}.png').write_bytes(png)
            embedded[name] = (rep.figures[name][0], base64.b64encode(png).decode('ascii'))
        for name, df in rep.tables.items():
            _write_csv(df, tmp / 'tables' / f'{name}.csv')
        ctx = {'rep': rep, 'figures': embedded, 'tables': rep.tables, 'pct': _pct,
               'generated': _dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}
        (tmp / 'index.html').write_text(_env().get_template('history.html.j2').render(**ctx))
        (tmp / 'report.md').write_text(_markdown_env(_env(autoescape=False)).get_template('history.md.j2').render(**ctx))
    return Path(outdir) / 'index.html'
