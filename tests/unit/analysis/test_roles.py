"""Roles: each check analysed as what it is (issue 15).

A network check's latencies across node counts get no speedup, efficiency or
Amdahl fit; a kernel's per-node rate neither; an application is scaled on
its declared figure of merit; a foreign check is guessed, and says so.
"""
import pandas as pd
import pytest

from hpcval.analysis import ingest, report, roles
from runreports import make_case, report as runreport, write


def _gan(n, rate, allreduce, i):
    return make_case(f'GanTraining %num_nodes={n} %mode=strong', {
        'samples_per_s': (rate, 'samples/s'), 'step_time': (8 / rate, 's'),
        'allreduce_time': (allreduce, 's'), 'allreduce_share': (5.0, '%')},
        num_nodes=n, workload='gan_training', role='application', scaling_pvar='samples_per_s',
        run_index=i, job_seconds=30.0 + n)


def _latency(n, us, i):
    return make_case(f'MpiMicrobench %num_nodes={n} %benchmark=latency', {'latency_8B': (us, 'us')},
                     num_nodes=n, benchmark='latency', workload='mpi_microbench', role='network', run_index=i)


def _gemm(n, gflops, i):
    return make_case(f'MatmulBench %num_nodes={n}', {'gflops_n2048': (gflops, 'GFLOP/s'),
                                                     'nominal_peak': (80.0, 'GFLOP/s')},
                     num_nodes=n, workload='matmul', role='kernel', run_index=i)


def _foreign(n, t, i, extra=None):
    perf = {'elapsed': (t, 's'), **(extra or {})}
    return make_case(f'UsersCode %num_nodes={n}', perf, num_nodes=n, run_index=i)


def _load(tmp_path, cases):
    return ingest.load([write(tmp_path / 'report.json', runreport(cases))])


@pytest.fixture
def mixed(tmp_path):
    cases = []
    for i in range(6):
        for n in (1, 2, 4):
            cases += [_gan(n, 10.0 * n ** 0.9 * (1 + 0.01 * i), 1e-4 * n, i), _latency(n, 2.0 + n, i),
                      _gemm(n, 20.0 + 0.1 * i, i), _foreign(n, 100.0 / n + i, i)]
    return _load(tmp_path, cases)


def test_declared_roles_and_a_guessed_application(mixed):
    table = roles.assign(mixed.frame).set_index('check')
    assert table.loc['GanTraining', 'role'] == 'application' and table.loc['GanTraining', 'how'] == 'declared'
    assert table.loc['MpiMicrobench', 'role'] == 'network'
    assert table.loc['MatmulBench', 'role'] == 'kernel'
    # a node-count sweep with one time: an application, marked guessed
    assert tuple(table.loc['UsersCode', ['role', 'how']]) == ('application', 'guessed')


def test_an_override_wins_and_a_check_without_a_sweep_is_cases(tmp_path, mixed):
    table = roles.assign(mixed.frame, {'GanTraining': 'kernel'}).set_index('check')
    assert tuple(table.loc['GanTraining', ['role', 'how']]) == ('kernel', 'set')
    one = _load(tmp_path, [_foreign(1, 5.0, i, {'size': (3.0, 'MB/s')}) for i in range(3)])
    assert tuple(roles.assign(one.frame).iloc[0][['role', 'how']]) == ('cases', 'none')
    # two timed variables over a sweep: which one scales is not ours to guess
    two = _load(tmp_path, [_foreign(n, 5.0, 0, {'io': (2.0, 's')}) for n in (1, 2)])
    assert roles.assign(two.frame).iloc[0]['role'] == 'cases'


@pytest.mark.parametrize('spec', ['GanTraining', 'GanTraining=fast', '=kernel'])
def test_a_bad_role_spec_names_itself(spec):
    with pytest.raises(ValueError, match='CHECK=ROLE'):
        roles.parse([spec])


def test_only_applications_get_speedup_and_efficiency(mixed):
    rep = report.build(mixed, 'roles')
    scaled = set(rep.tables['scaling']['check'])
    assert scaled == {'GanTraining', 'UsersCode'}
    assert 'speedup' not in rep.tables['network_vs_nodes'].columns
    assert 'efficiency' not in rep.tables['network_vs_nodes'].columns
    assert set(rep.tables['network_vs_nodes']['num_nodes']) == {1, 2, 4}
    assert not any(name.startswith(('speedup_mpimicrobench', 'efficiency_matmulbench')) for name in rep.figures)


def test_the_gan_is_scaled_on_its_declared_samples_per_s(mixed):
    rep = report.build(mixed, 'roles')
    gan = rep.tables['proposal'][rep.tables['proposal']['check'] == 'GanTraining']
    assert set(gan['pvar']) == {'samples_per_s'}
    four = gan[gan['num_nodes'] == 4].iloc[0]
    assert four['speedup'] == pytest.approx(4 ** 0.9, rel=0.02)
    # node-hours from the job's own wall time: 4 nodes x 34 s
    assert four['node_hours_per_run'] == pytest.approx(4 * 34 / 3600)
    heads = rep.tables['headlines'].set_index('check')
    assert heads.loc['GanTraining', 'pvar'] == 'samples_per_s' and heads.loc['GanTraining', 'num_nodes'] == 4
    # a kernel's headline is of its own series' peak: median 20.25 / 80 GFLOP/s
    assert heads.loc['MatmulBench', 'note'] == 'per node; 25.3 % of the nominal peak (80 GFLOP/s)'
    var = rep.extra['variability_headline']
    assert set(var.loc[var['check'] == 'GanTraining', 'pvar']) == {'samples_per_s'}


def test_the_executive_summary_says_what_to_read_with_care(mixed):
    rep = report.build(mixed, 'roles', caveats=['Every node shares two cores.'])
    ex = rep.extra['executive']
    assert ex['verdict'].startswith('All 72 test case(s) passed')
    assert ex['caveats'][0] == 'Every node shares two cores.'
    assert any('UsersCode as application' in c for c in ex['caveats'])
    assert not any('fewer than' in c for c in ex['caveats'])      # six runs each


def test_stability_pools_and_lists_only_the_failed(tmp_path):
    cases = [_latency(1, 2.0, i) for i in range(5)]
    cases.append(make_case('MpiMicrobench %num_nodes=1 %benchmark=latency', result='fail', fail_phase='sanity',
                           fail_reason='x', num_nodes=1, benchmark='latency', role='network', run_index=5))
    cases += [_gemm(1, 20.0, i) for i in range(3)]
    rep = report.build(_load(tmp_path, cases), 'stab')
    pool = rep.extra['pooled']
    assert (pool['runs'], pool['failures'], pool['failed_cases']) == (9, 1, 1)
    assert 0 < pool['ci_lo'] < 1 / 9 < pool['ci_hi'] < 0.5
    assert list(rep.extra['failed_stability']['check']) == ['MpiMicrobench']
    assert any('fewer than 6 runs' in c for c in rep.extra['executive']['caveats'])


def test_the_report_renders_roles_in_html_and_markdown(tmp_path, mixed):
    index = report.render(report.build(mixed, 'roles'), tmp_path / 'out')
    html, md = index.read_text(), (index.parent / 'report.md').read_text()
    for text in (html, md):
        assert 'Executive summary' in text and 'Network against node count' in text
        assert 'Application scaling (for a proposal)' in text
    assert not pd.read_csv(index.parent / 'tables' / 'roles.csv').empty


def test_a_check_without_a_node_count_still_gets_its_headline(tmp_path):
    cases = [make_case('OtherCode %size=big', {'elapsed': (50.0 + i, 's')}, run_index=i) for i in range(6)]
    rep = report.build(_load(tmp_path, cases), 'foreign')
    head = rep.tables['headlines'].set_index('check').loc['OtherCode']
    assert head['num_nodes'] == 'not recorded' and head['median'] == pytest.approx(52.5) and head['runs'] == 6


def test_an_io_headline_is_a_share_of_the_ramdisk(tmp_path):
    cases = [make_case(f'SmallfileIO %num_nodes={n} %target={target}', {'create_rate': (rate * n + i, 'ops/s')},
                       num_nodes=n, target=target, workload='smallfile_io', role='io', run_index=i)
             for i in range(6) for n in (1, 2) for target, rate in (('ramdisk', 1000.0), ('work', 250.0))]
    heads = report.build(_load(tmp_path, cases), 'io').tables['headlines']
    work = heads[heads['series'].str.contains('target=work')].iloc[0]
    assert work['num_nodes'] == 2
    assert work['note'] == "at the largest node count; 25.1 % of the ramdisk's rate"      # 502.5 / 2002.5
    ram = heads[heads['series'].str.contains('target=ramdisk')].iloc[0]
    assert ram['note'] == 'at the largest node count'


def test_an_environment_check_is_pass_or_fail_with_the_reason(tmp_path):
    ok = make_case('ContainerEnvIsolation %env_setup=recommended', {'hazards': (0.0, 'count')},
                   role='environment', resolved='julia=image,python=image')
    bad = make_case('ContainerEnvIsolation %env_setup=host-env', {}, role='environment', result='fail',
                    fail_phase='sanity', fail_reason='python package resolved to host-home, not the image ($HOME trap)')
    ds = _load(tmp_path, [ok, bad])
    # no hazard found is a count of zero: a measurement, not a bad value
    assert ds.warnings == [] and ds.frame.loc[ds.frame['pvar'] == 'hazards', 'value'].tolist() == [0.0]
    rep = report.build(ds, 'env')
    env = rep.extra['executive']['environment'].set_index('display_name')
    assert env.loc['ContainerEnvIsolation %env_setup=recommended', 'reason'] == 'passed: julia=image,python=image'
    assert '$HOME trap' in env.loc['ContainerEnvIsolation %env_setup=host-env', 'reason']
    html = report.render(rep, tmp_path / 'out').read_text()
    md = (tmp_path / 'out' / 'report.md').read_text()
    for text in (html, md):
        assert 'Environment checks' in text and 'passed: julia=image,python=image' in text


def test_zero_of_a_time_is_still_no_measurement(tmp_path):
    ds = _load(tmp_path, [make_case('App %x=1', {'t': (0.0, 's')})])
    assert len(ds.warnings) == 1 and ds.frame['value'].isna().all()
