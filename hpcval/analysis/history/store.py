"""The history store: one SQLite file of values, series, sessions and trend points.

See the package doc for the tables and why SQLite.  ``add`` is one
transaction; a new store is built in a temporary file and linked into place.
"""
import datetime as _dt
import json
import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hpcval.errors import InputError
from hpcval.analysis.history.sessions import SERIES_KEY, prepare, text as _text
from hpcval.redact import redact, redact_text

SCHEMA_VERSION = '1'
BUSY_TIMEOUT_S = 30.0      # $HPCVAL_HISTORY_BUSY_TIMEOUT (seconds) overrides it

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


def _store_error(path, err, fault):
    '''The error to raise for an SQLite failure: the lock another process holds,
    else InputError(path, fault).'''
    return _locked_error(path) if _locked(err) else InputError(path, fault)


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
        # a writer's lock is no sign of a foreign file
        raise _store_error(path, err, f'not an hpcval history store (SQLite: {err})') from None
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
        raise _store_error(store, err, f'history store write failed ({err}); nothing was added') from None
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
        # a writer may have taken the lock after the store was checked
        raise _store_error(store, err, f'cannot read the history store ({err})') from None
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
        raise _store_error(store, err, f'cannot read the history store ({err})') from None
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
