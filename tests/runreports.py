"""Build ReFrame run reports (schema 3.1 - 4.2 layouts) for tests of the analysis."""
import json
import uuid as _uuid


def make_case(display_name, perf=None, result='pass', system='local', partition='default',
             environ='host-openmpi', run_index=0, fail_phase=None, fail_reason=None,
             data_version='4.2', session='s-1', **fields):
    '''perf: {pvar: (value, unit)}; fields: loggable attributes.'''
    pv = {}
    for pvar, (value, unit) in (perf or {}).items():
        entry = [value, 0, None, None, unit]
        if data_version >= '4.1':
            entry.append('pass')
        pv[f'{system}:{partition}:{pvar}'] = entry
    name = display_name
    tc = {'name': name, 'display_name': display_name, 'unique_name': name.split()[0],
          'system': system, 'partition': partition, 'environ': environ, 'result': result,
          'fail_phase': fail_phase, 'fail_reason': fail_reason, 'run_index': run_index,
          'session_uuid': session, 'job_nodelist': ['vm'], 'num_tasks': 2,
          'job_completion_time': '2026-11-28T16:00:00+00:00', 'perfvalues': pv,
          'job_stdout': 'rfm_job.out', 'fixture': False}
    tc.update(fields)
    return tc


def report(testcases, data_version='4.2', session='s-1', runs=None):
    runs = runs or [{'run_index': 0, 'num_cases': len(testcases), 'num_failures': 0,
                     'testcases': testcases}]
    return {'session_info': {'data_version': data_version, 'uuid': session, 'hostname': 'vm',
                             'version': '4.10.4', 'cmdline': 'reframe -r', 'time_start': '20261128T160000+0000',
                             'time_end': '20261128T160100+0000', 'time_elapsed': 60.0,
                             'num_cases': len(testcases), 'num_failures': 0, 'user': 'root',
                             'config_files': ['<builtin>', 'config/local.py']},
            'runs': runs, 'restored_cases': []}


def write(path, rep):
    path.write_text(json.dumps(rep))
    return path


def latency_case(values, **kw):
    perf = {f'latency_{k}': (v, 'us') for k, v in values.items()}
    return make_case('MpiMicrobench %num_nodes=1 %benchmark=latency', perf, benchmark='latency',
                    num_nodes=1, workload='mpi_microbench', runtime='bare', mpi='host',
                    mpi_library='Open MPI v4.1.4', hosts='vm', **kw)


def new_session():
    return str(_uuid.uuid4())
