"""Parse OSU micro-benchmark output (the real binaries and our osu_mpi.c alike).

OSU prints comment lines starting with '#', a header '# Size  <column> (<unit>)'
and one row per message size.  Optional extra columns (P50/P90 latencies,
'Validation Pass/Fail') follow the first value; only the first is the result.
"""
import math
import re
from dataclasses import dataclass, field

from hpcval.sizes import size_label       # the names the analysis reads back

_HEADER = re.compile(r'^#\s*Size\s+(?P<col>.+?)\s*$')
_ROW = re.compile(r'^(?P<size>\d+)\s+(?P<value>[-+0-9.eE]+|nan|inf)(?P<rest>.*)$', re.I)
_LIB = re.compile(r'^#\s*MPI Library:\s*(?P<lib>.+?)\s*$')
_HOSTS = re.compile(r'^#\s*Hosts:\s*(?P<hosts>.*?)\s*$')
_VALID = re.compile(r'^#\s*Validation:\s*(?P<v>\w+)')


def message_sizes(min_size, max_size):
    '''Powers of two from min_size to max_size, as OSU steps through them.'''
    sizes, s = [], min_size
    while s <= max_size:
        sizes.append(s)
        s *= 2
    return sizes


@dataclass
class OsuOutput:
    metric: str = ''            # 'latency' or 'bw'
    unit: str = ''              # 'us' or 'MB/s'
    column: str = ''
    values: dict = field(default_factory=dict)   # size in bytes -> value
    mpi_library: str = ''
    hosts: list = field(default_factory=list)
    validation: str = ''        # 'Pass', 'FAIL' or '' when the run printed none
    failed_rows: list = field(default_factory=list)

    def pvar(self, size):
        return f'{self.metric}_{size_label(size)}'


class OsuParseError(ValueError):
    pass


def _metric_of(column):
    col = column.lower()
    if 'latency' in col or 'lat' in col:
        return 'latency', 'us'
    if 'bandwidth' in col or 'mb/s' in col:
        return 'bw', 'MB/s'
    raise OsuParseError(f'unknown OSU column {column!r}')


def parse(text):
    '''Parse one OSU run's stdout; raise OsuParseError when it has no table.'''
    out = OsuOutput()
    in_table = False
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        m = _LIB.match(line)
        if m:
            out.mpi_library = m['lib']
            continue
        m = _HOSTS.match(line)
        if m:
            out.hosts = [h for h in m['hosts'].split(',') if h]
            continue
        m = _VALID.match(line)
        if m:
            # A single FAIL anywhere wins over a later Pass
            if out.validation != 'FAIL':
                out.validation = 'Pass' if m['v'].lower() == 'pass' else 'FAIL'
            continue
        m = _HEADER.match(line)
        if m:
            out.column = m['col']
            out.metric, out.unit = _metric_of(m['col'])
            in_table = True
            continue
        if line.startswith('#') or not in_table:
            continue
        m = _ROW.match(line)
        if not m:
            continue
        size, value = int(m['size']), float(m['value'])
        if size in out.values:
            raise OsuParseError(f'message size {size} appears twice')
        out.values[size] = value
        if re.search(r'\bfail', m['rest'], re.I):
            out.failed_rows.append(size)
    if not in_table:
        raise OsuParseError("no '# Size ...' header in the output")
    return out


def problems(out, expected_sizes, expected_metric=None):
    '''What is wrong with a parsed run, as a list of short sentences.'''
    found = []
    if expected_metric and out.metric != expected_metric:
        found.append(f'expected a {expected_metric} table, got {out.column!r}')
    missing = [s for s in expected_sizes if s not in out.values]
    if missing:
        found.append('missing message sizes: ' + ', '.join(size_label(s) for s in missing))
    bad = [s for s, v in out.values.items() if not (math.isfinite(v) and v > 0)]
    if bad:
        found.append('non-positive or non-finite values at: ' + ', '.join(size_label(s) for s in sorted(bad)))
    if out.failed_rows or out.validation == 'FAIL':
        rows = ', '.join(size_label(s) for s in out.failed_rows) or 'some size'
        found.append(f'data validation failed at {rows}')
    return found
