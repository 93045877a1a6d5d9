"""The history store (atomic, idempotent, clear errors), trends and change points."""
import math
import sqlite3
import time

import numpy as np
import pandas as pd
import pytest

from hpcval.analysis import history, ingest
from hpcval.errors import InputError
from hpcval import cli
from runreports import latency_case, report, write

T0 = 1767225600          # 2026-01-01T00:00:00Z


def _session(tmp_path, i, latency=1.0, tags=None, runs=3):
    '''One run report of session number i (start T0 + i hours) with `runs` latency cases.'''
    uuid = f'00000000-0000-4000-8000-{i:012d}'
    cases = [latency_case({'8B': latency * (1 + 0.001 * r)}, session=uuid) for r in range(runs)]
    rep = report(cases, session=uuid)
    start = T0 + 3600 * i
    rep['session_info'].update(time_start=time.strftime('%Y%m%dT%H%M%S+0000', time.gmtime(start)),
                               time_start_unix=start, **(tags or {}))
    path = tmp_path / f'run{i:03d}' / 'report.json'
    path.parent.mkdir(parents=True, exist_ok=True)
    return write(path, rep)


def _count(store, table):
    con = sqlite3.connect(store)
    try:
        return con.execute(f'SELECT COUNT(*) FROM {table}').fetchone()[0]
    finally:
        con.close()


def test_add_is_idempotent(tmp_path):
    store = tmp_path / 'h.sqlite'
    paths = [_session(tmp_path, i) for i in range(3)]
    first = history.add(store, ingest.load(paths[:2]))
    assert len(first.added) == 2 and first.present == [] and first.rows == 6
    again = history.add(store, ingest.load(paths))
    assert [s['uuid'] for s in again.added] == ['00000000-0000-4000-8000-000000000002']
    assert len(again.present) == 2 and again.rows == 3
    third = history.add(store, ingest.load(paths))
    assert third.added == [] and len(third.present) == 3 and third.rows == 0
    assert _count(store, 'sessions') == 3 and _count(store, 'results') == 9 and _count(store, 'points') == 3


def test_a_session_given_twice_in_one_input_is_read_once(tmp_path):
    path = _session(tmp_path, 0)
    copy = tmp_path / 'copy' / 'report.json'
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    res = history.add(tmp_path / 'h.sqlite', ingest.load([path, copy]))
    assert len(res.added) == 1 and res.rows == 3 and res.duplicates == [(str(copy), res.added[0]['uuid'])]


def test_add_is_atomic(tmp_path, monkeypatch):
    store = tmp_path / 'h.sqlite'
    history.add(store, ingest.load([_session(tmp_path, 0)]))
    before = store.read_bytes()
    from hpcval.analysis.history import store as store_mod
    real = store_mod._insert

    def crash_after_writing(con, prep, now):
        real(con, prep, now)                       # every row written, then the crash
        assert con.execute('SELECT COUNT(*) FROM results').fetchone()[0] >= 3
        raise RuntimeError('power cut')
    monkeypatch.setattr(store_mod, '_insert', crash_after_writing)
    with pytest.raises(RuntimeError):
        history.add(store, ingest.load([_session(tmp_path, 1), _session(tmp_path, 2)]))
    assert _count(store, 'sessions') == 1 and _count(store, 'results') == 3 and _count(store, 'points') == 1
    assert store.read_bytes() == before
    # a failed first add leaves no store, not even an empty one, and no temporary file
    fresh = tmp_path / 'new' / 'h.sqlite'
    with pytest.raises(RuntimeError):
        history.add(fresh, ingest.load([_session(tmp_path, 3)]))
    assert list(fresh.parent.iterdir()) == []


@pytest.mark.parametrize('content,fault', [
    (b'this is not a database, just text' * 100, 'not an hpcval history store'),
    (None, 'not an hpcval history store (no schema_version'),      # SQLite, but not ours
])
def test_corrupt_or_foreign_store_is_a_clear_error(tmp_path, capsys, content, fault):
    store = tmp_path / 'h.sqlite'
    if content is None:
        con = sqlite3.connect(store)
        con.execute('CREATE TABLE meta (key TEXT, value TEXT)')
        con.commit()
        con.close()
    else:
        store.write_bytes(content)
    before = store.read_bytes()
    dataset = ingest.load([_session(tmp_path, 0)])
    with pytest.raises(InputError) as err:
        history.add(store, dataset)
    assert str(store) in str(err.value) and fault in str(err.value)
    with pytest.raises(InputError, match='not an hpcval history store'):
        history.load(store)
    with pytest.raises(InputError, match='not an hpcval history store'):
        history.values(store)
    assert cli.main(['history', 'show', '--store', str(store), '-o', str(tmp_path / 'rep')]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and str(store) in err_lines[0] and fault in err_lines[0]
    assert store.read_bytes() == before and not (tmp_path / 'rep').exists()


def test_missing_store_is_a_clear_error_and_is_not_created(tmp_path):
    store = tmp_path / 'none.sqlite'
    with pytest.raises(InputError, match='no history store here'):
        history.load(store)
    assert not store.exists()


def test_bad_input_writes_nothing(tmp_path, capsys):
    good = _session(tmp_path, 0)
    bad = tmp_path / 'bad.json'
    bad.write_text('{"session_info": {"data_version": "4.2"}, "runs": [')
    store = tmp_path / 'store' / 'h.sqlite'
    assert cli.main(['history', 'add', str(good), str(bad), '--store', str(store)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and 'truncated JSON' in err[0]
    assert not store.parent.exists()


def test_tags_are_the_session_extras_and_secrets_are_redacted():
    info = {'uuid': 'u', 'hostname': 'h', 'time_start': 'x', 'num_cases': 3, 'version': '4.10.4',
            'hpcval_campaign': 'nightly', 'os_patch': '2026-02', 'api_token': 'hunter2', 'seed': 7}
    assert history.tags_of(info) == {'api_token': '<redacted>', 'hpcval_campaign': 'nightly',
                                     'os_patch': '2026-02', 'seed': '7'}


def test_trends_are_per_session_medians_in_time_order(tmp_path):
    store = tmp_path / 'h.sqlite'
    paths = [_session(tmp_path, i, latency=1.0 + i) for i in range(4)]
    history.add(store, ingest.load(paths[::-1]))          # input order is not time order
    points = history.load(store).points
    assert list(points['session_uuid'].str[-1]) == ['0', '1', '2', '3']
    assert points['median'].tolist() == pytest.approx([1.001 * (1 + i) for i in range(4)])
    assert (points['runs'] == 3).all() and set(points['pvar']) == {'latency_8B'}
    # the medians stored at add time are those of the stored values
    again = history.trends(history.values(store))
    pd.testing.assert_frame_equal(again, points)


def _noise(rng, n, cov):
    sigma = math.sqrt(math.log1p(cov * cov))
    return np.exp(sigma * rng.standard_normal(n))


@pytest.mark.parametrize('seed', range(10))
def test_a_20_percent_step_is_found_at_its_session(seed):
    rng = np.random.default_rng(seed)
    y = 100 * _noise(rng, 120, 0.05)
    y[77:] *= 1.2
    cps = history.change_points(y)
    assert [c.index for c in cps] == [77]
    assert cps[0].shift == pytest.approx(0.2, abs=0.04)
    assert cps[0].before == pytest.approx(100, rel=0.03) and cps[0].n_before == 77 and cps[0].n_after == 43


@pytest.mark.parametrize('seed', range(10))
def test_pure_noise_with_the_same_cov_has_no_change_point(seed):
    rng = np.random.default_rng(1000 + seed)
    assert history.change_points(100 * _noise(rng, 120, 0.05)) == []


def test_small_shift_outliers_and_short_series_make_no_change_point():
    rng = np.random.default_rng(7)
    y = 100 * _noise(rng, 200, 0.01)
    y[100:] *= 1.03                                   # real, but below the 5 % threshold
    y[[20, 150]] *= 1.6                               # two wild sessions
    assert history.change_points(y) == []
    assert [c.index for c in history.change_points(y, threshold=0.02)] == [100]
    assert history.change_points([1.0, 1.0, 1.0, 2.0, 2.0]) == []      # < 2 segments of 3


def _step_store(tmp_path, n=24, at=15):
    store = tmp_path / 'h.sqlite'
    rng = np.random.default_rng(3)
    lat = 1.0 * _noise(rng, n, 0.02)
    lat[at:] *= 1.3
    paths = [_session(tmp_path, i, latency=float(lat[i]),
                      tags={'os_patch': '<b>B</b>' if i >= at else 'A', 'hpcval_campaign': 'nightly',
                            'site': 'a|b'})
             for i in range(n)]
    history.add(store, ingest.load(paths))
    return store, f'00000000-0000-4000-8000-{at:012d}'


def test_tags_reach_the_change_point_table(tmp_path):
    store, planted = _step_store(tmp_path)
    points, cps, series = history.analyse(history.load(store, check='MpiMicrobench'))
    assert len(cps) == 1
    cp = cps.iloc[0]
    assert cp['session_uuid'] == planted and cp['verdict'] == 'regression'   # latency: lower is better
    assert cp['shift'] == pytest.approx(0.3, abs=0.05)
    assert 'os_patch=<b>B</b>' in cp['tags'] and 'hpcval_campaign=nightly' in cp['tags']
    assert cp['tags_changed'] == 'os_patch: A -> <b>B</b>'
    assert cp['hostname'] == 'vm' and cp['session_time'] == '2026-01-01 15:00:00 UTC'
    assert series.iloc[0]['change_points'] == 1 and series.iloc[0]['sessions'] == 24


def test_report_is_written_whole_with_escaped_tags(tmp_path):
    store, planted = _step_store(tmp_path)
    out = tmp_path / 'rep'
    rep = history.build(history.load(store), title='history test')
    index = history.render(rep, out)
    html = index.read_text()
    assert planted in html and 'os_patch=&lt;b&gt;B&lt;/b&gt;' in html and '<b>B</b>' not in html
    assert html.count('data:image/png;base64,') == 1 and len(list((out / 'figures').glob('trend_*.png'))) == 1
    md = (out / 'report.md').read_text()
    assert planted in md and 'site=a\\|b' in md and 'site=a|b' not in md     # one table cell
    cps = pd.read_csv(out / 'tables' / 'change_points.csv')
    assert cps['session_uuid'].tolist() == [planted]
    assert len(pd.read_csv(out / 'tables' / 'trends.csv')) == 24
    assert len(pd.read_csv(out / 'tables' / 'sessions.csv')) == 24
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.rep')]


def test_figures_are_limited_change_points_first(tmp_path):
    store, planted = _step_store(tmp_path)
    rep = history.build(history.load(store), max_figures=0)
    assert rep.figures == {} and len(rep.tables['change_points']) == 1


def test_failed_cases_are_kept_but_not_in_the_trend(tmp_path):
    from runreports import make_case
    path = _session(tmp_path, 0, runs=2)
    rep = __import__('json').loads(path.read_text())
    rep['runs'][0]['testcases'].append(make_case('MpiMicrobench %num_nodes=1 %benchmark=latency', result='fail',
                                                 fail_phase='run', session=rep['session_info']['uuid']))
    write(path, rep)
    store = tmp_path / 'h.sqlite'
    assert history.add(store, ingest.load([path])).rows == 3
    assert _count(store, 'results') == 3
    points = history.load(store).points
    assert points['runs'].tolist() == [2] and points['median'].tolist() == pytest.approx([1.0005])


def test_the_command_lines_worker_processes_give_the_same_results(tmp_path):
    from hpcval.cli.history import Workers
    store, planted = _step_store(tmp_path)
    hist = history.load(store)
    rep = history.build(hist)
    specs = [spec for _caption, spec in rep.figures.values()] * 8
    workers = Workers(cores=2)
    try:
        series = [hist.points['median'].to_numpy()] * 3
        assert workers.detect(series, 0.05, 3, 4.0) == history.detect_all(series)
        assert workers.draw(specs) == history.draw_all(specs[:1]) * 8     # same spec, same bytes
    finally:
        workers.close()


def test_perflogs_need_a_session_uuid(tmp_path):
    from test_perflog import PROJECT_LOG         # two lines of this project's real perflog format
    header, *lines = PROJECT_LOG.splitlines()
    plain = tmp_path / 'plain' / 'MatmulBench.log'
    plain.parent.mkdir()
    plain.write_text(PROJECT_LOG)
    with pytest.raises(InputError, match='perflog lines without a session uuid') as err:
        history.prepare(ingest.load([plain]))
    assert str(plain) in str(err.value)
    logged = tmp_path / 'logged' / 'MatmulBench.log'
    logged.parent.mkdir()
    logged.write_text('\n'.join([header + '|session_uuid'] + [line + '|s-perf' for line in lines]) + '\n')
    store = tmp_path / 'h.sqlite'
    res = history.add(store, ingest.load([logged]))
    assert [s['uuid'] for s in res.added] == ['s-perf'] and res.rows > 0
    points = history.load(store).points
    assert set(points['runs']) == {2} and points['time'].iloc[0] == pd.Timestamp('2026-11-28T16:38:17', tz='UTC')


def test_the_history_report_needs_no_scipy():
    '''`history show` writes through the shared report machinery without importing
    scipy (ruptures imports it later, in a helper process, while the store is read).'''
    import subprocess
    import sys
    code = ('import sys; import hpcval.analysis.history, hpcval.analysis.document, hpcval.cli.history; '
            'print(sorted(m for m in sys.modules if m.split(".")[0] in ("scipy", "ruptures")))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '[]'
