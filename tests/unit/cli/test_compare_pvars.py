"""`hpcval compare --pvar REGEX` and the report options a campaign gives
`hpcval report` / `hpcval compare`."""
import json

import numpy as np
import pandas as pd
import pytest

from hpcval.analysis import compare
from benchmarks.synth_reports import generate
from hpcval import cli, paths


def _frame(pvars, shift, runs=6, seed=0, session='s'):
    rng = np.random.default_rng(seed)
    rows = []
    for pvar in pvars:
        for i, v in enumerate(100 * shift.get(pvar, 1.0) * np.exp(rng.normal(0, 0.01, runs))):
            rows.append({'system': 's', 'partition': 'p', 'environ': 'e', 'check': 'A',
                         'display_name': f'A %num_nodes=1 %$repeat_no={i}', 'num_nodes': 1,
                         'pvar': pvar, 'value': v, 'unit': 's', 'better': 'lower', 'result': 'pass',
                         'fail_phase': None, 'session_uuid': session, 'run_index': 0})
    return pd.DataFrame(rows)


def test_a_smaller_holm_family_makes_an_effect_significant():
    pvars = ['time'] + [f'other_{k}' for k in range(29)]
    base = _frame(pvars, {}, seed=1)
    cand = _frame(pvars, {'time': 1.2}, seed=2, session='t')
    table, _, _ = compare.compare(base, cand)
    row = table.set_index('pvar').loc['time']
    # 6 runs a side, fully separated: p = 2/924; x 30 cells > 0.05
    assert row['p'] < 0.005 and row['p_holm'] > 0.05 and row['verdict'] == 'INCONCLUSIVE'
    table, one_side, fails = compare.compare(base, cand, pvars=['^time$'])
    assert list(table['pvar']) == ['time'] and table['verdict'].iloc[0] == 'REGRESSION'
    assert table['p_holm'].iloc[0] == pytest.approx(table['p'].iloc[0])
    assert one_side.empty and len(fails) == 1


def test_select_pvars_searches_any_pattern():
    frame = pd.DataFrame({'pvar': ['latency_8B', 'latency_8KiB', 'bw_4MiB', None, 'gflops_n2048']})
    kept = compare.select_pvars(frame, ['^latency_8B$', 'gflops'])
    assert list(kept['pvar']) == ['latency_8B', 'gflops_n2048']
    assert compare.select_pvars(frame, []) is frame


def _runs(tmp_path, campaign=None):
    '''Baseline and candidate (20 % slower): 30 fully separated cells, 6 runs a side.'''
    for side, base_time, seed in (('base', 100.0, 1), ('cand', 120.0, 2)):
        generate(tmp_path / side, node_counts=(1,), runs=6, seed=seed, base_time=base_time,
                 cov=0.005, extra_pvars=29)
        if campaign:
            report = tmp_path / side / 'report.json'
            data = json.loads(report.read_text())
            data['session_info'].update(hpcval_campaign='label', hpcval_campaign_def=campaign)
            report.write_text(json.dumps(data))
    return str(tmp_path / 'base'), str(tmp_path / 'cand')


def test_pvar_option_limits_the_table_and_the_holm_family(tmp_path, capsys):
    base, cand = _runs(tmp_path)
    assert cli.main(['compare', base, cand, '-o', str(tmp_path / 'all')]) == 0       # 30 cells: none significant
    assert set(pd.read_csv(tmp_path / 'all' / 'tables' / 'verdicts.csv')['verdict']) == {'INCONCLUSIVE'}
    capsys.readouterr()
    out = tmp_path / 'time'
    assert cli.main(['compare', base, cand, '-o', str(out), '--pvar', '^time$']) == 1
    printed = capsys.readouterr().out
    assert '1 of 30 performance variables match ^time$' in printed and '1 REGRESSION' in printed
    table = pd.read_csv(out / 'tables' / 'verdicts.csv')
    assert list(table['pvar']) == ['time'] and list(table['verdict']) == ['REGRESSION']
    assert '^time$' in (out / 'report.md').read_text()
    assert cli.main(['compare', base, cand, '-o', str(tmp_path / 'two'), '--pvar', '^time$',
                     '--pvar', '^rate_1$']) == 1          # two cells: Holm x 2 keeps both significant
    table = pd.read_csv(tmp_path / 'two' / 'tables' / 'verdicts.csv')
    assert sorted(table['pvar']) == ['rate_1', 'time'] and set(table['verdict']) == {'REGRESSION'}


def test_pvar_that_matches_nothing_or_is_no_regex_is_exit_2(tmp_path, capsys):
    base, cand = _runs(tmp_path)
    assert cli.main(['compare', base, cand, '-o', str(tmp_path / 'x'), '--pvar', '^nothing$']) == 2
    assert 'no performance variable matches ^nothing$' in capsys.readouterr().err
    assert not (tmp_path / 'x').exists()
    with pytest.raises(SystemExit) as e:
        cli.main(['compare', base, cand, '--pvar', '(time'])
    assert e.value.code == 2


@pytest.fixture
def campaigns(tmp_path, monkeypatch):
    folder = tmp_path / 'campaigns'
    folder.mkdir()
    (folder / 'patch.yaml').write_text('''checks: [matmul]
report:
  title: Patch check
  mode: weak
  floor: 0.5
  roles: {Sim: kernel, Other: io}
  caveats: [Shared cores.]
  compare: {pvars: ['^time$'], delta: 0.1}
''')
    monkeypatch.setattr(paths, 'CAMPAIGNS', folder)
    return folder


def test_compare_takes_the_campaigns_options(tmp_path, campaigns, capsys):
    base, cand = _runs(tmp_path, campaign='patch')
    out = tmp_path / 'cmp'
    assert cli.main(['compare', base, cand, '-o', str(out)]) == 1
    assert "from campaign 'patch'" in capsys.readouterr().out
    table = pd.read_csv(out / 'tables' / 'verdicts.csv')
    assert list(table['pvar']) == ['time'] and list(table['verdict']) == ['REGRESSION']
    md = (out / 'report.md').read_text()
    assert md.startswith('# Patch check: compare') and 'δ = 10' in md
    # the command line wins
    assert cli.main(['compare', base, cand, '-o', str(out), '--pvar', 'rate_', '--title', 'Mine']) == 0
    assert len(pd.read_csv(out / 'tables' / 'verdicts.csv')) == 29
    assert (out / 'report.md').read_text().startswith('# Mine')


def test_runs_of_different_campaigns_get_no_campaign_options(tmp_path, campaigns):
    base, cand = _runs(tmp_path, campaign='patch')
    report = tmp_path / 'cand' / 'report.json'
    data = json.loads(report.read_text())
    data['session_info']['hpcval_campaign_def'] = 'other'
    report.write_text(json.dumps(data))
    assert cli.main(['compare', base, cand, '-o', str(tmp_path / 'c')]) == 0
    assert len(pd.read_csv(tmp_path / 'c' / 'tables' / 'verdicts.csv')) == 30


def test_report_takes_the_campaigns_title_mode_and_floor(tmp_path, campaigns, monkeypatch):
    base, _ = _runs(tmp_path, campaign='patch')
    seen = {}
    from hpcval.analysis import report

    def fake_build(dataset, title, mode=None, floor=None, roles=None, caveats=(), targets=None):
        seen.update(title=title, mode=mode, floor=floor, roles=roles, caveats=list(caveats))
        raise SystemExit(0)
    monkeypatch.setattr(report, 'build', fake_build)
    with pytest.raises(SystemExit):
        cli.main(['report', base, '-o', str(tmp_path / 'r')])
    assert seen == {'title': 'Patch check', 'mode': 'weak', 'floor': 0.5,
                    'roles': {'Sim': 'kernel', 'Other': 'io'}, 'caveats': ['Shared cores.']}
    with pytest.raises(SystemExit):
        cli.main(['report', base, '-o', str(tmp_path / 'r'), '--title', 'T', '--mode', 'strong', '--floor', '0.6',
                  '--role', 'Sim=application'])
    assert seen == {'title': 'T', 'mode': 'strong', 'floor': 0.6,
                    'roles': {'Sim': 'application', 'Other': 'io'}, 'caveats': ['Shared cores.']}
    data = json.loads((tmp_path / 'base' / 'report.json').read_text())
    del data['session_info']['hpcval_campaign_def']
    (tmp_path / 'base' / 'report.json').write_text(json.dumps(data))        # label 'label': no campaign
    with pytest.raises(SystemExit):
        cli.main(['report', base, '-o', str(tmp_path / 'r')])
    assert seen == {'title': 'hpcval report: r', 'mode': None, 'floor': 0.75, 'roles': {}, 'caveats': []}


def test_a_bad_role_is_a_usage_error(tmp_path, campaigns, capsys):
    base, _ = _runs(tmp_path, campaign='patch')
    with pytest.raises(SystemExit) as err:
        cli.main(['report', base, '-o', str(tmp_path / 'r'), '--role', 'Sim=fast'])
    assert err.value.code == 2 and 'CHECK=ROLE' in capsys.readouterr().err
    assert not (tmp_path / 'r').exists()
