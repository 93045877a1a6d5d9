"""A history store another process holds locked: waited for, then a clear
error naming the file (not "not an hpcval history store")."""
import sqlite3
import threading

import pytest

from hpcval.analysis import history, ingest
from hpcval import cli
from hpcval_cli import hpcval
from runreports import latency_case, report, write


def _run_report(tmp_path, i):
    uuid = f'00000000-0000-4000-8000-{i:012d}'
    path = tmp_path / f'run{i}' / 'report.json'
    path.parent.mkdir(parents=True)
    return write(path, report([latency_case({'8B': 1.0}, session=uuid)], session=uuid))


@pytest.fixture
def locked_store(tmp_path):
    '''A real store, and a connection of this process holding it exclusively.'''
    store = tmp_path / 'h.sqlite'
    history.add(store, ingest.load([_run_report(tmp_path, 0)]))
    con = sqlite3.connect(store, isolation_level=None, check_same_thread=False)   # released by a timer
    con.execute('BEGIN EXCLUSIVE')
    yield store, con
    con.close()


def _one_line(err, store):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(store) in lines[0], lines
    assert 'the history store is locked by another process' in lines[0], lines
    assert 'not an hpcval history store' not in lines[0]


def test_show_of_a_locked_store_says_it_is_locked(locked_store, tmp_path, capsys, monkeypatch):
    store, con = locked_store
    monkeypatch.setenv('HPCVAL_HISTORY_BUSY_TIMEOUT', '0.2')
    assert cli.main(['history', 'show', '--store', str(store), '-o', str(tmp_path / 'rep')]) == 2
    _one_line(capsys.readouterr().err, store)
    assert not (tmp_path / 'rep').exists()
    # a lock released within the timeout is waited for
    monkeypatch.setenv('HPCVAL_HISTORY_BUSY_TIMEOUT', '10')
    release = threading.Timer(0.5, con.execute, ['ROLLBACK'])
    release.start()
    try:
        res = history.add(store, ingest.load([_run_report(tmp_path, 1)]))
    finally:
        release.join()
    assert len(res.added) == 1 and history.checks(store) == ['MpiMicrobench']


def test_add_to_a_locked_store_says_it_is_locked(locked_store, tmp_path):
    store, _ = locked_store
    # another process, as a second `hpcval history add` would be
    proc = hpcval('history', 'add', _run_report(tmp_path, 1), '--store', store,
                  env={'HPCVAL_HISTORY_BUSY_TIMEOUT': '0.2'}, timeout=20)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    _one_line(proc.stderr, store)
