"""The output-folder rule: hpcval writes only into an absent, empty or earlier
hpcval output folder, never over or around its inputs, and leaves nothing
half written behind (analysis/outdir.py)."""
import signal
import subprocess
import sys

import pytest

from hpcval.analysis import outdir
from hpcval.errors import InputError
from hpcval_cli import ROOT, hpcval
from runreports import latency_case, report, write


@pytest.fixture
def run1(tmp_path):
    '''runs/run1/report.json, a real-looking run.'''
    d = tmp_path / 'runs' / 'run1'
    d.mkdir(parents=True)
    write(d / 'report.json', report([latency_case({'8B': 1.5 + i / 10}, run_index=i) for i in range(6)]))
    return d


def _snapshot(root):
    return sorted((str(p.relative_to(root)), p.read_bytes() if p.is_file() and not p.is_symlink() else None)
                  for p in root.rglob('*'))


def _refused(proc, fragment):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert 'Traceback' not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and 'refused as output folder' in lines[0] and fragment in lines[0], proc.stderr


def test_a_folder_that_holds_or_is_the_input_is_refused_and_kept(run1, tmp_path):
    before = _snapshot(tmp_path)
    _refused(hpcval('report', run1, '-o', tmp_path / 'runs'), 'holds the input')
    _refused(hpcval('report', run1, '-o', run1), 'holds the input')
    _refused(hpcval('compare', run1, run1, '-o', tmp_path), 'holds the input')
    _refused(hpcval('report', tmp_path / 'runs', '-o', tmp_path / 'runs' / 'rep'), 'inside the input')
    assert _snapshot(tmp_path) == before


def test_a_folder_of_the_users_own_files_is_refused_and_kept(run1, tmp_path):
    docs = tmp_path / 'mydocs'
    docs.mkdir()
    (docs / 'thesis.tex').write_text('mine')
    before = _snapshot(tmp_path)
    _refused(hpcval('report', run1, '-o', docs), 'not an hpcval output')
    _refused(hpcval('compare', run1, run1, '-o', docs), 'not an hpcval output')
    assert _snapshot(tmp_path) == before


def test_a_symlink_a_file_and_odd_names_are_refused_without_a_traceback(run1, tmp_path):
    target = tmp_path / 'elsewhere'
    target.mkdir()
    (tmp_path / 'link').symlink_to(target)
    (tmp_path / 'afile').write_text('keep me')
    before = _snapshot(tmp_path)
    _refused(hpcval('report', run1, '-o', tmp_path / 'link'), 'symbolic link')
    _refused(hpcval('report', run1, '-o', tmp_path / 'afile'), 'not a folder')
    _refused(hpcval('report', run1, '-o', tmp_path / 'afile' / 'sub'), 'is not a folder')
    _refused(hpcval('report', run1, '-o', ''), 'empty path')
    _refused(hpcval('report', run1, '-o', '.'), "'.' or '..'")
    _refused(hpcval('report', run1, '-o', tmp_path / 'x' / '..'), "'.' or '..'")
    assert _snapshot(tmp_path) == before
    assert not list(tmp_path.glob('.afile.old-*'))


def test_absent_empty_and_earlier_outputs_are_written(run1, tmp_path):
    out = tmp_path / 'reports' / 'r'
    assert hpcval('report', run1, '-o', out).returncode == 0
    assert (out / outdir.MARKER).is_file() and (out / 'index.html').is_file()
    assert hpcval('report', run1, '-o', out).returncode == 0          # an earlier hpcval output
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert hpcval('compare', run1, run1, '-o', empty).returncode == 0
    legacy = tmp_path / 'legacy'                   # what hpcval wrote before the marker
    (legacy / 'tables').mkdir(parents=True)
    (legacy / 'index.html').write_text('<html>')
    assert outdir.check(legacy) == legacy
    (legacy / 'notes.txt').write_text('mine')
    with pytest.raises(InputError):
        outdir.check(legacy)
    leftovers = [p.name for p in (tmp_path / 'reports').iterdir() if p.name.startswith('.')]
    assert leftovers == []


def test_stale_temporary_and_old_folders_are_removed_on_the_next_run(run1, tmp_path):
    parent = tmp_path / 'reports'
    for stale in ('.r.tmp-abc', '.r.old-def'):
        (parent / stale / 'tables').mkdir(parents=True)
    (parent / '.other.tmp-keep').mkdir()          # another target's: not ours to remove now
    assert hpcval('report', run1, '-o', parent / 'r').returncode == 0
    assert sorted(p.name for p in parent.iterdir() if p.name.startswith('.')) == ['.other.tmp-keep']


_WRITER = '''
import signal, sys, time
sys.path.insert(0, {root!r})
from hpcval.analysis import outdir
from hpcval import cli
signal.signal(signal.SIGTERM, cli.on_sigterm)
with outdir.writing({out!r}) as tmp:
    (tmp / 'who').write_text({who!r} + ' ' + repr(time.time()))
    print('ready', flush=True)
    time.sleep(float({sleep!r}))
    t = time.time()
    (tmp / 'done').write_text(repr(t))
    print('done', t, flush=True)
'''


def _writer(out, who, sleep):
    code = _WRITER.format(root=str(ROOT), out=str(out), who=who, sleep=sleep)
    return subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)


def test_sigterm_removes_the_half_written_folder_and_keeps_the_old(tmp_path):
    out = tmp_path / 'r'
    first = _writer(out, 'first', 0)
    assert first.wait(60) == 0, first.stderr.read()
    proc = _writer(out, 'second', 60)
    assert proc.stdout.readline().strip() == 'ready'
    assert list(tmp_path.glob('.r.tmp-*'))         # it is half written now
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    assert proc.returncode != 0
    assert not list(tmp_path.glob('.r.tmp-*'))
    assert (out / 'who').read_text().startswith('first')


def test_concurrent_writers_are_serialised_and_one_whole_report_wins(tmp_path):
    out = tmp_path / 'r'
    a = _writer(out, 'a', 1.5)
    assert a.stdout.readline().strip() == 'ready'
    b = _writer(out, 'b', 0)
    assert a.wait(60) == 0 and b.wait(60) == 0, a.stderr.read() + b.stderr.read()
    a_done = float(a.stdout.read().split()[-1])
    who, started = (out / 'who').read_text().split()
    assert who == 'b' and (out / 'done').is_file() and (out / outdir.MARKER).is_file()
    assert float(started) >= a_done            # b waited for a's lock: it began after a had finished
    assert sorted(p.name for p in tmp_path.iterdir()) == ['r']


def test_killed_writer_leaves_a_temp_that_the_next_writer_removes(tmp_path):
    out = tmp_path / 'r'
    proc = _writer(out, 'killed', 60)
    assert proc.stdout.readline().strip() == 'ready'
    proc.kill()
    proc.wait(30)
    assert list(tmp_path.glob('.r.tmp-*'))
    after = _writer(out, 'next', 0)
    assert after.wait(60) == 0
    assert not list(tmp_path.glob('.r.tmp-*'))
    assert (out / 'who').read_text().startswith('next')
