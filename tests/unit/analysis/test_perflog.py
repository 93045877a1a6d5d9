import math

import pandas as pd
import pytest

from hpcval.analysis import perflog
from hpcval.errors import InputError

# The header and first two lines of runs/demo/latest/perflogs/local/default/MatmulBench.log,
# written by this project's 'handlers_perflog' (config/local.py) under ReFrame 4.10.4.
PROJECT_LOG = (
    'job_completion_time|reframe version|display_name|system:partition|environ|result|backend|'
    'build_locally|build_time_limit|descr|display_name|env_vars|environ|exclusive_access|'
    'executable|executable_opts|expected_mpi|extra_resources|fabric|hashcode|hosts|image|'
    'image_digest|job_completion_time_unix|job_exitcode|job_nodelist|job_submit_time|jobid|'
    'keep_files|local|maintainers|max_pending_time|modules|mpi|mpi_library|name|'
    'num_cpus_per_task|num_gpus_per_node|num_nodes|num_tasks|num_tasks_per_core|'
    'num_tasks_per_node|num_tasks_per_socket|outputdir|partition|peak_derivation|'
    'nominal_peak_value|nominal_peak_unit|nominal_peak_ref|nominal_peak_lower_thres|'
    'nominal_peak_upper_thres|gflops_n1024_value|gflops_n1024_unit|gflops_n1024_ref|'
    'gflops_n1024_lower_thres|gflops_n1024_upper_thres|peak_pct_n1024_value|'
    'peak_pct_n1024_unit|peak_pct_n1024_ref|peak_pct_n1024_lower_thres|'
    'peak_pct_n1024_upper_thres|gflops_n2048_value|gflops_n2048_unit|gflops_n2048_ref|'
    'gflops_n2048_lower_thres|gflops_n2048_upper_thres|peak_pct_n2048_value|'
    'peak_pct_n2048_unit|peak_pct_n2048_ref|peak_pct_n2048_lower_thres|'
    'peak_pct_n2048_upper_thres|gflops_n4096_value|gflops_n4096_unit|gflops_n4096_ref|'
    'gflops_n4096_lower_thres|gflops_n4096_upper_thres|peak_pct_n4096_value|'
    'peak_pct_n4096_unit|peak_pct_n4096_ref|peak_pct_n4096_lower_thres|'
    'peak_pct_n4096_upper_thres|postbuild_cmds|postrun_cmds|prebuild_cmds|prefix|prerun_cmds|'
    'python|readonly_files|reps|runtime|short_name|sizes|sourcepath|sourcesdir|stagedir|'
    'strict_check|system|tags|time_limit|transport|unique_name|use_multithreading|'
    'valid_prog_environs|valid_systems|variables|workload\n'
    '2026-11-28T16:38:17|reframe 4.10.4|MatmulBench %num_nodes=1 %backend=numpy %.repeat_no=0|'
    'local:default|host-openmpi|pass|numpy|true|null|'
    'DGEMM GFLOP/s per node against the nominal peak|'
    'MatmulBench %num_nodes=1 %backend=numpy %.repeat_no=0|{}|host-openmpi|false|'
    '/work/main/.venv/bin/python3|'
    '/work/main/runs/demo/20261128T163754/stage/local/default/host-openmpi/MatmulBench_9dab8629/matmul_bench.py,--backend,numpy,--sizes,1024,2048,4096,--reps,3|'
    'Open MPI|{}||9dab8629|vm|||1795883897.437443|0|vm|1795883875.8727648|7069||false||null||'
    'host|'
    'Open MPI v4.1.4, package: Debian OpenMPI, ident: 4.1.4, repo rev: v4.1.4, May 26, 2022|'
    'MatmulBench %num_nodes=1 %backend=numpy|2|null|1|1|null|1|null|'
    '/work/main/runs/demo/20261128T163754/output/local/default/host-openmpi/MatmulBench_9dab8629|'
    'default|'
    '2 cores x 1.996 GHz (cpuinfo cpu MHz) x 8 FLOP/cycle '
    '(avx2+fma on Zen 1 (family 17h model < 30h): 2 FMA x 2 doubles x 2)|'
    '31.94|GFLOP/s|0|None|None|15.36|GFLOP/s|0|None|None|48.09016906700062|%|0|None|None|34.49|'
    'GFLOP/s|0|None|None|107.98371947401377|%|0|None|None|35.77|GFLOP/s|0|None|None|'
    '111.9912335629305|%|0|None|None||||/work/main/checks||/work/main/.venv/bin/python3||3|'
    'bare|MatmulBench_9dab8629|1024,2048,4096||src|'
    '/work/main/runs/demo/20261128T163754/stage/local/default/host-openmpi/MatmulBench_9dab8629|'
    'true|local|matmul,kernel|null||MatmulBench_0|null|+mpi|*|{}|matmul\n'
    '2026-11-28T16:38:37|reframe 4.10.4|MatmulBench %num_nodes=1 %backend=numpy %.repeat_no=1|'
    'local:default|host-openmpi|pass|numpy|true|null|'
    'DGEMM GFLOP/s per node against the nominal peak|'
    'MatmulBench %num_nodes=1 %backend=numpy %.repeat_no=1|{}|host-openmpi|false|'
    '/work/main/.venv/bin/python3|'
    '/work/main/runs/demo/20261128T163754/stage/local/default/host-openmpi/MatmulBench_3ffbc269/matmul_bench.py,--backend,numpy,--sizes,1024,2048,4096,--reps,3|'
    'Open MPI|{}||3ffbc269|vm|||1795883917.554053|0|vm|1795883897.4843442|7081||false||null||'
    'host|'
    'Open MPI v4.1.4, package: Debian OpenMPI, ident: 4.1.4, repo rev: v4.1.4, May 26, 2022|'
    'MatmulBench %num_nodes=1 %backend=numpy|2|null|1|1|null|1|null|'
    '/work/main/runs/demo/20261128T163754/output/local/default/host-openmpi/MatmulBench_3ffbc269|'
    'default|'
    '2 cores x 1.996 GHz (cpuinfo cpu MHz) x 8 FLOP/cycle '
    '(avx2+fma on Zen 1 (family 17h model < 30h): 2 FMA x 2 doubles x 2)|'
    '31.94|GFLOP/s|0|None|None|33.67|GFLOP/s|0|None|None|105.4164057608015|%|0|None|None|34.94|'
    'GFLOP/s|0|None|None|109.39261114589856|%|0|None|None|35.81|GFLOP/s|0|None|None|'
    '112.11646837820913|%|0|None|None||||/work/main/checks||/work/main/.venv/bin/python3||3|'
    'bare|MatmulBench_3ffbc269|1024,2048,4096||src|'
    '/work/main/runs/demo/20261128T163754/stage/local/default/host-openmpi/MatmulBench_3ffbc269|'
    'true|local|matmul,kernel|null||MatmulBench_1|null|+mpi|*|{}|matmul\n'
)

# ReFrame's built-in format: result|job_completion_time|check_#ALL minus ignore_keys,
# so no display_name; the test is named by short_name (<class>_<hashcode>) only.
DEFAULT_HEADER = ('result|job_completion_time|descr|environ|job_completion_time_unix|job_nodelist|'
                  'num_tasks|partition|latency_value|latency_unit|latency_ref|latency_lower_thres|'
                  'latency_upper_thres|bw_value|bw_unit|bw_ref|bw_lower_thres|bw_upper_thres|'
                  'short_name|system|unique_name')


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _row(frame, **where):
    sel = frame
    for col, value in where.items():
        sel = sel[sel[col] == value]
    assert len(sel) == 1, where
    return sel.iloc[0]


def test_this_projects_format(tmp_path):
    path = _write(tmp_path / 'MatmulBench.log', PROJECT_LOG)
    f = perflog.frame_from_perflog(path)
    for col in perflog.FIRST_COLUMNS + ['num_nodes', 'num_tasks', 'mpi_library', 'backend', 'workload']:
        assert col in f.columns, col
    assert len(f) == 2 * 7                      # 2 cases x 7 perf variables
    assert list(f.columns).count('display_name') == 1
    row = _row(f, pvar='gflops_n1024', display_name='MatmulBench %num_nodes=1 %backend=numpy %.repeat_no=0')
    assert row['value'] == pytest.approx(15.36) and row['unit'] == 'GFLOP/s' and row['better'] == 'higher'
    assert row['ref'] == 0 and math.isnan(row['lower']) and math.isnan(row['upper'])
    assert row['check'] == 'MatmulBench' and row['workload'] == 'matmul' and row['backend'] == 'numpy'
    assert row['system'] == 'local' and row['partition'] == 'default' and row['environ'] == 'host-openmpi'
    assert row['result'] == 'pass' and row['job_nodelist'] == 'vm'
    assert row['completion_time'] == '2026-11-28T16:38:17'
    assert row['num_nodes'] == 1 and row['num_tasks'] == 1
    assert row['mpi_library'].startswith('Open MPI v4.1.4')
    assert row['session_uuid'] == '' and row['run_index'] == 0 and row['source'] == str(path)
    pct = _row(f, pvar='peak_pct_n4096', display_name='MatmulBench %num_nodes=1 %backend=numpy %.repeat_no=1')
    assert pct['value'] == pytest.approx(112.11646837820913) and pct['unit'] == '%'
    assert pct['better'] == 'higher'


def test_default_format_named_by_short_name_only(tmp_path):
    path = _write(tmp_path / 'OsuBench.log', DEFAULT_HEADER + '\n' + (
        'pass|2025-03-01T10:00:00+00:00|OSU|gnu|1740823200.5|nid001|2|'
        'compute|1.5|us|1.4|-0.1|0.1|None|MB/s|0|None|None|OsuBench_1a2b3c4d|daint|OsuBench_0\n'))
    f = perflog.frame_from_perflog(path)
    assert len(f) == 2 and set(f['check']) == {'OsuBench'}
    assert set(f['display_name']) == {'OsuBench_1a2b3c4d'}
    lat, bw = _row(f, pvar='latency'), _row(f, pvar='bw')
    assert lat['value'] == 1.5 and lat['unit'] == 'us' and lat['better'] == 'lower'
    assert lat['ref'] == 1.4 and lat['lower'] == -0.1 and lat['upper'] == 0.1
    assert math.isnan(bw['value']) and bw['better'] == 'higher'
    assert lat['system'] == 'daint' and lat['partition'] == 'compute' and lat['environ'] == 'gnu'
    assert lat['completion_time'] == '2025-03-01T10:00:00+00:00' and lat['num_tasks'] == 2
    assert lat['descr'] == 'OSU' and lat['unique_name'] == 'OsuBench_0'


def test_name_with_parameters_stands_in_for_display_name(tmp_path):
    # since 4.7 'name' is the display name less the '%.' implicit parameters
    path = _write(tmp_path / 'OsuBench.log', 'result|name|system|partition|environ|'
                  'lat_value|lat_unit|lat_ref|lat_lower_thres|lat_upper_thres|short_name\n'
                  'pass|OsuBench %size=8 %mode=eager|sys|part|env|2.0|us|0|None|None|OsuBench_deadbeef\n')
    row = perflog.frame_from_perflog(path).iloc[0]
    assert row['check'] == 'OsuBench' and row['display_name'] == 'OsuBench %size=8 %mode=eager'
    assert row['size'] == '8' and row['mode'] == 'eager'


def test_rotated_file_is_read_with_its_own_header(tmp_path):
    logdir = tmp_path / 'run' / 'perflogs' / 'sys' / 'part'
    _write(logdir / 'Bench.log.h0', 'result|display_name|system|partition|environ|'
           'bw_value|bw_unit|bw_ref|bw_lower_thres|bw_upper_thres\n'
           'pass|Bench %n=1|sys|part|env|100|MB/s|0|None|None\n')
    _write(logdir / 'Bench.log', 'result|display_name|system|partition|environ|num_tasks|'
           'bw_value|bw_unit|bw_ref|bw_lower_thres|bw_upper_thres|'
           'lat_value|lat_unit|lat_ref|lat_lower_thres|lat_upper_thres\n'
           'pass|Bench %n=2|sys|part|env|4|200|MB/s|0|None|None|3.5|us|0|None|None\n')
    _write(tmp_path / 'run' / 'reframe.log', '[2025-03-01T10:00:00] info: reframe: started\n')
    files = perflog.perflog_files(tmp_path)
    assert [p.name for p in files] == ['Bench.log.h0', 'Bench.log']   # oldest first; reframe.log left out
    f = perflog.frame_from_perflogs([tmp_path])
    assert len(f) == 3
    assert set(f['source']) == {str(logdir / 'Bench.log.h0'), str(logdir / 'Bench.log')}
    assert list(f['n']) == ['1', '2', '2']
    assert _row(f, pvar='bw', n='2')['value'] == 200 and _row(f, pvar='lat')['better'] == 'lower'
    assert math.isnan(_row(f, n='1')['num_tasks'])   # the old header had no num_tasks


def test_multiline_mode(tmp_path):
    header = ('job_completion_time|result|display_name|system|partition|environ|'
              'perf_var|perf_value|perf_unit|perf_ref|perf_lower_thres|perf_upper_thres|perf_result')
    path = _write(tmp_path / 'Stream.log', header + '\n'
                  'T1|pass|Stream %threads=4|sys|part|env|copy|9000.5|MB/s|8000|-0.1|None|pass\n'
                  'T1|pass|Stream %threads=4|sys|part|env|time|0.25|s|0|None|None|pass\n')
    f = perflog.frame_from_perflog(path)
    assert list(f['pvar']) == ['copy', 'time']
    copy, time = _row(f, pvar='copy'), _row(f, pvar='time')
    assert copy['value'] == 9000.5 and copy['ref'] == 8000 and copy['lower'] == -0.1
    assert math.isnan(copy['upper']) and copy['presult'] == 'pass' and copy['better'] == 'higher'
    assert time['unit'] == 's' and time['better'] == 'lower' and time['threads'] == '4'
    assert 'perf_value' not in f.columns


def test_field_count_mismatch_names_file_and_line(tmp_path):
    path = _write(tmp_path / 'Bad.log', 'result|display_name|x_value|x_unit|x_ref|x_lower_thres|x_upper_thres\n'
                  'pass|Bad|1|s|0|None|None\n\n'
                  'pass|Bad|1|s|0|None\n')
    with pytest.raises(InputError) as err:
        perflog.frame_from_perflog(path)
    assert str(err.value) == f'{path}: line 4: 6 fields, header has 7'


def test_not_a_perflog(tmp_path):
    for name, text in [('a.log', 'time,value\n1,2\n'), ('b.log', 'a|b|c\n1|2|3\n'),
                       ('c.log', '[2025-03-01T10:00:00] info: reframe: started\n')]:
        with pytest.raises(InputError) as err:
            perflog.frame_from_perflog(_write(tmp_path / name, text))
        assert str(err.value).startswith(f'{tmp_path / name}: {perflog.NOT_PERFLOG}')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(InputError, match='no perflog'):
        perflog.perflog_files(tmp_path / 'empty')


def test_blank_lines_and_none_values(tmp_path):
    path = _write(tmp_path / 'B.log', '\n'.join([
        'check_result|display_name|system|partition|environ|fail_phase|x_value|x_unit|x_ref|x_lower_thres|'
        'x_upper_thres',
        '', 'pass|B|s|p|e|None|None|us|None|None|None', '', '']))
    row = perflog.frame_from_perflog(path).iloc[0]
    assert math.isnan(row['value']) and math.isnan(row['ref']) and row['unit'] == 'us'
    assert pd.isna(row['fail_phase']) and row['result'] == 'pass'


def test_case_failed_before_performance_keeps_one_row(tmp_path):
    # ReFrame logs a failed case too; its perf block is one empty field
    path = _write(tmp_path / 'F.log',
                  'result|display_name|system|partition|environ|a_value|a_unit|a_ref|a_lower_thres|'
                  'a_upper_thres|b_value|b_unit|b_ref|b_lower_thres|b_upper_thres|tags\n'
                  'pass|F %n=1|s|p|e|1|us|0|None|None|2|us|0|None|None|x\n'
                  'fail|F %n=2|s|p|e||x\n')
    f = perflog.frame_from_perflog(path)
    assert len(f) == 3
    failed = _row(f, result='fail')
    assert math.isnan(failed['value']) and failed['n'] == '2' and failed['tags'] == 'x'
    assert pd.isna(failed['pvar'])


def test_test_without_perf_variables(tmp_path):
    # build fixtures log too, with an empty header field where perf vars would go
    header = 'result|display_name|system|partition|environ||short_name\n'
    fixture = _write(tmp_path / 'build.log', header + 'pass|build ~s:p+e|s|p|e||build_0123abcd\n')
    assert perflog.frame_from_perflog(fixture).empty
    failed = _write(tmp_path / 'other.log', header + 'fail|other|s|p|e||other\n')
    row = perflog.frame_from_perflog(failed).iloc[0]
    assert row['check'] == 'other' and row['result'] == 'fail' and math.isnan(row['value'])


def test_header_of_another_variant_is_refused(tmp_path):
    # one file per test class, one header from the first record: a variant with
    # other perf vars shows up as another unit under the same names
    path = _write(tmp_path / 'M.log', 'result|display_name|lat_1B_value|lat_1B_unit|lat_1B_ref|'
                  'lat_1B_lower_thres|lat_1B_upper_thres\n'
                  'pass|M %benchmark=latency|0.5|us|0|None|None\n'
                  'pass|M %benchmark=bw|5.0|MB/s|0|None|None\n')
    with pytest.raises(InputError, match="'lat_1B' has units"):
        perflog.frame_from_perflog(path)


def test_header_only_file_has_no_rows(tmp_path):
    path = _write(tmp_path / 'H.log', DEFAULT_HEADER + '\n\n')
    f = perflog.frame_from_perflog(path)
    assert f.empty and 'pvar' in f.columns


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match='no such file'):
        perflog.perflog_files(tmp_path / 'nope')
