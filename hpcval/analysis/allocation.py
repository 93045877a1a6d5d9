"""A production plan -> the node-hours to request, with an interval.

A plan file (``hpcval proposal --plan FILE``) is YAML: one production line, or
a list of them::

    series: 'strong'      # regex over "CHECK SERIES" (default: every application series)
    nodes: 8              # the size of one production run
    runs: 40              # production runs at that size
    steps: 200000         # per run (optional): the measured run's wall time x steps / its steps
    wall_time: 12h        # per run (optional, instead of steps): fixed by the plan, no model

node-hours = runs x nodes x hours per run.  Hours per run: ``wall_time`` as
given; else the job's wall time (``job_seconds``) at ``nodes``, measured
(median, 95 % order-statistic CI) when that size was run, else predicted by
the series' wall-time model (analysis.extrapolation; the interval of the
mean, since a total over many runs averages the run-to-run noise out),
times ``steps`` / the steps of a measured run when ``steps`` is given (the
measured run's start-up is scaled with it: an upper estimate).
"""
import math
import re
from pathlib import Path

import pandas as pd

from hpcval.errors import InputError

_DURATION = re.compile(r'^\s*([0-9]+(?:\.[0-9]*)?)\s*(s|min|h|d)?\s*$')
_SECONDS = {'s': 1, 'min': 60, 'h': 3600, 'd': 86400, None: 3600}
_LINE = {
    'type': 'object', 'additionalProperties': False, 'required': ['nodes', 'runs'],
    'properties': {
        'name': {'type': 'string', 'minLength': 1},
        'series': {'type': 'string', 'format': 'regex'},
        'nodes': {'type': 'integer', 'minimum': 1},
        'runs': {'type': 'integer', 'minimum': 1},
        'steps': {'type': 'number', 'exclusiveMinimum': 0},
        'wall_time': {'type': ['string', 'number']},
    },
    'not': {'required': ['steps', 'wall_time']},
}
SCHEMA = {'$schema': 'https://json-schema.org/draft/2020-12/schema',
          'anyOf': [_LINE, {'type': 'array', 'minItems': 1, 'items': _LINE}]}

COLUMNS = ['line', 'check', 'variant', 'nodes', 'runs', 'steps', 'hours_per_run', 'hours_lo', 'hours_hi',
           'node_hours', 'node_hours_lo', 'node_hours_hi', 'basis']


def hours(text):
    '''"12h", "90min", "3600s", "1.5d" or a number of hours -> hours; None when not a duration.'''
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text) if text > 0 else None
    m = _DURATION.match(str(text))
    if not m or float(m.group(1)) <= 0:
        return None
    return float(m.group(1)) * _SECONDS[m.group(2)] / 3600


def _fault(data):
    import jsonschema
    errors = list(jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
                  .iter_errors(data))
    if not errors:
        return None
    lines = data if isinstance(data, list) else [data]
    for i, line in enumerate(lines):
        where = f'[{i}] ' if isinstance(data, list) else ''
        if not isinstance(line, dict):
            return f'{where}a production line is a mapping (nodes, runs, steps or wall_time)'
        for err in jsonschema.Draft202012Validator(_LINE, format_checker=jsonschema.FormatChecker()).iter_errors(line):
            key = '.'.join(map(str, err.absolute_path))
            if err.validator == 'not':
                return f'{where}give steps or wall_time, not both'
            if err.validator == 'additionalProperties':
                unknown = sorted(set(line) - set(_LINE['properties']))
                return (f'{where}unknown key(s) {", ".join(map(repr, unknown))} '
                        f'(known: {", ".join(_LINE["properties"])})')
            return f'{where}{key + ": " if key else ""}{err.message}'
    return jsonschema.exceptions.best_match(errors).message


def load(path):
    '''The production lines of a plan file (list of dicts, ``wall_time`` in hours);
    InputError naming the file and the fault otherwise.'''
    import yaml
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise InputError(path, f'cannot read the plan ({err.strerror or err})') from None
    except UnicodeDecodeError:
        raise InputError(path, 'not a text file: a plan is YAML') from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, 'problem_mark', None)
        raise InputError(path, (f'line {mark.line + 1}: ' if mark else '') + 'not valid YAML') from None
    if data is None:
        raise InputError(path, 'empty plan: give nodes and runs (and steps or wall_time)')
    fault = _fault(data)
    if fault:
        raise InputError(path, fault)
    lines = [dict(x) for x in (data if isinstance(data, list) else [data])]
    for i, line in enumerate(lines):
        if 'wall_time' in line:
            h = hours(line['wall_time'])
            if h is None:
                raise InputError(path, f'[{i}] wall_time: {line["wall_time"]!r} is not a duration (e.g. 12h, 90min)')
            line['wall_time'] = h
        line.setdefault('name', f'line {i + 1}')
    return lines


def _matches(line, check, series):
    pattern = line.get('series')
    return not pattern or re.search(pattern, f'{check} {series}') is not None


def node_hours(lines, series_info):
    '''Plan lines x the series they select -> one row each (``COLUMNS``).

    ``series_info``: per application series a dict with ``check``, ``series``,
    ``variant``, ``job`` ({nodes: (median, lo, hi)} of the measured job wall time
    in s), ``job_model`` (callable nodes -> (mean, lo, hi) in s, or None),
    ``job_model_text``, ``steps`` (steps of a measured run, or NaN).
    '''
    rows = []
    for line in lines:
        for s in series_info:
            if not _matches(line, s['check'], s['series']):
                continue
            n, runs = int(line['nodes']), int(line['runs'])
            row = {'line': line['name'], 'check': s['check'], 'variant': s['variant'], 'nodes': n, 'runs': runs,
                   'steps': line.get('steps', math.nan)}
            if 'wall_time' in line:
                h = lo = hi = line['wall_time']
                basis = 'wall time fixed by the plan'
            else:
                if n in s['job']:
                    sec = s['job'][n]
                    basis = f'job wall time measured at {n} node(s) (median, 95 % CI)'
                elif s.get('job_model') is not None:
                    sec = s['job_model'](n)
                    basis = f"job wall time from the model {s['job_model_text']} (MODEL, interval of the mean)"
                else:
                    sec = (math.nan,) * 3
                    basis = 'no job wall time recorded and none modelled: give wall_time'
                scale = 1.0
                if 'steps' in line:
                    measured_steps = s.get('steps', math.nan)
                    if measured_steps and math.isfinite(measured_steps):
                        scale = line['steps'] / measured_steps
                        basis += f', x {line["steps"]:g} / {measured_steps:g} steps'
                    else:
                        sec = (math.nan,) * 3
                        basis = 'the runs record no step count: give wall_time instead of steps'
                h, lo, hi = (v * scale / 3600 for v in sec)
                if not (lo == lo):         # no CI (too few runs): the interval is unknown, not zero
                    lo = hi = math.nan
            rows.append({**row, 'hours_per_run': h, 'hours_lo': lo, 'hours_hi': hi, 'node_hours': runs * n * h,
                         'node_hours_lo': runs * n * lo, 'node_hours_hi': runs * n * hi, 'basis': basis})
    return pd.DataFrame(rows, columns=COLUMNS)


def unmatched(lines, series_info):
    '''The plan lines that select no series: (name, pattern).'''
    return [(line['name'], line.get('series', '')) for line in lines
            if not any(_matches(line, s['check'], s['series']) for s in series_info)]
