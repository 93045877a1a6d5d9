"""Units: which direction is better, and message sizes in pvar names."""
import re

_LOWER = {'s', 'sec', 'ms', 'us', 'µs', 'ns', 'min', 'h', 'usec', 'msec'}
_SIZE = re.compile(r'_(\d+)(B|KiB|MiB|GiB)$')
_MULT = {'B': 1, 'KiB': 1 << 10, 'MiB': 1 << 20, 'GiB': 1 << 30}


def better(unit):
    '''"lower" for times, "higher" for rates and fractions, "" when unknown.'''
    if unit is None:
        return ''
    u = str(unit).strip()
    if u.lower() in _LOWER:
        return 'lower'
    if u.endswith('/s') or u in ('%', 'GFLOP/s', 'TFLOP/s', 'MB/s', 'GB/s', 'ops/s', 'samples/s'):
        return 'higher'
    return ''


def message_size(pvar):
    '''Bytes encoded in a pvar name such as latency_8B or bw_4MiB, else None.'''
    m = _SIZE.search(pvar or '')
    return int(m.group(1)) * _MULT[m.group(2)] if m else None
