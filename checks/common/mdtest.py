"""Parse mdtest's SUMMARY (real mdtest, any version since 1.9, and our smallfile_md.c).

The summary block starts with a title whose wording changed over the years:

* ``SUMMARY: (of N iterations)``                    mdtest 1.9.x
* ``SUMMARY rate: (of N iterations)``               mdtest 3.x and 4.0.0
* ``SUMMARY rate (in ops/sec): (of N iterations)``  mdtest 4.1 and HEAD

followed by ``Operation  Max  Min  Mean  Std Dev``, a dashed line and one row
per operation.  The separator after the operation name changed too: ``File
creation:`` (3.2.x), ``File creation       :`` (1.9, 3.3, 3.4: padded, then a
colon) and no colon at all (4.0 and later).  With ``--showRankStatistics``
a row carries seven numbers (per rank max/min/mean, then per iteration
max/min/mean/stddev); the last four are the per-iteration ones.  ``-P``
prints a rate and a time summary; only the rate is read here, ``-Z`` (time
only) is an error.
"""
import math
import re
from dataclasses import dataclass, field

OBJECTS = ('Directory', 'File', 'Tree')
OPERATIONS = ('creation', 'stat', 'read', 'rename', 'removal')
STATS = ('max', 'min', 'mean', 'stddev')

_NUM = r'[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?nan|[-+]?inf'
_TITLE = re.compile(r'^\s*SUMMARY(?P<kind>\s+rate|\s+time)?\s*(?:\((?P<unit>[^)]*)\))?\s*:'
                    r'\s*\(of (?P<iters>\d+) iterations?\)', re.I)
_ROW = re.compile(r'^\s+(?P<obj>Directory|File|Tree)\s+(?P<op>creation|stat|read|rename|removal)'
                  rf'\s*:?\s+(?P<nums>(?:(?:{_NUM})\s*)+)$', re.I)
_LAUNCHED = re.compile(r'^\s*(?P<prog>\S+(?:\s+\S+)?) was launched with (?P<tasks>\d+) total task\(s\) '
                       r'on (?P<nodes>\d+) node\(s\)', re.M)
_COMMAND = re.compile(r'^Command line used:\s*(?P<cmd>.*?)\s*$', re.M)
_FILES = re.compile(r'^#\s*Files created:\s*(?P<created>\d+)\s+removed:\s*(?P<removed>\d+)', re.M)
_VALID = re.compile(r'^#\s*Validation:\s*(?P<v>\w+)', re.M)
_ERROR = re.compile(r'^ERROR:\s*(?P<msg>.+?)\s*$', re.M)


class MdtestParseError(ValueError):
    pass


@dataclass
class Row:
    max: float
    min: float
    mean: float
    stddev: float


@dataclass
class MdtestOutput:
    #: ``mdtest-4.0.0``, ``mdtest-like smallfile_md-1.0``, ... ('' when not printed)
    program: str = ''
    tasks: int | None = None
    nodes: int | None = None
    iterations: int | None = None
    command: str = ''
    #: ``'file_creation'`` -> Row(max, min, mean, stddev), in ops/s
    rows: dict = field(default_factory=dict)
    #: from smallfile_md's comment lines (None for real mdtest)
    files_created: int | None = None
    files_removed: int | None = None
    validation: str = ''
    errors: list = field(default_factory=list)

    def value(self, op, stat='mean'):
        '''One number: value('file_creation', 'max').'''
        return getattr(self.rows[op], stat)


def key(obj, op):
    '''('File', 'creation') -> 'file_creation' (the performance variable's name).'''
    return f'{obj.lower()}_{op.lower()}'


def _float(text):
    try:
        return float(text)
    except ValueError:
        return math.nan


def header(text):
    '''What precedes the summary: program, tasks, nodes, command, and our comment lines.'''
    out = MdtestOutput()
    m = _LAUNCHED.search(text)
    if m:
        out.program, out.tasks, out.nodes = m.group('prog'), int(m.group('tasks')), int(m.group('nodes'))
    m = _COMMAND.search(text)
    if m:
        out.command = m.group('cmd')
    m = _FILES.search(text)
    if m:
        out.files_created, out.files_removed = int(m.group('created')), int(m.group('removed'))
    m = _VALID.search(text)
    if m:
        out.validation = m.group('v')
    out.errors = _ERROR.findall(text)
    return out


def parse(text):
    '''MdtestOutput of the first rate SUMMARY in ``text``; raises MdtestParseError without one.'''
    out = header(text)
    lines = text.splitlines()
    start = None
    kinds = []
    for i, line in enumerate(lines):
        m = _TITLE.match(line)
        if not m:
            continue
        kind = (m.group('kind') or 'rate').strip().lower()
        kinds.append(kind)
        if kind == 'rate':
            start, out.iterations = i, int(m.group('iters'))
            break
    if start is None:
        if kinds:
            raise MdtestParseError('mdtest printed only a time SUMMARY (run without -Z to get rates)')
        why = f'; it says: {out.errors[0]}' if out.errors else ''
        raise MdtestParseError(f'no "SUMMARY rate" block in the output{why}')
    for line in lines[start + 1:]:
        if not line.strip():
            if out.rows:
                break
            continue
        if line.lstrip().startswith(('--', 'SUMMARY')) and out.rows:
            break
        m = _ROW.match(line)
        if not m:
            continue
        nums = [_float(x) for x in m.group('nums').split()]
        if len(nums) not in (4, 7):
            raise MdtestParseError(f'unexpected row in the mdtest SUMMARY: {line.strip()!r}')
        out.rows[key(m.group('obj'), m.group('op'))] = Row(*nums[-4:])
    if not out.rows:
        raise MdtestParseError('the mdtest SUMMARY block has no operation rows')
    return out
