#!/usr/bin/env python3
"""Reliability: malformed inputs, secret shapes, and the YAML bomb, counted and timed.

- every named malformed input of tests/unit/cli/test_malformed_input.py,
  plus ``--mutations`` generated ones (the same hypothesis strategies, not
  derandomised), through ``report``, ``compare`` and ``history add``: exit
  codes and tracebacks counted;
- the secret corpus of tests/secrets_corpus.py: how many shapes;
- the "billion laughs" campaign: time for ``hpcval run --campaign`` to refuse
  it (the whole command, Python start-up included; median of ``--repeat``)
  and for the campaign loader alone.

    .venv/bin/python benchmarks/reliability.py [--mutations 300] [--repeat 5]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / 'tests', ROOT / 'tests' / 'unit' / 'hpcval', ROOT / 'tests' / 'unit' / 'cli'):
    sys.path.insert(0, str(p))

import secrets_corpus  # noqa: E402
import test_malformed_input as mal  # noqa: E402
import test_run_inputs  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _outcomes(write):
    '''Exit code and whether a traceback or an internal error showed, per command.'''
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bad = write(tmp / 'bad')
        good = tmp / 'good'
        good.mkdir()
        (good / 'report.json').write_text(json.dumps(mal.BASE))
        for cmd in (['report', bad.parent, '-o', tmp / 'o'], ['compare', good, bad.parent, '-o', tmp / 'o'],
                    ['history', 'add', bad.parent, '--store', tmp / 'h.sqlite']):
            rc, err = mal._main(*cmd)
            out.append((cmd[0], rc, 'Traceback' in err or 'internal error' in err))
    return out


def named():
    writes = [lambda f, m=m: mal._report_file(f, mal._mutated(m)) for m in mal.NAMED.values()]
    writes += [lambda f, r=r: mal._report_file(f, raw=r) for r in mal.RAW.values()]

    def header_only(folder):
        folder.mkdir()
        (folder / 'x.log').write_text(mal.PERFLOG.splitlines(True)[0])
        return folder / 'x.log'

    def fifo(folder):
        folder.mkdir()
        os.mkfifo(folder / 'report.json')
        return folder / 'report.json'

    def dev_zero(folder):
        folder.mkdir()
        (folder / 'report.json').symlink_to('/dev/zero')
        return folder / 'report.json'
    writes += [header_only, fifo, dev_zero]
    return [o for w in writes for o in _outcomes(w)]


def generated(n):
    seen = []
    reports = st.one_of(mal.type_mutations(), mal.missing_keys(), mal.size_mutations(),
                        mal.encoding_mutations(), mal.nesting_mutations())

    @settings(max_examples=n, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(reports.map(lambda r: ('report', r)), mal.perflog_mutations().map(lambda r: ('perflog', r))))
    def collect(item):
        kind, raw = item

        def write(folder):
            if kind == 'report':
                return mal._report_file(folder, raw=raw)
            folder.mkdir()
            (folder / 'x.log').write_bytes(raw if isinstance(raw, bytes) else raw.encode())
            return folder / 'x.log'
        seen.extend(_outcomes(write))
    collect()
    return seen


def bomb(repeat):
    path = Path(tempfile.mkdtemp(prefix='hpcval-bomb-')) / 'laughs.yaml'
    path.write_text(test_run_inputs.LAUGHS)
    walls = []
    for _ in range(repeat):
        t = time.perf_counter()
        proc = subprocess.run([str(Path(sys.executable).parent / 'hpcval'), 'run', '--campaign', str(path)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60,
                              env=dict(os.environ, HPCVAL_RUNS=str(path.parent / 'runs')))
        walls.append(time.perf_counter() - t)
        assert proc.returncode == 2, proc.stderr
    from hpcval import campaign
    from hpcval.errors import UsageError
    t = time.perf_counter()
    try:
        campaign.load(str(path))
    except UsageError:
        pass
    return len(path.read_bytes()), statistics.median(walls), time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--mutations', type=int, default=300)
    ap.add_argument('--repeat', type=int, default=5)
    a = ap.parse_args()
    for label, rows in (('named malformed inputs', named()), (f'{a.mutations} generated mutations',
                                                              generated(a.mutations))):
        codes = Counter(rc for _, rc, _ in rows)
        tracebacks = sum(tb for _, _, tb in rows)
        print(f'{label}: {len(rows) // 3} inputs x 3 commands = {len(rows)} calls; exit codes '
              f'{dict(sorted(codes.items()))}; tracebacks or internal errors: {tracebacks}')
    print(f'secret shapes: {len(secrets_corpus.BY_NAME)} by name, {len(secrets_corpus.BY_VALUE)} by value, '
          f'{len(secrets_corpus.KEPT)} harmless look-alikes kept')
    size, wall, load = bomb(a.repeat)
    print(f'billion laughs ({size} bytes): hpcval run refuses it in {wall:.2f} s (median of {a.repeat}, '
          f'whole command), the campaign loader in {load * 1000:.0f} ms')


if __name__ == '__main__':
    main()
