"""The shape of a run report: every field the analysis reads has a type some ReFrame release writes.

Checked once, after parsing, so that nothing further down meets a list where
text belongs; a fault is an InputError naming the file and the place
(``runs[0].testcases[3].num_nodes is 'abc', not a count``).
"""
import math

from hpcval.errors import InputError


def kind(v):
    return {type(None): 'null', bool: 'a boolean', int: 'a number', float: 'a number', str: 'text',
            list: 'a list', dict: 'an object'}.get(type(v), type(v).__name__)


_TEXT_FIELDS = ('name', 'display_name', 'result', 'system', 'partition', 'environ', 'fail_phase')
_COUNT_FIELDS = ('num_nodes', 'num_tasks', 'num_tasks_per_node', 'run_index')


def check_shape(data, path):
    '''InputError naming the first field whose type no ReFrame release writes: the fields the
    analysis reads, checked once here so that nothing below meets a list where text belongs.'''
    for r, run in enumerate(data['runs']):
        if not isinstance(run, dict):
            raise InputError(path, f'runs[{r}] is {kind(run)}, not an object')
        if run.get('run_index') is not None and not _count(run['run_index']):
            raise InputError(path, f"runs[{r}].run_index is {_show(run['run_index'])}, not a count")
        cases = run.get('testcases', [])
        if not isinstance(cases, list):
            raise InputError(path, f'runs[{r}].testcases is {kind(cases)}, not a list')
        for c, tc in enumerate(cases):
            where = f'runs[{r}].testcases[{c}]'
            if not isinstance(tc, dict):
                raise InputError(path, f'{where} is {kind(tc)}, not an object')
            if not isinstance(tc.get('display_name') or tc.get('name'), str):
                raise InputError(path, f"{where} has no 'name' or 'display_name' text")
            for key in _TEXT_FIELDS:
                v = tc.get(key)
                if v is not None and not isinstance(v, str):
                    raise InputError(path, f'{where}.{key} is {kind(v)}, not text')
            for key in _COUNT_FIELDS:
                v = tc.get(key)
                if v is not None and not _count(v):
                    raise InputError(path, f'{where}.{key} is {_show(v)}, not a count')
            _check_perfvars(tc.get('perfvars'), where, path)
            for key in ('check_vars', 'check_params'):
                if tc.get(key) is not None and not isinstance(tc[key], dict):
                    raise InputError(path, f'{where}.{key} is {kind(tc[key])}, not an object')
            pv = tc.get('perfvalues')
            if pv is None:
                continue
            if not isinstance(pv, dict):
                raise InputError(path, f'{where}.perfvalues is {kind(pv)}, not an object')
            for k, entry in pv.items():
                if not isinstance(entry, (list, tuple)) or not entry:
                    raise InputError(path, f'{where}.perfvalues[{k[:60]!r}] is {kind(entry)}, '
                                           'not [value, reference, lower, upper, unit]')
                if len(entry) > 4 and entry[4] is not None and not isinstance(entry[4], str):
                    raise InputError(path, f'{where}.perfvalues[{k[:60]!r}]: unit is {kind(entry[4])}, not text')
                if any(isinstance(x, (list, dict)) for x in entry[:4]):
                    raise InputError(path, f'{where}.perfvalues[{k[:60]!r}]: a value is a list or an object')


def _check_perfvars(pv, where, path):
    '''data_version 3.x: a list of {name, value, reference, thres_lower, thres_upper, unit}.'''
    if pv is None:
        return
    if not isinstance(pv, list):
        raise InputError(path, f'{where}.perfvars is {kind(pv)}, not a list')
    for i, p in enumerate(pv):
        at = f'{where}.perfvars[{i}]'
        if not isinstance(p, dict):
            raise InputError(path, f'{at} is {kind(p)}, not an object')
        if not isinstance(p.get('name'), str):
            raise InputError(path, f"{at} has no 'name' text")
        if p.get('unit') is not None and not isinstance(p['unit'], str):
            raise InputError(path, f"{at}.unit is {kind(p['unit'])}, not text")
        for key in ('value', 'reference', 'thres_lower', 'thres_upper'):
            if isinstance(p.get(key), (list, dict)):
                raise InputError(path, f'{at}.{key} is {kind(p[key])}, not a number')


_MAX_COUNT = 2 ** 31       # nodes, tasks, run indexes: anything larger is no count a scheduler gave


def _count(v):
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return abs(v) < _MAX_COUNT
    if isinstance(v, float):               # orjson reads integers beyond 64 bits as floats
        return math.isfinite(v) and v == int(v) and abs(v) < _MAX_COUNT
    return isinstance(v, str) and len(v) < 12 and v.strip().lstrip('-').isdigit() and abs(int(v)) < _MAX_COUNT


def _show(v):
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + '...'
