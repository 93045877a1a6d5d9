"""Where the numbers came from: per variant, and per ReFrame session."""
import pandas as pd

from hpcval.analysis import cases as cases_mod

PROVENANCE_COLUMNS = ['system', 'partition', 'environ', 'check', 'runtime', 'mpi', 'fabric',
                      'num_nodes', 'mpi_library', 'mpi_library_path', 'transport', 'image', 'image_digest',
                      'implementation', 'backend', 'backend_version']
NODE_COLUMNS = ['hosts', 'job_nodelist']
MAX_NODES_SHOWN = 12


def _node_union(lists):
    nodes = sorted({n for text in lists for n in str(text).split(',') if n and n != 'nan'})
    if len(nodes) <= MAX_NODES_SHOWN:
        return ','.join(nodes)
    return ','.join(nodes[:MAX_NODES_SHOWN]) + f',... ({len(nodes)} nodes)'


def cases(frame):
    '''One row per distinct provenance, with how many test cases share it and on which nodes.'''
    cols = [c for c in PROVENANCE_COLUMNS if c in frame.columns]
    node_cols = [c for c in NODE_COLUMNS if c in frame.columns]
    per_case = cases_mod.per_case(frame, cols + node_cols)
    per_case = per_case[cols + node_cols].astype(object).fillna('').astype(str)
    # a column nobody filled (no image on a bare run) says nothing: drop it
    cols = [c for c in cols if (per_case[c] != '').any()]
    g = per_case.groupby(cols, dropna=False)
    out = g.size().rename('cases').to_frame()
    for c in node_cols:
        out[c] = g[c].agg(lambda s: _node_union(s.unique()))
    out = out.reset_index()
    return out[[c for c in out.columns if c != 'cases'] + ['cases']].sort_values(
        ['check', 'environ']).reset_index(drop=True)


def outcomes(frame):
    '''One row per test case: result, failure phase and reason.'''
    cols = ['display_name', 'system', 'partition', 'environ', 'result', 'fail_phase', 'fail_reason']
    per_case = cases_mod.per_case(frame, cols)
    return per_case[[c for c in cols if c in per_case.columns]].reset_index(drop=True)


def summary(frame, per_case=None):
    per_case = outcomes(frame) if per_case is None else per_case
    res = per_case['result'] if 'result' in per_case.columns else []
    passed = int(res.isin(cases_mod.PASSED).sum()) if len(per_case) else 0
    skipped = int(res.isin(cases_mod.SKIPPED).sum()) if len(per_case) else 0
    # a perflog that logs no result: measured, neither passed nor failed
    unknown = int((res == cases_mod.UNKNOWN).sum()) if len(per_case) else 0
    return {'cases': len(per_case), 'passed': passed, 'skipped': skipped, 'unknown': unknown,
            'failed': len(per_case) - passed - skipped - unknown}


def environment(frame):
    '''Environment variables each check set (secret-looking values already redacted).'''
    if 'env_vars' not in frame.columns:
        return pd.DataFrame(columns=['check', 'environ', 'env_vars'])
    env = cases_mod.per_case(frame, ['check', 'env_vars'])[['check', 'environ', 'env_vars']]
    env = env.drop_duplicates().astype(object).fillna('').astype(str)
    return env[env['env_vars'] != ''].drop_duplicates().reset_index(drop=True)
