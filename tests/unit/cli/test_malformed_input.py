"""Malformed input is exit 2 with one line naming the file and the fault: never a
traceback, never exit 1 (which a CI gate reads as a regression), never exit 3.

The named inputs are the ones an audit found ending in tracebacks; the
property tests (hypothesis) mutate a valid run report and a valid perflog,
in types, missing keys, sizes, encodings and nesting, and hold every
mutation to the same rule for `report`, `compare` and `history add`.
"""
import contextlib
import copy
import io
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpcval import cli
from runreports import latency_case, report

BASE = report([latency_case({'8B': 1.5 + i / 10, '1KiB': 3.0 + i / 10}, run_index=i) for i in range(3)])
PERFLOG = (
    'job_completion_time|version|display_name|system|partition|environ|result|num_nodes|'
    'latency_8B_value|latency_8B_unit|latency_8B_ref|latency_8B_lower_thres|latency_8B_upper_thres\n'
    + ''.join(f'2026-11-28T16:38:1{i}|4.10.4|MpiMicrobench %benchmark=latency|local|default|builtin|pass|1|'
              f'1.{5 + i}|us|0|None|None\n' for i in range(3)))


def _main(*args):
    '''(exit code, stderr) of the command line, in this process: fast enough for hypothesis.'''
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        rc = cli.main([str(a) for a in args])
    return rc, err.getvalue()


def _one_line_input_error(rc, stderr, path, command):
    assert rc == 2, (rc, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f'hpcval {command}: error: ') and 'internal error' not in lines[0], stderr
    assert str(path) in lines[0], stderr
    assert 'Traceback' not in stderr


def _check_all_commands(write):
    '''``write(folder) -> the bad file``; every command refuses it the same way, writing nothing.'''
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bad = write(tmp / 'bad')
        good = tmp / 'good'
        good.mkdir()
        (good / 'report.json').write_text(json.dumps(BASE))
        out = tmp / 'out'
        _one_line_input_error(*_main('report', bad.parent, '-o', out), bad, 'report')
        _one_line_input_error(*_main('compare', good, bad.parent, '-o', out), bad, 'compare')
        _one_line_input_error(*_main('history', 'add', bad.parent, '--store', tmp / 'h.sqlite'), bad, 'history')
        assert not out.exists() and not (tmp / 'h.sqlite').exists()


def _report_file(folder, data=None, raw=None):
    folder.mkdir()
    path = folder / 'report.json'
    if raw is None:
        raw = json.dumps(data)
    path.write_bytes(raw if isinstance(raw, bytes) else raw.encode('utf-8', 'surrogatepass'))
    return path


def _mutated(fn):
    data = copy.deepcopy(BASE)
    fn(data)
    return data


def _tc(data, i=0):
    return data['runs'][0]['testcases'][i]


def _set(key, value, i=0):
    return lambda d: _tc(d, i).__setitem__(key, value)


def _all_pv(entry):
    def fn(d):
        for tc in d['runs'][0]['testcases']:
            for k in tc['perfvalues']:
                tc['perfvalues'][k] = entry(tc['perfvalues'][k])
    return fn


def _nameless(d):
    for tc in d['runs'][0]['testcases']:
        tc.pop('name')
        tc.pop('display_name')


NAMED = {
    'session_info null': lambda d: d.__setitem__('session_info', None),
    'session_info a list': lambda d: d.__setitem__('session_info', []),
    'session_info a string': lambda d: d.__setitem__('session_info', 'x'),
    'display_name an int': _set('display_name', 5),
    'a unit that is a list': _all_pv(lambda e: e[:4] + [['us']] + e[5:]),
    'no name and no display_name': _nameless,
    'num_nodes "abc"': _set('num_nodes', 'abc'),
    'runs []': lambda d: d.__setitem__('runs', []),
    'testcases []': lambda d: d['runs'][0].__setitem__('testcases', []),
    'perfvalues a string': _set('perfvalues', 'fast'),
    'a perf entry a string': _all_pv(lambda e: 'fast'),
    'result a list': _set('result', ['pass']),
    'runs an object': lambda d: d.__setitem__('runs', {}),
    'a run a string': lambda d: d['runs'].__setitem__(0, 'x'),
}


@pytest.mark.parametrize('name', sorted(NAMED))
def test_each_named_malformed_report_is_one_line_and_exit_2(name):
    _check_all_commands(lambda folder: _report_file(folder, _mutated(NAMED[name])))


RAW = {
    'a 5001-digit integer': json.dumps(BASE).replace('"num_tasks": 2', '"num_tasks": ' + '9' * 5001, 1),
    'a lone surrogate': json.dumps(BASE).replace('"vm"', '"\\ud800"', 1),
    'JSON nested 100 000 deep': json.dumps(BASE)[:-1] + ', "x": ' + '[' * 100_000 + ']' * 100_000 + '}',
    'truncated': json.dumps(BASE)[:200],
    'UTF-16': json.dumps(BASE).encode('utf-16'),
    'empty': '',
}


@pytest.mark.parametrize('name', sorted(RAW))
def test_each_named_malformed_file_is_one_line_and_exit_2(name):
    _check_all_commands(lambda folder: _report_file(folder, raw=RAW[name]))


def test_a_header_only_perflog_is_exit_2():
    def write(folder):
        folder.mkdir()
        (folder / 'x.log').write_text(PERFLOG.splitlines(True)[0])
        return folder / 'x.log'
    _check_all_commands(write)


@pytest.mark.parametrize('kind', ['fifo', 'dev_zero'])
def test_a_fifo_or_a_device_named_report_json_is_refused_not_read(kind):
    def write(folder):
        folder.mkdir()
        path = folder / 'report.json'
        if kind == 'fifo':
            os.mkfifo(path)                      # reading it would block for ever
        else:
            path.symlink_to('/dev/zero')         # reading it would never end
        return path
    _check_all_commands(write)


def test_the_valid_inputs_pass_so_that_the_mutations_mean_something():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _report_file(tmp / 'r', BASE)
        (tmp / 'p').mkdir()
        (tmp / 'p' / 'x.log').write_text(PERFLOG)
        assert _main('report', tmp / 'r', '-o', tmp / 'o1')[0] == 0
        assert _main('report', tmp / 'p', '-o', tmp / 'o2')[0] == 0
        assert _main('history', 'add', tmp / 'r', '--store', tmp / 'h.sqlite')[0] == 0


# -- generated mutations -------------------------------------------------------

def _not(*kinds):
    '''Values of any JSON type but ``kinds``.'''
    pool = {'null': st.none(), 'bool': st.booleans(), 'int': st.integers(),
            'float': st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f)),
            'text': st.text(max_size=8), 'list': st.lists(st.integers(), max_size=3),
            'object': st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)}
    return st.one_of(*[s for k, s in pool.items() if k not in kinds])


TEXT_FIELDS = ['result', 'system', 'partition', 'environ', 'fail_phase']
COUNT_FIELDS = ['num_nodes', 'num_tasks', 'run_index']


@st.composite
def type_mutations(draw):
    '''One field of a valid report set to a type no ReFrame release writes there.'''
    data = copy.deepcopy(BASE)
    i = draw(st.integers(0, 2))
    tc = _tc(data, i)
    where = draw(st.sampled_from(['session_info', 'runs', 'run', 'testcases', 'testcase', 'name', 'text',
                                  'count', 'perfvalues', 'entry', 'unit', 'value']))
    if where == 'session_info':
        data['session_info'] = draw(_not('object'))
    elif where == 'runs':
        data['runs'] = draw(_not('list'))
    elif where == 'run':
        data['runs'][0] = draw(_not('object'))
    elif where == 'testcases':
        data['runs'][0]['testcases'] = draw(_not('list', 'null'))
    elif where == 'testcase':
        data['runs'][0]['testcases'][i] = draw(_not('object'))
    elif where == 'name':
        tc['name'] = tc['display_name'] = draw(_not('text', 'null'))
    elif where == 'text':
        tc[draw(st.sampled_from(TEXT_FIELDS))] = draw(_not('text', 'null'))
    elif where == 'count':
        tc[draw(st.sampled_from(COUNT_FIELDS))] = draw(st.one_of(
            _not('int', 'null'), st.integers(min_value=2 ** 63), st.text(min_size=1, max_size=5).filter(
                lambda t: not t.strip().lstrip('-').isdigit())))
    elif where == 'perfvalues':
        tc['perfvalues'] = draw(_not('object', 'null'))
    else:
        key = draw(st.sampled_from(sorted(tc['perfvalues'])))
        entry = tc['perfvalues'][key]
        if where == 'entry':
            tc['perfvalues'][key] = draw(st.one_of(_not('list'), st.just([])))
        elif where == 'unit':
            entry[4] = draw(_not('text', 'null'))
        else:
            entry[draw(st.integers(0, 3))] = draw(st.one_of(st.lists(st.integers(), max_size=2),
                                                             st.dictionaries(st.text(max_size=2), st.integers())))
    return json.dumps(data)


@st.composite
def missing_keys(draw):
    data = copy.deepcopy(BASE)
    what = draw(st.sampled_from(['session_info', 'runs', 'names']))
    if what == 'names':
        tc = _tc(data, draw(st.integers(0, 2)))
        tc.pop('name')
        tc.pop('display_name')
    else:
        data.pop(what)
    return json.dumps(data)


@st.composite
def size_mutations(draw):
    '''Integers too long for Python's int() of text, or beyond 64 bits, where counts belong.'''
    data = copy.deepcopy(BASE)
    field = draw(st.sampled_from(COUNT_FIELDS))
    digits = draw(st.integers(19, 6000))
    text = json.dumps(data)
    return text.replace(f'"{field}": {_tc(data)[field]}', f'"{field}": {"9" * digits}', 1)


@st.composite
def encoding_mutations(draw):
    text = json.dumps(BASE)
    how = draw(st.sampled_from(['utf-16', 'utf-32', 'truncate', 'surrogate', 'bad-byte', 'nul']))
    if how in ('utf-16', 'utf-32'):
        return text.encode(how)
    if how == 'truncate':
        return text[:draw(st.integers(0, len(text) - 2))]
    if how == 'surrogate':
        return text.replace('"vm"', f'"\\u{draw(st.integers(0xD800, 0xDFFF)):04x}"', 1)
    raw = text.encode()
    at = draw(st.integers(0, len(raw)))
    return raw[:at] + (b'\xff\xfe' if how == 'bad-byte' else b'\x00') + raw[at:]


@st.composite
def nesting_mutations(draw):
    depth = draw(st.integers(1100, 120_000))
    opener, closer = draw(st.sampled_from([('[', ']'), ('{"a":', '}')]))
    inner = opener * depth + ('1' if opener == '{"a":' else '') + closer * depth
    text = json.dumps(BASE)
    at = draw(st.sampled_from(['top', 'case', 'perf']))
    if at == 'top':
        return text[:-1] + f', "deep": {inner}}}'
    if at == 'case':
        return text.replace('"fixture": false', f'"fixture": false, "deep": {inner}', 1)
    return text.replace('"perfvalues": {', f'"perfvalues": {{"deep": {inner}, ', 1)


SETTINGS = settings(max_examples=int(os.environ.get("HPCVAL_MUTATIONS", 100)), deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(st.one_of(type_mutations(), missing_keys(), size_mutations(), encoding_mutations(),
                 nesting_mutations()))
def test_every_mutated_run_report_is_exit_2_and_one_line(raw):
    _check_all_commands(lambda folder: _report_file(folder, raw=raw))


@st.composite
def perflog_mutations(draw):
    lines = PERFLOG.splitlines(True)
    how = draw(st.sampled_from(['header-only', 'field-lost', 'field-added', 'bad-byte', 'cut-line',
                                'no-perf-header', 'utf-16']))
    if how == 'header-only':
        return lines[0]
    if how == 'utf-16':
        return PERFLOG.encode('utf-16')
    if how == 'no-perf-header':
        return 'when|where\n' + 'a|b\n' * draw(st.integers(0, 3))
    i = draw(st.integers(1, len(lines) - 1))
    fields = lines[i].rstrip('\n').split('|')
    if how == 'field-lost':
        fields.pop(draw(st.integers(0, len(fields) - 1)))
    elif how == 'field-added':
        fields.insert(draw(st.integers(0, len(fields))), draw(st.text('abc1', max_size=3)))
    elif how == 'cut-line':                     # a line written half: some fields, not all
        fields = fields[:draw(st.integers(1, len(fields) - 1))]
    else:
        raw = PERFLOG.encode()
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + b'\xff' + raw[at:]
    lines[i] = '|'.join(fields) + '\n'
    return ''.join(lines)


@SETTINGS
@given(perflog_mutations())
def test_every_mutated_perflog_is_exit_2_and_one_line(raw):
    def write(folder):
        folder.mkdir()
        path = folder / 'x.log'
        path.write_bytes(raw if isinstance(raw, bytes) else raw.encode())
        return path
    _check_all_commands(write)


def test_a_bug_in_hpcval_is_exit_3_one_line_and_the_traceback_only_with_debug(monkeypatch, tmp_path):
    from hpcval.analysis import ingest

    def broken(*_a, **_k):
        raise ZeroDivisionError('division by zero')
    monkeypatch.setattr(ingest, 'load', broken)
    _report_file(tmp_path / 'r', BASE)
    rc, err = _main('report', tmp_path / 'r', '-o', tmp_path / 'o')
    assert rc == 3 and len(err.strip().splitlines()) == 1, err
    assert 'internal error' in err and 'ZeroDivisionError' in err and 'Traceback' not in err
    rc, err = _main('report', tmp_path / 'r', '-o', tmp_path / 'o', '--debug')
    assert rc == 3 and 'Traceback (most recent call last)' in err and 'broken' in err


def test_history_show_keeps_the_users_folder(tmp_path):
    _report_file(tmp_path / 'r', BASE)
    store = tmp_path / 'h.sqlite'
    assert _main('history', 'add', tmp_path / 'r', '--store', store)[0] == 0
    docs = tmp_path / 'docs'
    docs.mkdir()
    (docs / 'mine.txt').write_text('keep')
    rc, err = _main('history', 'show', '--store', store, '-o', docs)
    assert rc == 2 and 'not an hpcval output' in err and (docs / 'mine.txt').read_text() == 'keep'
    rc, err = _main('history', 'show', '--store', store, '-o', tmp_path)
    assert rc == 2 and 'holds the input' in err
