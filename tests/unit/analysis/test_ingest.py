import json
import math

import pytest

from hpcval.analysis import ingest
from hpcval.errors import InputError
from runreports import latency_case, make_case, report, write


def test_one_row_per_case_and_pvar_with_core_columns(tmp_path):
    path = write(tmp_path / 'report.json', report([latency_case({'1B': 0.3, '8B': 0.35, '4MiB': 400.0})]))
    ds = ingest.load([path])
    f = ds.frame
    assert len(f) == 3
    for col in ingest.CORE_COLUMNS:
        assert col in f.columns, col
    row = f.set_index('pvar').loc['latency_8B']
    assert row['value'] == pytest.approx(0.35)
    assert row['unit'] == 'us' and row['better'] == 'lower'
    assert row['msg_size'] == 8 and f.set_index('pvar').loc['latency_4MiB', 'msg_size'] == 4 << 20
    assert row['check'] == 'MpiMicrobench' and row['benchmark'] == 'latency'
    assert row['mpi_library'] == 'Open MPI v4.1.4' and row['num_nodes'] == 1
    assert row['job_nodelist'] == 'vm'
    assert ds.sessions.loc[0, 'reframe_version'] == '4.10.4'


def test_failed_case_keeps_a_row_with_nan(tmp_path):
    failed = make_case('MpiMicrobench %num_nodes=1 %benchmark=bw', result='fail', fail_phase='sanity',
                      fail_reason='bw: missing message sizes: 4MiB')
    ds = ingest.load([write(tmp_path / 'r.json', report([failed]))])
    assert len(ds.frame) == 1
    row = ds.frame.iloc[0]
    assert math.isnan(row['value']) and row['fail_phase'] == 'sanity' and row['result'] == 'fail'


def test_passing_fixture_without_values_is_not_a_row(tmp_path):
    fixture = make_case('build_osu_mpi ~local:default+host-openmpi', fixture=True)
    ds = ingest.load([write(tmp_path / 'r.json', report([fixture, latency_case({'8B': 1.0})]))])
    assert list(ds.frame['check']) == ['MpiMicrobench']


def test_foreign_check_parameters_from_display_name(tmp_path):
    tc = make_case('StreamTest %threads=4 %$repeat_no=2', {'copy_bw': (12000.0, 'MB/s')})
    ds = ingest.load([write(tmp_path / 'r.json', report([tc]))])
    row = ds.frame.iloc[0]
    assert row['threads'] == 4 and row['repeat_no'] == 2      # numbers where all values are
    assert row['better'] == 'higher' and row['workload'] == 'StreamTest'


def test_schema_31_perfvalues_without_result(tmp_path):
    tc = make_case('Old %x=1', {'t': (2.0, 's')}, data_version='3.1')
    ds = ingest.load([write(tmp_path / 'r.json', report([tc], data_version='3.1'))])
    assert ds.frame.iloc[0]['value'] == 2.0 and ds.frame.iloc[0]['better'] == 'lower'


def test_directory_tree_and_latest_symlink_are_read_once(tmp_path):
    run = tmp_path / 'demo' / '20261128T160000'
    run.mkdir(parents=True)
    write(run / 'report.json', report([latency_case({'8B': 1.0})]))
    (tmp_path / 'demo' / 'latest').symlink_to(run.name)
    assert len(ingest.load([tmp_path]).sources) == 1
    assert len(ingest.load([tmp_path / 'demo' / 'latest']).sources) == 1


@pytest.mark.parametrize('content,fault', [
    ('', 'empty file'),
    ('{"session_info": {"data_version": "4.2"}, "runs": [', 'truncated JSON'),
    ('hello world', 'not JSON'),
    ('[1, 2, 3]', 'not a ReFrame run report'),
    ('{"a": 1}', 'not a ReFrame run report'),
    ('{"session_info": {"data_version": "2.0"}, "runs": []}', "unsupported run report data_version '2.0'"),
])
def test_bad_input_names_file_and_fault(tmp_path, content, fault):
    p = tmp_path / 'bad.json'
    p.write_text(content)
    with pytest.raises(InputError) as err:
        ingest.load([p])
    assert str(p) in str(err.value) and fault in str(err.value)
    assert '\n' not in str(err.value)


def test_missing_path_and_empty_dir(tmp_path):
    with pytest.raises(InputError, match='no such file'):
        ingest.load([tmp_path / 'nope'])
    with pytest.raises(InputError, match='no report.json or perflog found'):
        ingest.load([tmp_path])


def test_binary_file(tmp_path):
    p = tmp_path / 'r.json'
    p.write_bytes(b'\x89PNG\r\n\x1a\n\xff\xfe')
    with pytest.raises(InputError, match='not'):
        ingest.load([p])


def test_input_is_not_modified(tmp_path):
    p = write(tmp_path / 'r.json', report([latency_case({'8B': 1.0})]))
    before = p.read_bytes()
    ingest.load([p])
    assert p.read_bytes() == before


@pytest.mark.parametrize('runs', [
    [{'testcases': 'not a list'}],
    [{'testcases': ['not a dict']}],
    [{'testcases': [{'display_name': 'A', 'result': 'pass', 'perfvalues': ['x']}]}],
    [{'testcases': [{'display_name': 'A', 'result': 'pass', 'perfvalues': {'s:p:t': 5}}]}],
    ['not a run'],
])
def test_malformed_reports_are_input_errors_not_tracebacks(tmp_path, runs):
    p = tmp_path / 'r.json'
    p.write_text(json.dumps({'session_info': {'data_version': '4.2'}, 'runs': runs}))
    with pytest.raises(InputError) as err:
        ingest.load([p])
    # the file, and the place in it: runs[0].testcases[0].perfvalues ...
    assert str(p) in str(err.value) and 'runs[0]' in str(err.value)
