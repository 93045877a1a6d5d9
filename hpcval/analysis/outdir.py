"""Writing a report directory: the output-folder rule, CSV tables, the atomic swap.

The rule (every command that writes a folder: ``report``, ``compare``,
``history show``): hpcval writes only into a folder that is absent, empty,
or an earlier hpcval output, which it knows by the marker file
``.hpcval-output`` it writes into each (a folder of the layout hpcval wrote
before markers, nothing but ``index.html``, ``report.md``, ``tables/``,
``figures/``, counts as one).  Refused, with the folder and the reason: a
symbolic link (not followed: the link may point at anything), a file, a
folder with other content, ``.``/``..``, a folder that holds or lies above
an input, and one inside an input (inputs are never modified).

A report is built in ``.NAME.tmp-*`` beside the target and renamed into
place, the old one moved to ``.NAME.old-*`` and removed: a reader never
sees half a report.  Writers of one target are serialised by ``flock`` on
``.NAME.lock`` beside it (removed by its holder), so one whole report
wins; under that lock the temporary and old folders of killed runs are
removed.  SIGTERM and SIGINT
raise in the main thread (``hpcval.cli``), and the temporary folder goes.

Light on imports on purpose (no scipy): `hpcval history show` has a time
budget and shares these with `hpcval report`.
"""
import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from hpcval.errors import InputError

MARKER = '.hpcval-output'
_LEGACY = {'index.html', 'report.md', 'tables', 'figures'}     # what hpcval wrote before the marker


#: what a spreadsheet takes for the start of a formula (OWASP, CSV Injection)
FORMULA_START = ('=', '+', '-', '@', '\t', '\r')


def text_cell(text):
    '''A text cell as written to CSV: one that a spreadsheet would run as a
    formula (starting with = + - @ TAB or CR) gets a leading single quote.'''
    return "'" + text if text.startswith(FORMULA_START) else text


def _defuse(arr):
    '''text_cell on every string of an Arrow array, vectorised; other types unchanged.'''
    import pyarrow as pa
    import pyarrow.compute as pc
    if pa.types.is_dictionary(arr.type):
        return pa.DictionaryArray.from_arrays(arr.indices, _defuse(arr.dictionary))
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return arr
    risky = pc.match_substring_regex(arr, '^[=+\\-@\t\r]')
    if not pc.any(risky).as_py():
        return arr
    return pc.if_else(risky, pc.binary_join_element_wise("'", arr, ''), arr)


def write_csv(df, path):
    '''CSV through Arrow's writer: the results table has a row per perf value (1M at 100k cases).

    Text from a run is hostile (OWASP, CSV Injection): a text cell starting
    with ``=``, ``+``, ``-``, ``@``, TAB or CR, header names included, is
    written with a leading single quote (``'=cmd|...``, ``'-1+2``) so a
    spreadsheet shows it as text instead of running it as a formula.  Numeric
    columns are written as they are (a negative number stays a number); code
    that parses the CSV sees the ``'`` on such text cells only.
    '''
    import pyarrow as pa
    import pyarrow.csv as pacsv
    arrays = []
    for name in df.columns:
        col = df[name]
        try:
            arrays.append(_defuse(pa.array(col, from_pandas=True)))
        except (pa.ArrowTypeError, pa.ArrowInvalid, pa.ArrowNotImplementedError):
            # numbers and text mixed in one column: write it as text (only text cells quoted)
            arrays.append(pa.array(col.astype(object).where(col.notna(), None).map(
                lambda v: v if v is None else text_cell(v) if isinstance(v, str) else str(v)), from_pandas=True))
    pacsv.write_csv(pa.Table.from_arrays(arrays, names=[text_cell(str(c)) for c in df.columns]), path)


def _refuse(path, why):
    raise InputError(path, f'refused as output folder: {why}')


def check(outdir, inputs=()):
    '''The folder ``outdir`` stands for, if hpcval may write it; else InputError naming why.'''
    text = str(outdir)
    if not text.strip():
        _refuse(repr(text), 'empty path')
    given = Path(text)
    if given.name in ('', '.', '..'):
        _refuse(text, "'.' or '..' is not a folder name: name the report folder, e.g. reports/NAME")
    if given.is_symlink():
        _refuse(text, 'a symbolic link (not followed): give the folder itself')
    for up in [given.parent, *given.parent.parents]:
        if up.exists() or up.is_symlink():
            if not up.is_dir():
                _refuse(text, f'{up} is not a folder')
            break
    target = given.parent.resolve() / given.name
    for source in inputs:
        real = Path(source).resolve()
        if target == real or target in real.parents:
            _refuse(text, f'holds the input {source}')
        if real in target.parents:
            _refuse(text, f'lies inside the input {source} (inputs are never modified)')
    if target.exists():
        if not target.is_dir():
            _refuse(text, 'exists and is not a folder')
        entries = {e.name for e in os.scandir(target)}
        legacy = {'index.html', 'tables'} <= entries <= _LEGACY
        if entries and MARKER not in entries and not legacy:
            _refuse(text, f'exists and is not an hpcval output (no {MARKER}): hpcval writes only into '
                          'an absent or empty folder or an earlier hpcval output')
    return target


def _marker(kind):
    from importlib.metadata import PackageNotFoundError, version
    try:
        ours = version('hpcval')
    except PackageNotFoundError:
        ours = 'unknown'
    return json.dumps({'written_by': 'hpcval', 'version': ours, 'kind': kind,
                       'time': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}) + '\n'


def _clean_stale(target):
    for pattern in (f'.{target.name}.tmp-*', f'.{target.name}.old-*'):
        for stale in target.parent.glob(pattern):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)


@contextlib.contextmanager
def writing(outdir, inputs=(), kind='report'):
    '''Yield a temporary folder to fill; on success it replaces ``outdir`` whole.

    Holds the target's lock throughout, checks the rule again under it, and
    removes what killed writers left; on any exception (SIGTERM and SIGINT
    included) the temporary folder is removed and the old output stays.
    '''
    target = check(outdir, inputs)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        _refuse(str(outdir), f'cannot make {target.parent}: {err.strerror}')
    lock = _lock(target.parent / f'.{target.name}.lock', outdir)
    try:
        check(outdir, inputs)                      # as it is now, not before the wait
        _clean_stale(target)
        tmp = Path(tempfile.mkdtemp(prefix=f'.{target.name}.tmp-', dir=target.parent))
        try:
            yield tmp
            (tmp / MARKER).write_text(_marker(kind))
            swap_into_place(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        _unlock(lock)


def _lock(path, outdir):
    '''An exclusive flock on ``path``, created if need be; retried when the holder before
    us removed the file meanwhile (we would hold a lock on a name nobody else sees).'''
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            _refuse(str(outdir), f'cannot lock it in {path.parent}: {err.strerror}')
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd, path
        except FileNotFoundError:
            pass
        os.close(fd)


def _unlock(lock):
    fd, path = lock
    try:
        os.unlink(path)                            # while still held: the next writer makes a new one
    except FileNotFoundError:
        pass
    os.close(fd)


def swap_into_place(tmp, outdir):
    '''Rename the finished folder over the old one: a reader never sees half a report.'''
    old = None
    if outdir.exists():
        old = Path(tempfile.mkdtemp(prefix=f'.{outdir.name}.old-', dir=outdir.parent))
        os.rmdir(old)
        os.rename(outdir, old)
    os.rename(tmp, outdir)
    os.chmod(outdir, 0o755)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
