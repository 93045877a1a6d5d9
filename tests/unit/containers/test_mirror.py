"""The Debian mirror: $HPCVAL_DEBIAN_MIRROR, else what the host's apt uses."""
import pytest

from hpcval.containers import mirror
from hpcval.containers.errors import ImageError

DEB822 = '''Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example.org/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example.org/debian-security
Suites: bookworm-security
Components: main
'''


def _apt(tmp_path, files):
    (tmp_path / 'sources.list.d').mkdir()
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_deb822_sources_give_the_suite_mirror(tmp_path):
    root = _apt(tmp_path, {'sources.list.d/debian.sources': DEB822})
    uri, where = mirror.mirror('bookworm', root, environ={})
    assert uri == 'http://mirror.example.org/debian' and where.endswith('debian.sources')


def test_one_line_entries_with_options_and_comments(tmp_path):
    root = _apt(tmp_path, {'sources.list': '# deb http://old.example/debian bookworm main\n'
                                           'deb-src http://src.example/debian bookworm main\n'
                                           'deb [arch=amd64 signed-by=/k.gpg] '
                                           'http://site.example/deb bookworm main contrib\n'})
    assert mirror.mirror('bookworm', root, environ={})[0] == 'http://site.example/deb'


def test_the_environment_wins_and_nothing_found_is_one_line(tmp_path):
    root = _apt(tmp_path, {'sources.list.d/other.sources': DEB822.replace('bookworm', 'trixie')})
    assert mirror.mirror('bookworm', root, environ={'HPCVAL_DEBIAN_MIRROR': 'http://m/debian/'}) == \
        ('http://m/debian', '$HPCVAL_DEBIAN_MIRROR')
    with pytest.raises(ImageError, match='HPCVAL_DEBIAN_MIRROR'):
        mirror.mirror('bookworm', root, environ={})


def test_disabled_stanzas_are_skipped(tmp_path):
    root = _apt(tmp_path, {'sources.list.d/a.sources': 'Enabled: no\n' + DEB822})
    with pytest.raises(ImageError):
        mirror.mirror('bookworm', root, environ={})
