"""A candidate image against the current one: functional results, verdicts, the bare control.

Input: the functional session (checks/image_functional.py and the $HOME
trap, checks/container_env.py, on both images) and the workload session,
in which both images ran interleaved.  The workload frame is split by the
``image`` parameter: the current image's cases are the baseline, the
candidate's the candidate, matched by their name without ``%image=``; the
verdicts are analysis.compare's.  The bare cases (no image) are the
control: each image's median against the bare median of the same variable
says which image moved, when the verdict says that one did.
"""
import re

import pandas as pd

from hpcval.analysis import cases as cases_mod
from hpcval.analysis import report as report_mod
from hpcval.analysis.compare import select_pvars
from hpcval.analysis.ingest import Dataset

IMAGE_TOKEN = re.compile(r'\s*%image=\S*')
FUNCTIONAL_CHECKS = ('ImageFunctional', 'ContainerEnvIsolation')
PASSED = 'pass'


def _one_image(frame, ref):
    f = frame[frame['image'].astype(str) == ref].copy()
    for col in ('display_name', 'case'):
        if col in f.columns:
            f[col] = cases_mod.strip_token(f[col], IMAGE_TOKEN)
    return f


def _side(ds, frame):
    uuids = set(frame['session_uuid'].dropna()) if 'session_uuid' in frame.columns else set()
    sessions = ds.sessions[ds.sessions['session_uuid'].isin(uuids)] if 'session_uuid' in ds.sessions else ds.sessions
    return Dataset(frame=frame.reset_index(drop=True), sessions=sessions, sources=list(ds.sources),
                   warnings=list(ds.warnings))


def _col(row, name):
    v = row.get(name)
    return '' if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)


def functional(frame):
    '''One row per image and functional check: what, result (pass/fail), detail.'''
    f = frame[frame['check'].isin(FUNCTIONAL_CHECKS)]
    f = f.drop_duplicates('case_id') if 'case_id' in f.columns else f.drop_duplicates('display_name')
    rows = []
    for _, r in f.iterrows():
        ok = str(r['result']) == PASSED
        reason = _col(r, 'fail_reason')
        if r['check'] == 'ContainerEnvIsolation':
            what = '$HOME / environment trap'
            detail = _col(r, 'resolved') or reason
        elif _col(r, 'probe') == 'smoke':
            what = 'smoke test'
            detail = f"`{_col(r, 'smoke_command')}`"
        elif _col(r, 'mpi') == 'host':
            what = 'host MPI injected'
            detail = (f"loaded {_col(r, 'mpi_library_path')}; the image's MPI: {_col(r, 'image_mpi')}"
                      if ok else _col(r, 'abi_reason') or reason)
            if not ok and _col(r, 'abi_reason'):
                reason = ''          # the sanity message repeats the ABI reason and what followed from it
        else:
            what = 'bundled MPI'
            own = ' under its own mpiexec' if _col(r, 'own_launcher') == 'True' else ''
            detail = f"{_col(r, 'image_mpi')}{own}" if ok else reason
        if not ok and reason and reason not in detail:
            detail = f'{detail}; {reason}' if detail else reason
        rows.append({'image': _col(r, 'image'), 'check': what, 'result': 'passed' if ok else 'FAILED',
                     'detail': detail})
    return pd.DataFrame(rows, columns=['image', 'check', 'result', 'detail'])


def images(frame, refs, index_entries):
    '''The images side by side: digest, size, where they came from, and the size ratio.'''
    rows = []
    for role, ref in refs:
        entry = index_entries.get(ref) or {}
        dirf = (entry.get('formats') or {}).get('dir') or {}
        src = entry.get('source') or {}
        origin = (f"imported {src.get('kind')} {src.get('path')}" if src
                  else f"built from {entry.get('recipe', '?')}")
        rows.append({'role': role, 'image': ref, 'digest': dirf.get('digest', ''),
                     'bytes': dirf.get('bytes'), 'origin': origin, 'loaded': _loaded(frame, ref)})
    t = pd.DataFrame(rows)
    if len(t) == 2 and t['bytes'].notna().all() and t['bytes'].iloc[1]:
        t['size_vs_current'] = [float(t['bytes'].iloc[0]) / float(t['bytes'].iloc[1]), 1.0]
    return t


def _loaded(frame, ref):
    '''The libraries the image's cases reported loading: its BLAS, its bundled MPI.'''
    f = frame[frame['image'].astype(str) == ref] if 'image' in frame.columns else frame.iloc[:0]
    parts = []
    for col, what, rows in (('blas_library', 'BLAS', f),
                            ('mpi_library_path', 'bundled MPI', f[f.get('mpi', pd.Series(dtype=str)) == 'bundled'])):
        if col in rows.columns:
            found = sorted({str(v) for v in rows[col].dropna() if str(v)})
            if found:
                parts.append(f"{what}: {', '.join(found)}")
    return '; '.join(parts)


def bare_control(frame, refs, pvars):
    '''Median per variable and MPI mode: bare, then each image, and each image / bare.'''
    m = select_pvars(cases_mod.measured(cases_mod.with_case(frame)), pvars)
    if m.empty:
        return pd.DataFrame()
    keys = ['check', 'pvar']
    bare = m[m['runtime'].astype(str) == 'bare'].groupby(keys)['value'].median().rename('bare')
    rows = []
    inside = m[m['runtime'].astype(str) != 'bare']
    for (check, pvar, mpi), g in inside.groupby(keys + ['mpi']):
        row = {'check': check, 'pvar': pvar, 'mpi': mpi, 'unit': g['unit'].iloc[0],
               'bare': bare.get((check, pvar))}
        for role, ref in refs:
            v = g[g['image'].astype(str) == ref]['value']
            row[role] = float(v.median()) if len(v) else None
            row[f'{role}_vs_bare'] = (row[role] / row['bare'] if row[role] is not None and row['bare']
                                      else None)
        rows.append(row)
    return pd.DataFrame(rows)


def build(func_ds, work_ds, candidate, current, index_entries, delta=0.05, pvars=None, alpha=0.05,
          title=None, measured=True, no_host_mpi=()):
    '''The validation report (analysis.document.Report of kind compare, with the
    functional results, the images and the bare control in ``extra``/tables).
    ``measured``: False when no workload ran (a smoke test failed): functional results only;
    ``no_host_mpi``: images that failed the host-MPI check: the mpi=host cases of neither
    image are compared (the functional failure already says why they cannot be).'''
    refs = [('candidate', candidate), ('current', current)]
    frame = work_ds.frame
    if set(no_host_mpi) & {candidate, current} and 'mpi' in frame.columns:
        frame = frame[~((frame['mpi'].astype(str) == 'host') & (frame['runtime'].astype(str) != 'bare'))]
    title = title or f'Image validation: {candidate} against {current}'
    if measured:
        base = _side(work_ds, _one_image(frame, current))
        cand = _side(work_ds, _one_image(frame, candidate))
        rep = report_mod.build_compare(base, cand, delta=delta, alpha=alpha, title=title, pvars=pvars)
    else:
        rep = _unmeasured(func_ds, title, delta, alpha, pvars)
    func = functional(func_ds.frame)
    rep.tables['functional'] = func
    rep.tables['images'] = images(frame, refs, index_entries)
    rep.tables['bare_control'] = bare_control(frame, refs, pvars) if measured else pd.DataFrame()
    rep.sources = list(func_ds.sources) + list(work_ds.sources)
    failed = func[(func['image'] == candidate) & (func['result'] != 'passed')]
    rep.extra.update(kind='validate-image', candidate=candidate, current=current, no_host_mpi=list(no_host_mpi),
                     baseline=[current], functional_failed=failed,
                     verdict=('REGRESSION' if rep.summary.get('REGRESSION') else
                              'FUNCTIONAL FAILURE' if len(failed) else 'PASS'))
    if len(failed) and rep.extra['verdict'] == 'REGRESSION':
        rep.extra['verdict'] = 'REGRESSION and FUNCTIONAL FAILURE'
    return rep


def _unmeasured(ds, title, delta, alpha, pvars):
    from hpcval.analysis import compare as compare_mod
    from hpcval.analysis.document import Report
    empty = pd.DataFrame(columns=['case', 'environ', 'pvar', 'verdict'])
    rep = Report(title=title, summary={}, sessions=ds.sessions.assign(side='functional'), sources=ds.sources)
    rep.tables.update(verdicts=empty, one_side_only=pd.DataFrame(columns=['side', 'case', 'environ', 'pvar']),
                      failures=pd.DataFrame(columns=['case', 'fail_base', 'fail_cand', 'verdict']),
                      sessions=rep.sessions)
    rep.extra.update(delta=delta, alpha=alpha, strict=False, pvars=list(pvars or []),
                     undecided=empty, failure_verdicts=compare_mod.failure_verdicts(
                         pd.DataFrame(columns=['verdict', 'why'])))
    return rep
