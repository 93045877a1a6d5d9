"""Whether an image's MPI can take the host's at run time (the bind model).

A program in the image asks the dynamic linker for its MPI's soname; the
host library bound in is loaded only when it carries that soname, and works
only when it is the same ABI: Open MPI keeps its ABI within a major release
(a program built against 4.0 runs on 4.1, not the other way round); MPICH,
Intel MPI, Cray MPICH and MVAPICH share the MPICH ABI (``libmpi.so.12``).
"""
import re

_VENDORS = (
    ('Open MPI', re.compile(r'Open MPI v(\d+)\.(\d+)(?:\.(\d+))?')),
    ('Intel MPI', re.compile(r'Intel\(R\) MPI Library (\d+)\.(\d+)(?:\.(\d+))?')),
    ('Cray MPICH', re.compile(r'CRAY MPICH version (\d+)\.(\d+)(?:\.(\d+))?', re.I)),
    ('MVAPICH', re.compile(r'MVAPICH2? Version\s*:?\s*(\d+)\.(\d+)(?:\.(\d+))?', re.I)),
    ('MPICH', re.compile(r'MPICH Version\s*:?\s*(\d+)\.(\d+)(?:\.(\d+))?', re.I)),
)
MPICH_ABI = ('MPICH', 'Intel MPI', 'Cray MPICH', 'MVAPICH')
_PROBE = {'soname': re.compile(r'^# MPI soname: (\S+)', re.M),
          'library': re.compile(r'^# MPI Library: (.+?)\s*$', re.M),
          'path': re.compile(r'^# MPI Library Path: (.+?)\s*$', re.M),
          'world': re.compile(r'^# MPI World: (\d+)', re.M),
          'own_soname': re.compile(r'^# Own MPI soname: (\S+)', re.M),
          'own_library': re.compile(r'^# Own MPI Library: (.+?)\s*$', re.M)}


def vendor(library):
    '''("Open MPI", (4, 1, 4)) from an MPI_Get_library_version line; (None, None) when unknown.'''
    for name, pattern in _VENDORS:
        m = pattern.search(library or '')
        if m:
            return name, tuple(int(x) for x in m.groups() if x is not None)
    return None, None


def parse_probe(text):
    '''What checks/src/mpi_abi_probe.py printed: soname, library, path, world, own_soname,
    own_library (the MPI loaded without an injected one); missing ones absent.'''
    return {k: p.search(text).group(1) for k, p in _PROBE.items() if p.search(text)}


def own(found):
    '''The probe's own MPI (the image's, in an image) as {'soname', 'library'}.'''
    return {'soname': found.get('own_soname'), 'library': found.get('own_library')}


def _describe(side, info):
    name, ver = vendor(info.get('library'))
    what = f"{name} {'.'.join(map(str, ver))}" if name else repr(info.get('library', 'an unknown MPI'))
    return f"the {side}'s MPI is {what} ({info.get('soname', 'no soname')})"


def compatible(image, host):
    '''(True, '') or (False, one-line reason) for probes of the image and of the host.'''
    if not image.get('soname') or image.get('soname') == 'none':
        return False, 'the image has no MPI library (no libmpi.so.* in its linker cache)'
    if not host.get('soname'):
        return False, 'the host MPI could not be probed'
    both = f"{_describe('image', image)}, {_describe('host', host)}"
    if image['soname'] != host['soname']:
        return False, f'{both}: different sonames, so the image\'s programs never load the host\'s library'
    (iv, iver), (hv, hver) = vendor(image.get('library')), vendor(host.get('library'))
    if iv is None or hv is None:
        return True, ''
    same_family = iv == hv or (iv in MPICH_ABI and hv in MPICH_ABI)
    if not same_family:
        return False, f'{both}: the same soname from different ABIs'
    if iv == 'Open MPI' == hv:
        if iver[0] != hver[0]:
            return False, f'{both}: Open MPI keeps its ABI within a major release only'
        if iver[:2] > hver[:2]:
            return False, (f'{both}: the image was built against a newer Open MPI than the host\'s; '
                           'its programs may need symbols the host library lacks')
    return True, ''
