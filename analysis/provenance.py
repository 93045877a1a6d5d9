"""Where the numbers came from: per variant, and per ReFrame session."""
import pandas as pd

PROVENANCE_COLUMNS = ['system', 'partition', 'environ', 'check', 'runtime', 'mpi', 'fabric',
                      'num_nodes', 'mpi_library', 'transport', 'image', 'image_digest',
                      'implementation', 'backend', 'backend_version', 'hosts', 'job_nodelist']


def cases(frame):
    '''One row per distinct provenance, with how many test cases share it.'''
    cols = [c for c in PROVENANCE_COLUMNS if c in frame.columns]
    per_case = frame.drop_duplicates(['session_uuid', 'run_index', 'display_name', 'environ'])
    per_case = per_case[cols].astype(object).fillna('').astype(str)
    # a column nobody filled (no image on a bare run) says nothing: drop it
    cols = [c for c in cols if (per_case[c] != '').any()]
    out = per_case.groupby(cols, dropna=False).size().reset_index(name='cases')
    return out.sort_values(['check', 'environ']).reset_index(drop=True)


def outcomes(frame):
    '''One row per test case: result, failure phase and reason.'''
    per_case = frame.drop_duplicates(['session_uuid', 'run_index', 'display_name', 'environ'])
    cols = ['display_name', 'system', 'partition', 'environ', 'result', 'fail_phase', 'fail_reason']
    return per_case[[c for c in cols if c in per_case.columns]].reset_index(drop=True)


PASSED = ('pass', 'xfail')      # xfail: failed as the reference said it would
SKIPPED = ('skip',)


def summary(frame):
    per_case = outcomes(frame)
    res = per_case['result'] if 'result' in per_case.columns else []
    passed = int(res.isin(PASSED).sum()) if len(per_case) else 0
    skipped = int(res.isin(SKIPPED).sum()) if len(per_case) else 0
    return {'cases': len(per_case), 'passed': passed, 'skipped': skipped,
            'failed': len(per_case) - passed - skipped}


def environment(frame):
    '''Environment variables each check set (secret-looking values already redacted).'''
    if 'env_vars' not in frame.columns:
        return pd.DataFrame(columns=['check', 'environ', 'env_vars'])
    env = frame[['check', 'environ', 'env_vars']].astype(object).fillna('').astype(str)
    return env[env['env_vars'] != ''].drop_duplicates().reset_index(drop=True)
