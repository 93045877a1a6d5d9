"""Identify a test case across sessions and repeats, and say which runs count."""
import re

import numpy as np
import pandas as pd

REPEAT_TOKEN = re.compile(r'\s*%[.$]?repeat_no=\S+')
NODES_TOKEN = re.compile(r'\s*%num_nodes=\S+')
CASE_KEY = ['system', 'partition', 'environ', 'case']
PASSED = ('pass', 'xfail')
SKIPPED = ('skip',)


def strip_token(series, pattern):
    '''Regex-remove ``pattern`` from each distinct string once, then map (names repeat a lot).'''
    names = series.astype(object)
    mapping = {n: pattern.sub('', str(n)).strip() for n in pd.unique(names)}
    return pd.Series(names.map(mapping).to_numpy(dtype=object), index=series.index, dtype=object)


def with_case(frame):
    '''Add ``case``: the display name without the repeat counter, so repeats pool.'''
    if 'case' in frame.columns:
        return frame
    frame = frame.copy()
    frame['case'] = strip_token(frame['display_name'], REPEAT_TOKEN)
    return frame


def usable(frame):
    '''Boolean array: the row carries a usable measurement (passed, finite).'''
    return frame['result'].isin(PASSED).to_numpy() & np.isfinite(frame['value'].to_numpy(float))


def measured(frame):
    '''Rows that carry a usable measurement (the frame itself if all do).

    Ingest stores the answer as ``usable``; a frame without it is judged here.
    '''
    keep = frame['usable'].to_numpy(bool) if 'usable' in frame.columns else usable(frame)
    return frame if keep.all() else frame[keep]


CASE_IDENTITY = ['session_uuid', 'run_index', 'system', 'partition', 'environ', 'display_name']


def per_case(frame, columns=None):
    '''One row per executed test case (any pvar), for failure counting.

    ``columns``: only these (plus the identity) are carried, which keeps a
    million-row frame cheap to deduplicate.
    '''
    key = ['case_id'] if 'case_id' in frame.columns else CASE_IDENTITY
    if columns is not None:
        frame = frame[list(dict.fromkeys(key + CASE_IDENTITY + [c for c in columns if c in frame.columns]))]
    if key == ['case_id']:
        return frame[~frame['case_id'].duplicated().to_numpy()]
    return frame.drop_duplicates(CASE_IDENTITY)


def columns(frame, wanted):
    '''A narrow view: just the columns an analysis needs (those that exist).'''
    return frame[[c for c in dict.fromkeys(wanted) if c in frame.columns]]


def failed(results):
    return ~results.isin(PASSED + SKIPPED)
