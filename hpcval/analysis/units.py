"""Units: which direction is better (message sizes in pvar names: hpcval.sizes)."""

_LOWER = {'s', 'sec', 'ms', 'us', 'µs', 'ns', 'min', 'h', 'usec', 'msec'}


def kind(unit):
    '''"time", "rate" (per second) or "" for anything else (%, counts, unknown).'''
    u = '' if unit is None else str(unit).strip()
    if u.lower() in _LOWER:
        return 'time'
    return 'rate' if u.endswith('/s') else ''


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

