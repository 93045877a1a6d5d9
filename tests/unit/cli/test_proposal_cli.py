"""`hpcval proposal`: run reports of known laws in, the proposal folder out (in process)."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from hpcval import cli
import runreports as rr

pytestmark = pytest.mark.unit

MEASURED = (1, 2, 3, 4, 6, 8)
REQUIRED = ['check', 'pvar', 'variant', 'nodes', 'predicted', 'lo', 'hi', 'model', 'measured_max_nodes']


def strong(n):
    '''The true law of the strong series: T = a + b/N.'''
    return 4.0 + 60.0 / n


def weak_rate(n):
    '''A constant rate per node, summed: R = 50 N (weak scaling of a rate, perfectly efficient).'''
    return 50.0 * n


def _report(path, seed=0, runs=6, nodes=MEASURED, noise=0.02):
    rng = np.random.default_rng(seed)
    cases = []
    for n in nodes:
        for i in range(runs):
            t = strong(n) * rng.normal(1, noise)
            cases.append(rr.make_case(f'Lj %mode=strong %num_nodes={n}', {'loop_time': (t, 's')}, num_nodes=n,
                                      mode='strong', scaling_mode='strong', scaling_pvar='loop_time',
                                      role='application', job_seconds=t + 2.0, steps=500, run_index=i,
                                      mpi_library='Open MPI v4.1.4', hosts=f'node{n}'))
            r = weak_rate(n) * rng.normal(1, noise)
            cases.append(rr.make_case(f'Lj %mode=weak %num_nodes={n}', {'katom_steps': (r, 'katom-step/s')},
                                      num_nodes=n, mode='weak', scaling_mode='weak', scaling_pvar='katom_steps',
                                      role='application', job_seconds=30.0 * rng.normal(1, noise), run_index=i,
                                      mpi_library='Open MPI v4.1.4', hosts=f'node{n}'))
    path.write_text(json.dumps(rr.report(cases)))
    return path


def _run(*args):
    return cli.main(['proposal', *map(str, args), '--boot', '150'])


@pytest.fixture(scope='module')
def made(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('proposal')
    report = _report(tmp / 'report.json')
    plan = tmp / 'plan.yaml'
    plan.write_text('- {name: production, series: strong, nodes: 32, runs: 40, steps: 5000}\n'
                    '- {name: fixed, series: weak, nodes: 16, runs: 10, wall_time: 2h}\n')
    out = tmp / 'out'
    assert _run(report, '--nodes', '4,16,32', '--plan', plan, '-o', out) == 0
    return out


def test_extrapolation_csv_has_the_promised_columns_and_labels_the_model(made):
    ext = pd.read_csv(made / 'tables' / 'extrapolation.csv')
    assert list(ext.columns[:len(REQUIRED)]) == REQUIRED
    assert sorted(ext['nodes'].unique()) == [4, 16, 32] and ext['check'].unique().tolist() == ['Lj']
    assert set(ext.loc[ext['nodes'] == 4, 'range']) == {'measured'}
    assert set(ext.loc[ext['nodes'] > 8, 'range']) == {'extrapolated (MODEL)'}
    assert (ext['measured_max_nodes'] == 8).all()


def test_the_strong_law_is_extrapolated_within_its_interval(made):
    ext = pd.read_csv(made / 'tables' / 'extrapolation.csv')
    s = ext[(ext['pvar'] == 'loop_time') & (ext['nodes'] > 8)]
    for r in s.itertuples():
        truth = strong(r.nodes)
        assert r.predicted == pytest.approx(truth, rel=0.08), r.model
        assert r.lo < truth < r.hi and r.lo > 0
        # strong efficiency against 1 node falls as the serial part shows
        assert r.efficiency == pytest.approx(strong(1) / truth / r.nodes, rel=0.1)
    assert 'p^(-1)' in s['model'].iloc[0]


def test_a_rate_is_modelled_and_quoted_as_a_rate(made):
    ext = pd.read_csv(made / 'tables' / 'extrapolation.csv')
    w = ext[(ext['pvar'] == 'katom_steps') & (ext['nodes'] == 32)].iloc[0]
    assert w['predicted'] == pytest.approx(weak_rate(32), rel=0.1)
    assert w['lo'] < weak_rate(32) < w['hi'] and w['better'] == 'higher'


def test_the_plan_gives_node_hours_from_the_wall_time_model_and_the_fixed_wall_time(made):
    plan = pd.read_csv(made / 'tables' / 'plan.csv').set_index('line')
    prod, fixed = plan.loc['production'], plan.loc['fixed']
    # 40 runs x 32 nodes x (job seconds at 32 nodes x 5000 / 500 steps)
    truth = 40 * 32 * (strong(32) + 2.0) * 10 / 3600
    assert prod['node_hours'] == pytest.approx(truth, rel=0.1)
    assert prod['node_hours_lo'] <= prod['node_hours'] <= prod['node_hours_hi']
    assert 'MODEL' in prod['basis']
    assert fixed['node_hours'] == pytest.approx(10 * 16 * 2) and fixed['node_hours_lo'] == fixed['node_hours_hi']


def test_every_table_comes_ready_to_paste_and_every_figure_as_svg_and_pdf(made):
    for name in ('scaling', 'extrapolation', 'plan'):
        head = (made / 'tables' / f'{name}.md').read_text().splitlines()
        assert head[0].startswith('|') and '| application |' in head[0] and set(head[1]) == {'|', '-'}
        tex = (made / 'tables' / f'{name}.tex').read_text()
        assert '\\toprule' in tex and '\\bottomrule' in tex and 'tab:hpcval-' in tex
    figs = {p.name for p in (made / 'figures').iterdir()}
    # two units (s and a rate): one figure each, every figure in the three formats
    shown = {f.rsplit('.', 1)[0] for f in figs if f.startswith('extrapolation_Lj')}
    assert len(shown) == 2 and all(f'{n}.{ext}' in figs for n in shown for ext in ('png', 'svg', 'pdf'))
    md = (made / 'report.md').read_text()
    assert 'extrapolated (MODEL)' in md and 'node-hours' in md and 'cross-validated SMAPE' in md
    html = (made / 'index.html').read_text()
    assert 'class="model"' in html


def test_past_ten_times_the_largest_measured_size_is_refused_and_nothing_written(tmp_path, capsys):
    report = _report(tmp_path / 'r.json', nodes=(1, 2, 3), runs=3)
    assert _run(report, '--nodes', '31', '-o', tmp_path / 'out') == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and '10 x' in err[0] and 'at most 30' in err[0]
    assert not (tmp_path / 'out').exists()
    assert _run(report, '--nodes', '31', '--beyond-10x', '-o', tmp_path / 'out') == 0
    ext = pd.read_csv(tmp_path / 'out' / 'tables' / 'extrapolation.csv')
    assert ext['flag'].fillna('').str.contains('10').all()


def test_runs_without_an_application_series_are_an_input_error(tmp_path, capsys):
    cases = [rr.latency_case({'8B': 1.0 + i / 10}, run_index=i) for i in range(3)]
    (tmp_path / 'r.json').write_text(json.dumps(rr.report(cases)))
    assert _run(tmp_path / 'r.json', '--nodes', '2', '-o', tmp_path / 'out') == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'no application series' in err[0] and 'r.json' in err[0]
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('text, fault', [
    ('nodes: 8\nruns: 2\nsteps: 10\nwall_time: 1h\n', 'not both'),
    ('nodes: 8\nruns: 2\nhours: 3\n', "unknown key(s) 'hours'"),
    ('nodes: 8\nruns: 2\nwall_time: soon\n', 'not a duration'),
    ('nodes: 0\nruns: 2\n', 'nodes'),
    ('- {nodes: 8, runs: 1}\n- 3\n', '[1]'),
    ('nodes: [8\n', 'not valid YAML'),
    ('', 'empty plan'),
    ('nodes: 8\nruns: 2\nseries: "(("\n', 'series'),
])
def test_a_bad_plan_is_one_line_naming_the_file_and_nothing_is_written(tmp_path, capsys, text, fault):
    report = _report(tmp_path / 'r.json', nodes=(1, 2, 3), runs=3)
    plan = tmp_path / 'plan.yaml'
    plan.write_text(text)
    assert _run(report, '--nodes', '4', '--plan', plan, '-o', tmp_path / 'out') == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'plan.yaml' in err[0] and fault in err[0], err
    assert not (tmp_path / 'out').exists()


def test_three_node_counts_give_a_one_term_model_and_a_held_out_check(tmp_path):
    report = _report(tmp_path / 'r.json', nodes=(1, 2, 3), runs=6)
    assert _run(report, '--nodes', '6', '-o', tmp_path / 'out') == 0
    models = pd.read_csv(tmp_path / 'out' / 'tables' / 'models.csv')
    strong_model = models[models['pvar'] == 'loop_time'].iloc[0]
    assert strong_model['form'].count('·') <= 1      # constant + at most one term from 3 points
    assert strong_model['nodes_measured'] == '1,2,3'
    assert math.isfinite(strong_model['cv_smape'])


def test_the_run_report_extrapolates_its_application_series_as_a_model(tmp_path):
    report = _report(tmp_path / 'r.json', nodes=(1, 2, 3, 4), runs=6)
    assert cli.main(['report', str(report), '-o', str(tmp_path / 'rep')]) == 0
    ext = pd.read_csv(tmp_path / 'rep' / 'tables' / 'extrapolation.csv')
    # default: 2 and 4 x the largest measured node count
    assert sorted(ext['nodes'].unique()) == [8, 16] and set(ext['range']) == {'extrapolated (MODEL)'}
    md = (tmp_path / 'rep' / 'report.md').read_text()
    assert 'Extrapolation (a MODEL, not a measurement)' in md
    assert cli.main(['report', str(report), '--nodes', '2,50', '-o', str(tmp_path / 'rep2')]) == 0
    ext = pd.read_csv(tmp_path / 'rep2' / 'tables' / 'extrapolation.csv')
    assert sorted(ext['nodes'].unique()) == [2] and set(ext['range']) == {'measured'}
    assert 'past 10 x the largest measured size: 50 nodes' in (tmp_path / 'rep2' / 'report.md').read_text()
