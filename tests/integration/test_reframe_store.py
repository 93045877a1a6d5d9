"""Sessions from ReFrame's results storage, read through ReFrame itself (a subprocess):
the stores that ReFrame 4.7 and 4.10 wrote (tests/data/reframe/<version>/results.db)."""
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from hpcval.analysis import ingest
from hpcval import stored

DATA = Path(__file__).resolve().parents[1] / 'data' / 'reframe'
STORES = sorted(p.parent.name for p in DATA.glob('*/results.db'))


def test_the_oldest_and_newest_store_are_here():
    assert {'4.7', '4.10'} <= {v.rsplit('.', 1)[0] for v in STORES}


@pytest.mark.parametrize('version', STORES)
def test_stored_sessions_are_read_through_reframe(version, tmp_path, monkeypatch):
    db = tmp_path / 'results.db'
    shutil.copy(DATA / version / 'results.db', db)        # ReFrame may touch its store; ours is read-only
    monkeypatch.setenv('RFM_SQLITE_DB_FILE', str(db))
    uuid = json.loads((DATA / version / 'baseline' / 'report.json').read_text())['session_info']['uuid']
    (name, doc), = stored.fetch(f'stored:{uuid}')
    assert name == f'stored:{uuid}'
    from_store = ingest.load([], documents=[(name, doc)]).frame
    from_file = ingest.load([DATA / version / 'baseline' / 'report.json']).frame
    key = ['display_name', 'pvar', 'value', 'result']
    assert Counter(map(tuple, from_store[key].astype(str).to_numpy())) == \
        Counter(map(tuple, from_file[key].astype(str).to_numpy()))
