"""The Debian mirror the base image is bootstrapped from.

``$HPCVAL_DEBIAN_MIRROR`` when set; else the mirror the host's apt already
uses for the suite (one-line ``.list`` files and deb822 ``.sources`` files),
so a centre without internet builds from its own mirror with nothing to
configure.  No mirror host is written into the code.
"""
import os
import re
from pathlib import Path

from hpcval.containers.errors import ImageError

APT_SOURCES = Path('/etc/apt')
ENV = 'HPCVAL_DEBIAN_MIRROR'
#: "deb [options] URI SUITE COMPONENT..." (one-line style)
_ONE_LINE = re.compile(r'^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$')


def _one_line(text):
    for line in text.splitlines():
        m = _ONE_LINE.match(line.split('#', 1)[0])
        if m:
            yield m.group(1), m.group(2).split(), m.group(3).split()


def _deb822(text):
    for stanza in re.split(r'\n\s*\n', text):
        fields, last = {}, None
        for line in stanza.splitlines():
            if line.startswith('#'):
                continue
            if line[:1].isspace() and last:
                fields[last] += ' ' + line.strip()
            elif ':' in line:
                last, _, value = line.partition(':')
                last = last.strip().lower()
                fields[last] = value.strip()
        if 'deb' in fields.get('types', '').split() and fields.get('enabled', 'yes').lower() != 'no':
            for uri in fields.get('uris', '').split():
                yield uri, fields.get('suites', '').split(), fields.get('components', '').split()


def host_mirrors(suite, root=APT_SOURCES):
    '''[(uri, file)] of the host's apt entries for ``suite`` with ``main``, in apt's file order.'''
    root = Path(root)
    files = [root / 'sources.list'] + sorted((root / 'sources.list.d').glob('*'))
    found = []
    for f in files:
        if f.suffix not in ('.list', '.sources') or not f.is_file():
            continue
        try:
            text = f.read_text(errors='replace')
        except OSError:
            continue
        entries = _deb822(text) if f.suffix == '.sources' else _one_line(text)
        found += [(uri.rstrip('/'), str(f)) for uri, suites, comps in entries
                  if suite in suites and 'main' in comps]
    return found


def mirror(suite, root=APT_SOURCES, environ=None):
    '''(mirror URI, where it came from); ImageError when none is known.'''
    environ = os.environ if environ is None else environ
    if environ.get(ENV):
        return environ[ENV].rstrip('/'), f'${ENV}'
    found = host_mirrors(suite, root)
    if not found:
        raise ImageError(f'no Debian {suite} mirror in the host\'s apt sources ({root}/sources.list, '
                         f'{root}/sources.list.d/): set {ENV}=URI to your mirror')
    uri, where = found[0]
    return uri, where
