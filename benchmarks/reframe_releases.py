#!/usr/bin/env python3
"""What hpcval reads from each ReFrame release's output, and the gate's verdicts on it.

    .venv/bin/python benchmarks/reframe_releases.py [tests/data/reframe]

For every release under tests/data/reframe/ (tests/data/reframe/generate.py):
the report's data_version, the cases read from its report and from its
perflogs, the counts by outcome (passed, failed by phase, skipped, retries),
and `hpcval compare` of baseline against the 4x slowdown and against the
no-change session (delta 0.05 and 0.3).  Prints Markdown tables.
"""
import io
import json
import sys
from contextlib import redirect_stdout
from pathlib import Path
from tempfile import TemporaryDirectory

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hpcval.analysis import ingest           # noqa: E402
from hpcval.errors import InputError  # noqa: E402
from hpcval import cli                 # noqa: E402


def outcomes(frame):
    cases = frame.drop_duplicates('case_id')
    fails = cases[cases['result'] == 'fail']['fail_phase'].astype(object).fillna('phase not logged').value_counts()
    return {'passed': int((cases['result'] == 'pass').sum()),
            'failed': ', '.join(f'{p} {n}' for p, n in sorted(fails.items())) or '0',
            'skipped': int((cases['result'] == 'skip').sum()),
            'unknown': int((cases['result'] == 'unknown').sum()),
            'retries': int((cases['run_index'] > 0).sum()), 'cases': len(cases)}


def gate(base, cand, delta):
    with TemporaryDirectory() as tmp, redirect_stdout(io.StringIO()):
        code = cli.main(['compare', str(base), str(cand), '--delta', str(delta), '-o', f'{tmp}/c'])
        with open(f'{tmp}/c/tables/verdicts.csv') as fp:
            import csv
            verdicts = [r['verdict'] for r in csv.DictReader(fp)]
    counts = {v: verdicts.count(v) for v in ('REGRESSION', 'IMPROVEMENT', 'EQUIVALENT', 'INCONCLUSIVE')}
    return f"exit {code}: " + ', '.join(f'{n} {v[:4]}' for v, n in counts.items() if n)


def main(root):
    root = Path(root)
    releases = sorted((p for p in root.iterdir() if (p / 'MANIFEST.json').exists()),
                      key=lambda p: tuple(int(x) for x in p.name.split('.')))
    print('| ReFrame | data_version | report: cases (passed / failed by phase / skipped / retries) '
          '| perflogs: cases (passed / failed / unknown) | slowdown x4, δ 5 % | no change, δ 5 % | no change, δ 30 % |')
    print('|---|---|---|---|---|---|---|')
    for rel in releases:
        base, same, slow = (rel / s for s in ('baseline', 'same', 'slow'))
        dv = json.loads((base / 'report.json').read_text())['session_info'].get('data_version')
        try:
            o = outcomes(ingest.load([base / 'report.json']).frame)
            rep = f"{o['cases']} ({o['passed']} / {o['failed']} / {o['skipped']} / {o['retries']})"
            src = [b / 'report.json' for b in (base, same, slow)]
        except InputError as err:
            rep = f'refused: {err.fault}'
            src = [b / 'perflogs' for b in (base, same, slow)]
        p = outcomes(ingest.load([base / 'perflogs']).frame)
        log = f"{p['cases']} ({p['passed']} / {p['failed']} / {p['unknown']})"
        print(f'| {rel.name} | {dv} | {rep} | {log} | {gate(src[0], src[2], 0.05)} | '
              f'{gate(src[0], src[1], 0.05)} | {gate(src[0], src[1], 0.3)} |')


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else REPO / 'tests' / 'data' / 'reframe')
