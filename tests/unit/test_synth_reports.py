import json
import math

import numpy as np
import pytest

from hpcval.analysis import ingest
from benchmarks.synth_reports import FAIL_PHASES, generate, main, truth


def _cases(paths):
    out = []
    for p in paths:
        rep = json.loads(p.read_text())
        out += [tc for run in rep['runs'] for tc in run['testcases']]
    return out


def _files(d):
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob('*.json'))}


def test_same_seed_same_bytes_other_seed_other_values(tmp_path):
    kw = dict(runs=5, fail_rate=0.2, extra_pvars=2, bad_node='nid0003', cases_per_report=7)
    generate(tmp_path / 'a', seed=3, **kw)
    generate(tmp_path / 'b', seed=3, **kw)
    generate(tmp_path / 'c', seed=4, **kw)
    a, b, c = (_files(tmp_path / x) for x in 'abc')
    assert a == b and len(a) == 4    # 3 reports + truth.json
    assert a.keys() == c.keys() and a != c


def test_ingest_reads_every_case_and_pvar(tmp_path):
    variants = [{'mpi': 'host'}, {'mpi': 'bundled', 'fabric': 'ofi'}]
    paths = generate(tmp_path, checks=('Alpha', 'Beta'), node_counts=(1, 2, 4), runs=3,
                     variants=variants, extra_pvars=2, fail_rate=0.2, seed=1)
    assert paths == [tmp_path / 'report.json']
    cases = _cases(paths)
    assert len(cases) == 2 * 2 * 3 * 3
    nfail = sum(tc['result'] == 'fail' for tc in cases)
    ds = ingest.load([tmp_path])
    f = ds.frame
    assert ds.sources == [str(tmp_path / 'report.json')]
    assert len(f) == (len(cases) - nfail) * 3 + nfail      # a failed case keeps one NaN row
    assert set(f['pvar'].dropna()) == {'time', 'rate_0', 'rate_1'}
    assert set(f['check']) == {'Alpha', 'Beta'} and set(f['workload']) == {'alpha', 'beta'}
    assert set(f['mpi']) == {'host', 'bundled'} and set(f['fabric']) == {'', 'ofi'}
    assert sorted(f['num_nodes'].unique()) == [1, 2, 4]
    assert (f['num_tasks'] == 4 * f['num_nodes']).all()
    assert set(f['scaling_mode']) == {'strong'} and set(f['runtime']) == {'bare'}
    assert f.loc[f['pvar'] == 'time', 'better'].eq('lower').all()
    assert f.loc[f['pvar'] == 'rate_1', 'better'].eq('higher').all()
    # one case per display name in the session (repeats carry %.repeat_no)
    per_case = f.drop_duplicates(['session_uuid', 'run_index', 'display_name', 'environ'])
    assert len(per_case) == len(cases)
    tc = next(t for t in cases if t['result'] == 'pass' and t['num_nodes'] == 4 and t['mpi'] == 'bundled')
    assert tc['display_name'].startswith('Alpha %num_nodes=4 %mpi=bundled %fabric=ofi %.repeat_no=')
    assert len(tc['job_nodelist']) == 4 and len(set(tc['job_nodelist'])) == 4
    t = tc['perfvalues']['synth:compute:time']
    assert t[1:] == [0, None, None, 's', 'pass']
    assert tc['perfvalues']['synth:compute:rate_1'][0] == pytest.approx(2000 / t[0])
    s = ds.sessions.iloc[0]
    assert s['data_version'] == '4.2' and s['num_cases'] == len(cases) and s['num_failures'] == nfail


def test_medians_and_speedups_recover_truth(tmp_path):
    variants = [{'mpi': 'host'}, {'mpi': 'bundled'}]
    generate(tmp_path, node_counts=(1, 2, 4, 8), runs=200, cov=0.03, serial_fraction=0.1,
             variants=variants, variant_factors={'mpi=bundled': 1.25}, seed=7)
    tr = json.loads((tmp_path / 'truth.json').read_text())
    f = ingest.load([tmp_path]).frame
    med = f[f['pvar'] == 'time'].groupby(['mpi', 'num_nodes'])['value'].median()
    assert len(tr['cells']) == 8
    for cell in tr['cells']:
        got = med[(cell['variant']['mpi'], cell['num_nodes'])]
        assert got == pytest.approx(cell['median_time'], rel=0.02)
        base = med[(cell['variant']['mpi'], 1)]
        assert base / got == pytest.approx(cell['speedup'], rel=0.03)
    for n in (1, 2, 4, 8):
        assert med[('bundled', n)] / med[('host', n)] == pytest.approx(1.25, rel=0.03)


def test_truth_is_amdahl_and_log_weak_scaling():
    tr = truth(node_counts=(2, 4, 16), serial_fraction=0.1, base_time=50.0, cov=0.1)
    sigma = math.sqrt(math.log(1 + 0.01))
    assert tr['n0'] == 2 and tr['noise']['sigma'] == pytest.approx(sigma)
    c16 = tr['cells'][2]
    t16 = 50.0 * (0.1 + 0.9 * 2 / 16)
    assert c16['noise_free_time'] == pytest.approx(t16)
    assert c16['median_time'] == pytest.approx(t16 * math.exp(-sigma ** 2 / 2))
    assert c16['speedup'] == pytest.approx(50.0 / t16)
    assert c16['efficiency'] == pytest.approx(50.0 / t16 * 2 / 16)
    weak = truth(node_counts=(1, 8), serial_fraction=0.1, mode='weak')['cells'][1]
    assert weak['noise_free_time'] == pytest.approx(100.0 * 1.3)
    assert weak['efficiency'] == pytest.approx(1 / 1.3) and weak['speedup'] == pytest.approx(8 / 1.3)
    per_n = truth(fail_rate=0.1, fail_rate_per_node={8: 0.4})['cells']
    assert [c['fail_prob'] for c in per_n] == [0.1, 0.1, 0.1, 0.4]


def test_fail_rate_share_and_failed_case_shape(tmp_path):
    paths = generate(tmp_path, node_counts=(1, 2, 4, 8), runs=500, fail_rate=0.3, seed=11)
    cases = _cases(paths)
    assert len(cases) == 2000
    failed = [tc for tc in cases if tc['result'] == 'fail']
    assert 0.27 <= len(failed) / len(cases) <= 0.33
    assert {tc['fail_phase'] for tc in failed} == set(FAIL_PHASES)
    assert all(tc['perfvalues'] == {} and tc['fail_reason'] for tc in failed)
    assert all(tc['fail_phase'] is None and tc['perfvalues'] for tc in cases if tc['result'] == 'pass')
    run_share = sum(tc['fail_phase'] == 'run' for tc in failed) / len(failed)
    assert 0.42 <= run_share <= 0.58
    rep = json.loads(paths[0].read_text())
    assert rep['session_info']['num_failures'] == rep['runs'][0]['num_failures'] == len(failed)
    assert json.loads((tmp_path / 'truth.json').read_text())['realized']['num_failures'] == len(failed)


def test_bad_node_fails_more_than_the_others(tmp_path):
    paths = generate(tmp_path, node_counts=(1, 2, 4), runs=300, fail_rate=0.02,
                     bad_node='nid0007', bad_node_fail_rate=0.5, seed=5)
    cases = _cases(paths)
    with_bad = [tc['result'] == 'fail' for tc in cases if 'nid0007' in tc['job_nodelist']]
    without = [tc['result'] == 'fail' for tc in cases if 'nid0007' not in tc['job_nodelist']]
    assert len(with_bad) > 50
    assert 0.35 <= np.mean(with_bad) <= 0.65 and np.mean(without) <= 0.05
    reasons = [tc['fail_reason'] for tc in cases
               if tc['result'] == 'fail' and tc['fail_phase'] == 'run' and 'nid0007' in tc['job_nodelist']]
    assert reasons and all('nid0007' in r for r in reasons)
    nodes = {n for tc in cases for n in tc['job_nodelist']}
    assert nodes <= {f'nid{i:04d}' for i in range(1, 17)} and len(nodes) == 16
    cell = json.loads((tmp_path / 'truth.json').read_text())['cells'][2]
    assert cell['p_bad_node_in_job'] == 4 / 16 and cell['fail_prob_bad_node'] == 0.5


def test_cases_per_report_splits_into_sessions(tmp_path):
    paths = generate(tmp_path, runs=60, cases_per_report=100, fail_rate=0.1, seed=2)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        'session-000/report.json', 'session-001/report.json', 'session-002/report.json']
    uuids, total = set(), 0
    for p in paths:
        rep = ingest.read_report(p)
        s, run = rep['session_info'], rep['runs'][0]
        assert s['data_version'] == '4.2' and run['run_index'] == 0
        assert s['num_cases'] == run['num_cases'] == len(run['testcases'])
        assert s['num_failures'] == sum(tc['result'] == 'fail' for tc in run['testcases'])
        assert {tc['session_uuid'] for tc in run['testcases']} == {s['uuid']}
        assert s['time_start'] < s['time_end']
        uuids.add(s['uuid'])
        total += s['num_cases']
    assert len(uuids) == 3 and total == 240
    ds = ingest.load([tmp_path])
    assert len(ds.sources) == 3 and len(ds.sessions) == 3
    # a later single-file run into the same folder leaves no stale sessions behind
    assert generate(tmp_path, runs=2) == [tmp_path / 'report.json']
    assert len(ingest.load([tmp_path]).sources) == 1 and not list(tmp_path.glob('session-*/report.json'))


def test_cli_picks_runs_for_about_the_asked_cases(tmp_path, capsys):
    assert main([str(tmp_path), '--cases', '1000', '--extra-pvars', '3', '--cases-per-report', '400',
                 '--fail-rate', '0.1']) == 0
    out = capsys.readouterr().out
    real = json.loads((tmp_path / 'truth.json').read_text())['realized']
    assert real['num_cases'] == 1000 and len(real['files']) == 3
    assert real['perf_rows'] == (1000 - real['num_failures']) * 4
    assert '3 files, 1000 cases' in out and f'{real["perf_rows"]} perf rows' in out


@pytest.mark.parametrize('kw', [
    dict(node_counts=(1, 32)), dict(bad_node='nid0099'), dict(mode='linear'),
    dict(variants=[{'num_nodes': 3}]), dict(variants=[{'mpi': 'a b'}]),
    dict(variant_factors={'mpi=x': 2.0}), dict(fail_rate=1.5),
])
def test_bad_arguments_are_refused(tmp_path, kw):
    with pytest.raises(ValueError):
        generate(tmp_path, **kw)
