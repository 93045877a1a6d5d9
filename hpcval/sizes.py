"""Message sizes in performance-variable names (``latency_8B``, ``bw_4MiB``): the
checks write them, the analysis reads them back and labels its axes with them."""
import re

SIZE_UNITS = (('GiB', 1 << 30), ('MiB', 1 << 20), ('KiB', 1 << 10))
_SIZE = re.compile(r'_(\d+)(B|KiB|MiB|GiB)$')
_MULT = {'B': 1, **dict(SIZE_UNITS)}


def size_label(nbytes, _pos=None):
    '''8 -> '8B', 4096 -> '4KiB', 4194304 -> '4MiB' (exact multiples only: 1536 -> '1536B').
    Also a matplotlib tick formatter (``_pos``).'''
    nbytes = int(round(nbytes))
    for suffix, mult in SIZE_UNITS:
        if nbytes >= mult and nbytes % mult == 0:
            return f'{nbytes // mult}{suffix}'
    return f'{nbytes}B'


def message_size(pvar):
    '''Bytes encoded in a pvar name such as latency_8B or bw_4MiB, else None.'''
    m = _SIZE.search(pvar or '')
    return int(m.group(1)) * _MULT[m.group(2)] if m else None
