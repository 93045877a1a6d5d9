import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / 'checks'):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

_LEVELS = ('unit', 'integration', 'system')


def pytest_collection_modifyitems(config, items):
    # the folder a test lives in is its level: `pytest -m unit` runs tests/unit
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / 'tests').parts
        if parts and parts[0] in _LEVELS:
            item.add_marker(getattr(pytest.mark, parts[0]))
