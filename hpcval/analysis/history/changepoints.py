"""Change points of a trend: KernelCPD (PELT, l2 cost) on log(median), a BIC-type
penalty scaled by the robust noise, minimum segment length, then the practical
threshold; see the package doc and docs/statistics.md for the formulas."""
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hpcval.analysis.history.sessions import format_tags

DEFAULT_THRESHOLD = 0.05
MIN_SEGMENT = 3
PENALTY_BETA = 4.0
NOISE_FLOOR = 1e-4          # relative: a noise-free series still gets a finite penalty


def noise_sigma(z):
    '''Robust noise of a series: 1.4826 * MAD of the first differences / sqrt(2).'''
    d = np.diff(np.asarray(z, float))
    if len(d) == 0:
        return 0.0
    mad = np.median(np.abs(d - np.median(d)))
    sigma = 1.4826 * mad / math.sqrt(2)
    if sigma == 0:                    # quantised values: fall back on the plain spread
        sigma = float(np.std(d)) / math.sqrt(2)
    return float(sigma)


@dataclass
class ChangePoint:
    index: int                # position in the series of the first session after the change
    before: float             # median of the segment before
    after: float              # median of the segment after
    shift: float              # after / before - 1
    n_before: int             # sessions in the segment before
    n_after: int


def change_points(values, threshold=DEFAULT_THRESHOLD, min_size=MIN_SEGMENT, beta=PENALTY_BETA):
    '''Change points of a series of per-session medians (time-ordered), see the module doc.'''
    import ruptures
    y = np.asarray(values, dtype=float)
    n = len(y)
    if n < 2 * min_size or not np.isfinite(y).all() or (y <= 0).any():
        return []
    z = np.log(y)
    sigma = max(noise_sigma(z), NOISE_FLOOR)
    pen = beta * sigma * sigma * math.log(n)
    algo = ruptures.KernelCPD(kernel='linear', min_size=min_size).fit(z.reshape(-1, 1))
    bkps = [int(b) for b in algo.predict(pen=pen)[:-1]]
    while True:
        edges = [0] + bkps + [n]
        meds = [float(np.median(y[a:b])) for a, b in zip(edges[:-1], edges[1:])]
        shifts = [meds[i + 1] / meds[i] - 1.0 for i in range(len(bkps))]
        small = [i for i, s in enumerate(shifts) if abs(s) < threshold]
        if not small:
            break
        del bkps[min(small, key=lambda i: abs(shifts[i]))]
    return [ChangePoint(index=b, before=meds[i], after=meds[i + 1], shift=shifts[i],
                        n_before=edges[i + 1] - edges[i], n_after=edges[i + 2] - edges[i + 1])
            for i, b in enumerate(bkps)]


def verdict(shift, better):
    if better == 'lower':
        return 'regression' if shift > 0 else 'improvement'
    if better == 'higher':
        return 'regression' if shift < 0 else 'improvement'
    return 'change'


def _tag_diff(before, after):
    keys = sorted(set(before) | set(after))
    return '; '.join(f'{k}: {before.get(k, "-")} -> {after.get(k, "-")}' for k in keys
                     if before.get(k) != after.get(k))


def detect_all(series, threshold=DEFAULT_THRESHOLD, min_size=MIN_SEGMENT, beta=PENALTY_BETA):
    '''change_points of each series (a list of arrays): the default ``detect`` of analyse.'''
    return [change_points(y, threshold, min_size, beta) for y in series]


def analyse(hist, threshold=DEFAULT_THRESHOLD, min_size=MIN_SEGMENT, beta=PENALTY_BETA, detect=None):
    '''History -> (trend points with a 'segment_median' column, change-point table, per-series table).

    ``detect(list of arrays, threshold, min_size, beta) -> list of lists of ChangePoint``
    may run the detection elsewhere (the command line uses a process that
    imported ruptures while the store was read); default detect_all.
    '''
    points = hist.points
    sess = hist.sessions.set_index('session_uuid')
    tags = sess['tags'].to_dict()
    rows, series_rows = [], []
    seg_median = np.full(len(points), np.nan)
    starts = np.flatnonzero(np.r_[True, points['series_id'].to_numpy()[1:] != points['series_id'].to_numpy()[:-1]]) \
        if len(points) else np.array([], dtype=int)
    ends = np.r_[starts[1:], len(points)] if len(points) else np.array([], dtype=int)
    med_all = points['median'].to_numpy(float)
    uuid_all = points['session_uuid'].to_numpy(object)
    bounds = list(zip(starts.tolist(), ends.tolist()))
    found = (detect or detect_all)([med_all[a:b] for a, b in bounds], threshold, min_size, beta)
    for (a, b), cps in zip(bounds, found):
        y = med_all[a:b]
        first = points.iloc[a]
        edges = [0] + [c.index for c in cps] + [len(y)]
        for lo, hi in zip(edges[:-1], edges[1:]):
            seg_median[a + lo:a + hi] = np.median(y[lo:hi])
        for c in cps:
            u, prev = uuid_all[a + c.index], uuid_all[a + c.index - 1]
            s = sess.loc[u]
            rows.append({
                'series_id': int(first['series_id']), 'check': first['check'], 'case': first['case'],
                'pvar': first['pvar'], 'unit': first['unit'], 'better': first['better'],
                'system': first['system'], 'partition': first['partition'], 'environ': first['environ'],
                'session_uuid': u, 'session_time': s['time'].strftime('%Y-%m-%d %H:%M:%S UTC'),
                'hostname': s['hostname'], 'tags': format_tags(tags.get(u)),
                'tags_changed': _tag_diff(tags.get(prev) or {}, tags.get(u) or {}),
                'before': c.before, 'after': c.after, 'shift': c.shift, 'verdict': verdict(c.shift, first['better']),
                'sessions_before': c.n_before, 'sessions_after': c.n_after, 'previous_session_uuid': prev,
                'source': s['source'],
            })
        last = points.iloc[b - 1]
        series_rows.append({
            'series_id': int(first['series_id']), 'check': first['check'], 'case': first['case'],
            'pvar': first['pvar'], 'unit': first['unit'], 'better': first['better'], 'system': first['system'],
            'partition': first['partition'], 'environ': first['environ'], 'sessions': b - a,
            'first': first['time'].strftime('%Y-%m-%d %H:%M'), 'last': last['time'].strftime('%Y-%m-%d %H:%M'),
            'last_median': float(last['median']),
            'noise': noise_sigma(np.log(y[y > 0])) if (y > 0).sum() > 2 else math.nan,
            'change_points': len(cps), 'largest_shift': max((c.shift for c in cps), key=abs, default=math.nan),
        })
    points = points.assign(segment_median=seg_median)
    cp_cols = ['check', 'case', 'pvar', 'unit', 'better', 'verdict', 'shift', 'before', 'after', 'session_uuid',
               'session_time', 'hostname', 'tags', 'tags_changed', 'sessions_before', 'sessions_after',
               'previous_session_uuid', 'system', 'partition', 'environ', 'source', 'series_id']
    cps = pd.DataFrame(rows, columns=cp_cols)
    if not cps.empty:
        cps = cps.assign(_abs=cps['shift'].abs()).sort_values(
            ['_abs', 'check', 'case', 'pvar'], ascending=[False, True, True, True]).drop(columns='_abs')
        cps = cps.reset_index(drop=True)
    series = pd.DataFrame(series_rows, columns=[
        'series_id', 'check', 'case', 'pvar', 'unit', 'better', 'system', 'partition', 'environ', 'sessions',
        'first', 'last', 'last_median', 'noise', 'change_points', 'largest_shift'])
    return points, cps, series


