"""ReFrame's run report layouts, and how each maps onto the names ingest reads.

=============  ===============  ===================================================
data_version   ReFrame          test case layout
=============  ===============  ===================================================
3.0            4.0-4.2          ``perfvars``: list of {name, value, reference,
3.1            4.3-4.6          thres_lower, thres_upper, unit}; ``environment``;
                                ``system`` is ``sys:part``; results ``success``,
                                ``failure``, ``skipped``, ``aborted``;
                                ``nodelist``, ``jobid``; variables and parameters
                                in ``check_vars`` / ``check_params``; no session
                                uuid, no ``run_index``
4.0-4.2        4.7-4.10         ``perfvalues``: {"sys:part:pvar": [value, ref,
                                lower, upper, unit, result]}; ``environ``,
                                ``system``, ``partition``; results ``pass``,
                                ``fail``, ``skip``, ``abort``; ``job_nodelist``;
                                loggable variables as fields; session ``uuid``
=============  ===============  ===================================================
"""
import hashlib

# data_version 3.x result words -> 4.x
RESULTS_V3 = {'success': 'pass', 'failure': 'fail', 'skipped': 'skip', 'aborted': 'abort'}
_RENAMES_V3 = {'environment': 'environ', 'nodelist': 'job_nodelist', 'hash': 'hashcode'}
# variables in check_vars that are bulky or ReFrame's plumbing (as ingest's _SKIP for 4.x)
_V3_VARS_SKIPPED = {'valid_prog_environs', 'valid_systems', 'prebuild_cmds', 'postbuild_cmds', 'prerun_cmds',
                    'postrun_cmds', 'keep_files', 'readonly_files', 'tags', 'maintainers', 'modules',
                    'executable_opts', 'extra_resources', 'variables'}


def major(data):
    return str(data['session_info'].get('data_version', '')).split('.')[0]


def session_id(info):
    '''A session's uuid; data_version 3.x has none, so one is made from what
    identifies the session (its start time, host, user and command line).'''
    if info.get('uuid'):
        return info['uuid']
    key = '|'.join(str(info.get(k, '')) for k in ('time_start', 'hostname', 'user', 'cmdline'))
    return 'v3-' + hashlib.sha1(key.encode()).hexdigest()[:16]


def testcase_v3(tc):
    '''One data_version 3.x test case with the 4.x names (a new dict; the input is not changed).'''
    out = {_RENAMES_V3.get(k, k): v for k, v in tc.items() if k not in ('check_vars', 'check_params', 'perfvars')}
    for k, v in (tc.get('check_vars') or {}).items():
        if k not in _V3_VARS_SKIPPED:
            out.setdefault(k, v)
    for k, v in (tc.get('check_params') or {}).items():
        out.setdefault(k, v)
    result = tc.get('result')
    out['result'] = RESULTS_V3.get(result, result)
    system = tc.get('system')
    if isinstance(system, str) and ':' in system and not tc.get('partition'):
        out['system'], out['partition'] = system.split(':', 1)
    perfvars = tc.get('perfvars')
    if isinstance(perfvars, list) and not tc.get('perfvalues'):
        out['perfvalues'] = {
            str(p.get('name')): [p.get('value'), p.get('reference'), p.get('thres_lower'),
                                 p.get('thres_upper'), p.get('unit')]
            for p in perfvars if isinstance(p, dict)}
    return out
