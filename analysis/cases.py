"""Identify a test case across sessions and repeats, and say which runs count."""
import re

import numpy as np

_REPEAT = re.compile(r'\s*%[.$]?repeat_no=\S+')
CASE_KEY = ['system', 'partition', 'environ', 'case']
PASSED = ('pass', 'xfail')
SKIPPED = ('skip',)


def with_case(frame):
    '''Add ``case``: the display name without the repeat counter, so repeats pool.'''
    frame = frame.copy()
    frame['case'] = frame['display_name'].astype(str).str.replace(_REPEAT, '', regex=True).str.strip()
    return frame


def measured(frame):
    '''Rows that carry a usable measurement: passed, finite.'''
    return frame[frame['result'].isin(PASSED) & np.isfinite(frame['value'].astype(float))]


def per_case(frame):
    '''One row per executed test case (any pvar), for failure counting.'''
    keys = ['session_uuid', 'run_index', 'system', 'partition', 'environ', 'display_name']
    return frame.drop_duplicates(keys)


def failed(results):
    return ~results.isin(PASSED + SKIPPED)
