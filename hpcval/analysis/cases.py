"""Identify a test case across sessions and repeats, and say which runs count."""

import numpy as np
import pandas as pd

from hpcval.reframe_facts import REPEAT_TOKEN

CASE_KEY = ['system', 'partition', 'environ', 'case']
PASSED = ('pass', 'xfail')
SKIPPED = ('skip',)
# a perflog whose format logs no result: the values were measured, pass or fail is not known
UNKNOWN = 'unknown'
# ReFrame's phase of a case that ran and was measured, but lay outside its reference
PERFORMANCE_PHASE = 'performance'


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


def outside_reference(frame):
    '''Boolean array: ReFrame failed the case in its performance phase.  The case ran and
    was measured; its values count (a regression must not hide behind its own reference
    failure), flagged "outside reference".'''
    if 'fail_phase' not in frame.columns:
        return np.zeros(len(frame), bool)
    return (failed(frame['result']) & (frame['fail_phase'] == PERFORMANCE_PHASE)).to_numpy(bool)


def usable(frame):
    '''Boolean array: the row carries a usable measurement (passed, outside its
    reference, or of unknown result; finite).'''
    ran = frame['result'].isin(PASSED + (UNKNOWN,)).to_numpy() | outside_reference(frame)
    return ran & np.isfinite(frame['value'].to_numpy(float))


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
    '''Boolean: the run failed (neither passed, skipped nor of unknown result).'''
    return ~results.isin(PASSED + SKIPPED + (UNKNOWN,))
