"""A run report's sessions as the history keeps them: tags (every session_info key
ReFrame does not reserve, secrets redacted), start times, and the values of the
tidy frame prepared for the store."""
import datetime as _dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pandas as pd

from hpcval.errors import InputError
from hpcval.reframe_facts import RESERVED_EXTRAS
from hpcval.redact import redact, redact_text

SERIES_KEY = ['system', 'partition', 'environ', 'check', 'case', 'pvar', 'unit']


def text(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ''
    return str(v)


def tags_of(session_info):
    '''The session's tags: every session_info key ReFrame does not reserve, values as text,
    secrets redacted (by key name and by value, redact).'''
    tags = {}
    for k, v in (session_info or {}).items():
        if k in RESERVED_EXTRAS:
            continue
        v = redact(v, str(k))
        if isinstance(v, (dict, list)):
            v = json.dumps(v, sort_keys=True)
        tags[str(k)] = text(v)
    return dict(sorted(tags.items()))


def _clean(v):
    '''A session field as stored and shown: text, credentials redacted (the command line's -S X.password=...).'''
    return redact_text(text(v))


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
            uuid = text(info.get('uuid') or s.get('session_uuid'))
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
        uuids = part['session_uuid'].astype(object).map(text)
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
            uu = frame['session_uuid'].astype(object).map(text)
            own = src_col.isin(perflog_sources) & (uu.map(seen) == src_col)
            session_of = session_of.where(~own, uu)
        keep = session_of.notna()
        rows = frame[keep].assign(session_uuid=session_of[keep].astype(object))
    else:
        rows = frame.assign(session_uuid=pd.Series(dtype=object))
    return Prepared(sessions=sessions, rows=rows, duplicates=duplicates)


