"""Sessions from ReFrame's results storage (ReFrame 4.7+, ``RFM_ENABLE_RESULTS_STORAGE=1``).

An input ``stored:QUERY`` stands for the sessions ReFrame itself returns for
``reframe --describe-stored-sessions=QUERY``: a session uuid, or a time span
as ReFrame writes it (``now-1w:now``, ``20260101T0000:now``, with an optional
``?filter``).  ReFrame's own JSON is read, never its SQLite schema, so the
store's layout stays ReFrame's business.  The store is the one ReFrame would
use in this environment (``RFM_SQLITE_DB_FILE``, ``RFM_CONFIG_FILES``);
``HPCVAL_REFRAME`` names another ``reframe`` (a centre's own release).
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from hpcval.errors import InputError

PREFIX = 'stored:'
TIMEOUT_S = 600


def is_stored(arg):
    return str(arg).startswith(PREFIX)


def reframe_command():
    '''The reframe to ask: $HPCVAL_REFRAME, the one installed beside hpcval, or the one on PATH.'''
    given = os.environ.get('HPCVAL_REFRAME')
    if given:
        return given
    beside = Path(sys.executable).with_name('reframe')
    return str(beside) if beside.exists() else (shutil.which('reframe') or 'reframe')


def fetch(arg):
    '''The run reports ``stored:QUERY`` stands for: [(name, report dict)], named ``stored:UUID``.'''
    query = str(arg)[len(PREFIX):]
    if not query.strip():
        raise InputError(arg, 'no query after stored: (give a session uuid or a time span such as now-1d:now)')
    cmd = [reframe_command(), f'--describe-stored-sessions={query}']
    try:
        # reading asks for the storage switched on, as writing does
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL,
                              env={**os.environ, 'RFM_ENABLE_RESULTS_STORAGE': '1'})
    except FileNotFoundError:
        raise InputError(arg, f"cannot run {cmd[0]!r} to read ReFrame's results storage "
                              '(set HPCVAL_REFRAME)') from None
    except subprocess.TimeoutExpired:
        raise InputError(arg, f'ReFrame did not answer in {TIMEOUT_S} s') from None
    if proc.returncode != 0:
        why = next((line.strip() for line in reversed((proc.stdout + proc.stderr).splitlines())
                    if line.strip()), f'exit {proc.returncode}')
        raise InputError(arg, f'ReFrame could not read its results storage: {why[:200]}')
    text = proc.stdout
    start = text.find('[')                 # ReFrame may print a warning line before the JSON
    try:
        sessions = json.loads(text[start:]) if start >= 0 else None
    except json.JSONDecodeError as err:
        raise InputError(arg, f'ReFrame printed no JSON list of sessions ({err.msg})') from None
    if not isinstance(sessions, list):
        raise InputError(arg, 'ReFrame printed no JSON list of sessions')
    if not sessions:
        raise InputError(arg, 'no stored session matches (see reframe --list-stored-sessions)')
    out = []
    for s in sessions:
        info = s.get('session_info') if isinstance(s, dict) else None
        if not isinstance(info, dict):
            raise InputError(arg, 'a stored session without session_info')
        out.append((f"{PREFIX}{info.get('uuid', '?')}", s))
    return out


def split(inputs):
    '''(file and folder inputs, stored documents) of a command line's inputs.'''
    paths = [i for i in inputs if not is_stored(i)]
    documents = [d for i in inputs if is_stored(i) for d in fetch(i)]
    return paths, documents
