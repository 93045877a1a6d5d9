"""Hostile text from a run (names, parameters, hosts, fail reasons, command
lines) through the real command line: it must not break a Markdown table,
start a heading, reach HTML or Markdown as raw markup, drive the terminal, or
become a spreadsheet formula in tables/*.csv."""
import csv
import re

import pytest

from hpcval.analysis.textfmt import md, printable
from hpcval_cli import hpcval
from runreports import make_case, report as runreport, write

SCRIPT = '<script>alert(1)</script>'
IMG = '<img src=x onerror=alert(1)>'
ESC = '\x1b[2J\x1b]0;pwned\x07\x9b\x7f'
FORMULA = "=cmd|' /C calc'!A0"
#: everything at once, newlines and a heading included
NASTY = f'a|b`c`\r\n# heading {SCRIPT} {IMG} [x](http://e) {ESC} \\| end'

# check names from the display name's first word: a formula, a pipe, a backtick, ESC
CASES = [f"{FORMULA} %p=a|b`c`{ESC[:4]}",
         f"@SUM(1)|`x`\x1b[31m %q={SCRIPT}",
         f"Ok %r={IMG.replace(' ', '')} %s=-1+2"]
PVAR = 't|`x`'


def _case(name, value, run_index, session, **kw):
    fields = dict(hosts=NASTY, mpi_library=f'+1 {NASTY}', variant='-1+2', note='@SUM(1)',
                  job_nodelist=[f'n1|{SCRIPT}', f'n2\n# heading{ESC}'])
    fields.update(kw)
    return make_case(name, {PVAR: (value, 's')}, run_index=run_index, session=session,
                     num_nodes=1, **fields)


def _report(path, session, scale, hostname=NASTY, tag='x', time_start='20261128T160000+0000', extra=()):
    cases = [_case(n, scale * (1.0 + 0.01 * i) * (k + 1), i, session)
             for k, n in enumerate(CASES) for i in range(6)]
    cases.append(make_case(f'Broken|{SCRIPT} %t=`x`', result='fail', fail_phase='sanity',
                           fail_reason=f'{FORMULA}\n# heading {NASTY}', session=session, num_nodes=1,
                           job_nodelist=[f'n1|{SCRIPT}', f'n2\n# heading{ESC}']))
    cases += list(extra)
    rep = runreport(cases, session=session)
    rep['session_info'].update(hostname=hostname, cmdline=f'reframe -r `{NASTY}` | # x', time_start=time_start,
                               os_patch=tag)
    return write(path, rep)


def _md_checks(text):
    assert '&lt;script&gt;' in text           # the hostile text is there, escaped
    lines = text.splitlines()
    for line in lines:
        low = line.lower()
        assert '<script' not in low and '<img' not in low, line
        assert '\x1b' not in line and '\x07' not in line, line
        assert not re.match(r' {0,3}#{1,6}[ \t]+heading', line), line      # no heading from the data
    header = None
    for line in lines:
        if not line.startswith('|'):
            header = None
            continue
        cells = re.sub(r'\\.', '', line).count('|')                          # unescaped pipes only
        if header is None:
            header = cells
        assert cells == header, line


def _html_checks(text):
    low = text.lower()
    assert '<script' not in low and '<img src=x' not in low
    assert '&lt;script&gt;' in text


def _csv_checks(folder):
    quoted = 0
    for path in sorted((folder / 'tables').glob('*.csv')):
        with open(path, newline='') as f:
            for row in csv.reader(f):
                for cell in row:
                    if cell.startswith(('=', '+', '-', '@', '\t', '\r')):
                        float(cell)              # only a number may start like a formula
                    quoted += cell.startswith(("'=", "'@", "'-", "'+"))
    assert quoted                                # the formulas were there, and defused


def _terminal_checks(proc):
    for stream in (proc.stdout, proc.stderr):
        assert '\x1b' not in stream and '\x07' not in stream and '\x9b' not in stream and '\x7f' not in stream


def test_escape_functions():
    assert printable('a\x1b[2Jb\x07\x9b\x7f\u202e\n') == 'a\\x1b[2Jb\\x07\\x9b\\x7f\\u202e\\n'
    text = md(NASTY)
    assert '\n' not in text and '\r' not in text and '<' not in text and '\x1b' not in text
    assert re.sub(r'\\.', '', text).count('|') == 0 and re.sub(r'\\.', '', text).count('`') == 0
    assert md('# h').startswith('\\#') and md('1. x') == '1\\. x' and md('- x') == '\\- x'
    assert md('-1.5') == '-1.5' and md('+3 %') == '+3 %' and md('latency_8B') == 'latency_8B'
    assert md('a & b') == 'a &amp; b'


def test_report_escapes_everything(tmp_path):
    src = _report(tmp_path / 'report.json', 's-1', 1.0)
    out = tmp_path / 'out'
    proc = hpcval('report', src, '-o', out)
    assert proc.returncode == 0, proc.stderr
    _terminal_checks(proc)
    _md_checks((out / 'report.md').read_text())
    _html_checks((out / 'index.html').read_text())
    md_text = (out / 'report.md').read_text()
    assert 'Nodes of the failed cases' in md_text and '## Provenance' in md_text
    _csv_checks(out)


def test_compare_escapes_everything(tmp_path):
    only = make_case(f'OneSide|{SCRIPT}{ESC}', {PVAR: (1.0, 's')}, session='s-2', num_nodes=1)
    base = _report(tmp_path / 'base.json', 's-1', 1.0)
    cand = _report(tmp_path / 'cand.json', 's-2', 1.5, extra=[only])
    out = tmp_path / 'cmp'
    proc = hpcval('compare', base, cand, '-o', out)
    assert proc.returncode == 1, proc.stderr           # 1.5 x slower: REGRESSION
    _terminal_checks(proc)
    assert 'REGRESSION' in proc.stdout and '\\x1b' in proc.stdout     # the names printed, escaped
    assert 'OneSide' in proc.stdout
    md_text = (out / 'report.md').read_text()
    _md_checks(md_text)
    assert 'OneSide' in md_text and md_text.count('REGRESSION') >= 3
    _html_checks((out / 'index.html').read_text())
    _csv_checks(out)


def test_history_add_and_show_escape_everything(tmp_path):
    runs = tmp_path / 'runs'
    runs.mkdir()
    for i in range(8):
        (runs / f'r{i}').mkdir()
        _report(runs / f'r{i}' / 'report.json', f's-{i}', 1.0 if i < 4 else 2.0, hostname=f'host{i}{NASTY}',
                tag=f'{FORMULA}{ESC}{i // 4}', time_start=f'2026112{i}T160000+0000')
    store = tmp_path / 'h.sqlite'
    add = hpcval('history', 'add', runs, '--store', store)
    assert add.returncode == 0, add.stderr
    _terminal_checks(add)
    assert '8 session(s) added' in add.stdout and '\\x1b' in add.stdout
    out = tmp_path / 'hist'
    show = hpcval('history', 'show', '--store', store, '-o', out)
    assert show.returncode == 0, show.stderr
    _terminal_checks(show)
    assert 'regression' in show.stdout and '\\x1b' in show.stdout
    _md_checks((out / 'report.md').read_text())
    _html_checks((out / 'index.html').read_text())
    _csv_checks(out)


@pytest.mark.parametrize('value', ['=1+1', '+1', '-1+2', '@SUM(1)', '\tx', '\rx'])
def test_csv_text_cells_are_quoted_numbers_not(tmp_path, value):
    import pandas as pd
    from hpcval.analysis.outdir import write_csv
    write_csv(pd.DataFrame({'text': [value, 'ok'], 'num': [-1.5, 2.0], 'mixed': [value, 3]}), tmp_path / 't.csv')
    rows = list(csv.reader(open(tmp_path / 't.csv', newline='')))
    assert rows[1] == ["'" + value, '-1.5', "'" + value] and rows[2] == ['ok', '2', '3']
