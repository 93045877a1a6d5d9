"""`hpcval history add|show` as a user calls them: real ReFrame runs, and a planted shift."""
import json
import sqlite3

import pandas as pd
import pytest

from benchmarks.history_scale import AFTER, BEFORE, make_history
from hpcval_cli import hpcval


@pytest.fixture(scope='module')
def real_runs(tmp_path_factory):
    '''Two real ReFrame sessions of the latency microbenchmark, tagged by --session-extras.'''
    runs = tmp_path_factory.mktemp('runs')
    for patch in ('A', 'B'):
        proc = hpcval('run', 'mpi_microbench', '--name', 'hist', '-S', 'MpiMicrobench.max_message_size=8',
                      '-S', 'MpiMicrobench.num_iters=100', '--', '-n', '%benchmark=latency',
                      '--session-extras', f'os_patch={patch}', runs=runs)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return runs / 'hist'


def test_add_real_runs_is_idempotent_and_keeps_their_tags(real_runs, tmp_path):
    store = tmp_path / 'history.sqlite'
    proc = hpcval('history', 'add', real_runs, env={'HPCVAL_HISTORY': str(store)})   # store from the env
    assert proc.returncode == 0, proc.stderr
    assert '2 session(s) added, 0 already present' in proc.stdout
    assert 'os_patch=A' in proc.stdout and 'os_patch=B' in proc.stdout
    again = hpcval('history', 'add', real_runs, '--store', store)
    assert again.returncode == 0 and '0 session(s) added, 2 already present, 0 value row(s)' in again.stdout
    con = sqlite3.connect(store)
    tags = [json.loads(t) for (t,) in con.execute('SELECT tags FROM sessions ORDER BY time_start')]
    rows = con.execute("SELECT COUNT(*) FROM results JOIN series ON series.id = series_id "
                       "WHERE check_name = 'MpiMicrobench' AND pvar = 'latency_8B'").fetchone()[0]
    con.close()
    assert [t['os_patch'] for t in tags] == ['A', 'B']
    assert all(t['hpcval_campaign'] == 'hist' and t.get('hpcval_git') for t in tags)
    assert rows == 2
    out = tmp_path / 'rep'
    show = hpcval('history', 'show', 'MpiMicrobench', '--pvar', 'latency_*', '--store', store, '-o', out)
    assert show.returncode == 0, show.stderr
    assert '2 session(s)' in show.stdout and '0 change point(s)' in show.stdout
    trends = pd.read_csv(out / 'tables' / 'trends.csv')
    assert set(trends['pvar']) == {'latency_1B', 'latency_2B', 'latency_4B', 'latency_8B'}
    assert len(trends) == 8 and (trends['median'] > 0).all()
    assert len(list((out / 'figures').glob('*.png'))) == 4 and (out / 'report.md').exists()


@pytest.fixture(scope='module')
def planted(tmp_path_factory):
    '''40 synthetic sessions; from session 25 on, 8-node cases take 20 % longer (os_patch changes).'''
    root = tmp_path_factory.mktemp('synth')
    paths = make_history(root / 'runs', sessions=40, shift_at=25, extra_pvars=2)
    store = root / 'history.sqlite'
    proc = hpcval('history', 'add', root / 'runs', '--store', store)
    assert proc.returncode == 0, proc.stderr
    assert '40 session(s) added' in proc.stdout
    return store, json.loads(paths[25].read_text())['session_info']['uuid']


def test_show_finds_the_planted_change_point_with_its_session_and_tag(planted, tmp_path):
    store, uuid = planted
    out = tmp_path / 'reports' / 'hist'
    proc = hpcval('history', 'show', '--store', store, '-o', out)
    assert proc.returncode == 0, proc.stderr
    assert '3 change point(s) (3 regression(s)' in proc.stdout
    assert uuid in proc.stdout and f'os_patch: {BEFORE} -> {AFTER}' in proc.stdout
    cps = pd.read_csv(out / 'tables' / 'change_points.csv')
    assert set(cps['session_uuid']) == {uuid}
    assert set(cps['pvar']) == {'time', 'rate_0', 'rate_1'}
    assert cps['case'].str.contains('%num_nodes=8').all()
    assert cps['tags'].str.contains(f'os_patch={AFTER}').all()
    assert ((cps['shift'].abs() > 0.12) & (cps['shift'].abs() < 0.28)).all()
    assert (cps['hostname'] == 'synth-login').all()
    html = (out / 'index.html').read_text()
    assert uuid in html and f'os_patch={AFTER}' in html
    assert html.count('data:image/png;base64,') == 12          # 4 node counts x 3 pvars
    assert len(list((out / 'figures').glob('trend_*.png'))) == 12
    assert len(pd.read_csv(out / 'tables' / 'sessions.csv')) == 40
    # the series with change points are drawn first
    captions = [c.split('</figcaption>')[0] for c in html.split('<figcaption>')[1:]]
    assert all('%num_nodes=8' in c for c in captions[:3]) and '%num_nodes=8' not in captions[3]


def test_show_selects_by_check_and_pvar_and_rewrites_atomically(planted, tmp_path):
    store, uuid = planted
    out = tmp_path / 'rep'
    first = hpcval('history', 'show', 'Synth*', '--store', store, '-o', out, '--max-figures', '1')
    assert first.returncode == 0, first.stderr
    (out / 'tables' / 'stale.csv').write_text('old')      # in an earlier hpcval output: replaced whole
    proc = hpcval('history', 'show', 'Synth*', '--pvar', 'time', '--store', store, '-o', out, '--max-figures', '2')
    assert proc.returncode == 0, proc.stderr
    assert '1 change point(s)' in proc.stdout and '4 series' in proc.stdout
    assert not (out / 'tables' / 'stale.csv').exists()
    assert len(list((out / 'figures').glob('*.png'))) == 2
    assert pd.read_csv(out / 'tables' / 'change_points.csv')['session_uuid'].tolist() == [uuid]


def test_errors_are_one_line_and_exit_2(planted, tmp_path):
    store, _ = planted
    out = tmp_path / 'rep'
    missing = tmp_path / 'none.sqlite'
    unknown = hpcval('history', 'show', 'NoSuchCheck', '--store', store, '-o', out)
    nostore = hpcval('history', 'show', '--store', missing, '-o', out)
    bad = tmp_path / 'bad.json'
    bad.write_text('{"results": []}')
    badadd = hpcval('history', 'add', bad, '--store', missing)
    for proc, words in ((unknown, ["no usable values for check 'NoSuchCheck'", 'SynthApp']),
                        (nostore, [str(missing), 'no history store here']),
                        (badadd, [str(bad), 'not a ReFrame run report'])):
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert all(w in lines[0] for w in words), lines[0]
    assert not out.exists() and not missing.exists()
