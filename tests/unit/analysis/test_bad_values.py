"""Bad values and hostile strings: a clear error or a visible warning, never silence."""
import json

import pytest

from hpcval.analysis import ingest, report
from hpcval.errors import InputError
from runreports import latency_case, make_case, report as runreport, write


def test_non_finite_and_non_positive_values_are_warned_not_dropped(tmp_path):
    cases = [make_case('App %x=1', {'t': (float('nan'), 's'), 'u': (float('inf'), 's'),
                                    'v': (0.0, 's'), 'w': (-1.0, 's'), 'ok': (2.0, 's')})]
    p = tmp_path / 'r.json'
    p.write_text(json.dumps(runreport(cases)))       # json writes NaN/Infinity tokens
    ds = ingest.load([p])
    assert len(ds.frame) == 5                          # every row kept
    assert ds.frame.set_index('pvar')['value'].isna().sum() == 4
    msgs = ' '.join(w[2] for w in ds.warnings)
    for pvar in 't', 'u', 'v', 'w':
        assert f'{pvar} = ' in msgs
    assert all(w[0] == str(p) and w[1] == 'App %x=1' for w in ds.warnings)


def test_passed_case_without_values_is_warned(tmp_path):
    ds = ingest.load([write(tmp_path / 'r.json', runreport([make_case('Quiet %x=1')]))])
    assert ds.warnings == [(str(tmp_path / 'r.json'), 'Quiet %x=1', 'passed but reported no performance values')]


def test_a_pvar_in_two_units_is_an_error_naming_both(tmp_path):
    a = write(tmp_path / 'a.json', runreport([latency_case({'8B': 1.0})]))
    b = tmp_path / 'b.json'
    rep = runreport([make_case('MpiMicrobench %num_nodes=1 %benchmark=latency', {'latency_8B': (0.001, 'ms')})])
    b.write_text(json.dumps(rep))
    with pytest.raises(InputError) as err:
        ingest.load([a, b])
    msg = str(err.value)
    assert "'us'" in msg and "'ms'" in msg and 'latency_8B' in msg and str(b) in msg


def test_strings_from_runs_are_escaped_and_secrets_redacted(tmp_path):
    evil = make_case('<script>alert(1)</script> %x=1', {'t': (1.0, 's')},
                     env_vars={'MY_API_KEY': 'hunter2', 'DB_PASSWORD': 'pw123', 'OMP_NUM_THREADS': '4',
                               'GITHUB_TOKEN': 'ghp_abc', 'AWS_SECRET_ACCESS_KEY': 'sek'},
                     fail_reason='<img src=x onerror=alert(2)>')
    ds = ingest.load([write(tmp_path / 'r.json', runreport([evil]))])
    out = report.render(report.build(ds), tmp_path / 'rep').parent
    html = (out / 'index.html').read_text()
    assert '<script>alert(1)</script>' not in html and '&lt;script&gt;alert(1)&lt;/script&gt;' in html
    everything = html + (out / 'report.md').read_text() + ''.join(
        p.read_text() for p in (out / 'tables').glob('*.csv'))
    for secret in ('hunter2', 'pw123', 'ghp_abc', 'sek'):
        assert secret not in everything
    assert 'OMP_NUM_THREADS=4' in html and 'MY_API_KEY=&lt;redacted&gt;' in html


def test_better_override(tmp_path):
    case = make_case('App %x=1', {'errors': (3.0, 'count'), 't': (1.0, 's')})
    ds = ingest.load([write(tmp_path / 'r.json', runreport([case]))], better={'App:errors': 'lower'})
    assert ds.frame.set_index('pvar').loc['errors', 'better'] == 'lower'
    declared = make_case('App %x=1', {'t': (1.0, 's')}, better_overrides={'t': 'higher'})
    ds = ingest.load([write(tmp_path / 'd.json', runreport([declared]))])
    assert ds.frame.iloc[0]['better'] == 'higher'
