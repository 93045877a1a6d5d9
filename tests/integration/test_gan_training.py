"""The 3D-GAN training check, run for real: TensorFlow, mpi4py, 1 and 2 ranks."""
import pytest

from hpcval_cli import hpcval, run_cases

SMALL = ['-S', 'GanTraining.steps=3', '-S', 'GanTraining.warmup=1', '-S', 'GanTraining.batch=4',
         '-S', 'GanTraining.check_every=2']


def _perf(tc, pvar):
    return [v[0] for k, v in tc['perfvalues'].items() if k.endswith(':' + pvar)][0]


@pytest.fixture(scope='module')
def gan_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp('runs')
    proc = hpcval('run', 'gan_training', '--name', 'gan', *SMALL, '--', '-P', 'ranks_per_node=1,2',
                  runs=runs, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return {(tc['mode'], tc['ranks_per_node']): tc for tc in run_cases(runs / 'gan' / 'latest')
            if tc['name'].startswith('GanTraining')}


def test_strong_and_weak_on_one_and_two_ranks_pass_with_provenance(gan_run):
    assert set(gan_run) == {(m, r) for m in ('strong', 'weak') for r in (1, 2)}
    for (mode, ranks), tc in gan_run.items():
        assert tc['result'] == 'pass', (tc['name'], tc['fail_reason'])
        assert tc['ranks'] == ranks and tc['scaling_mode'] == mode
        # strong: the global batch stays 4; weak: 4 per rank
        assert tc['global_batch'] == (4 if mode == 'strong' else 4 * ranks)
        assert 'Open MPI' in tc['mpi_library'] and 'libmpi.so' in tc['mpi_library_path']
        assert tc['tensorflow_version'].startswith('2.')
        assert _perf(tc, 'samples_per_s') > 0 and _perf(tc, 'step_time') > 0
        assert 0 <= _perf(tc, 'allreduce_share') < 100
        # samples/s is the global batch over the median step
        assert _perf(tc, 'samples_per_s') == pytest.approx(tc['global_batch'] / _perf(tc, 'step_time'),
                                                           rel=0.01)


def test_two_ranks_really_reduce(gan_run):
    # one rank's allreduce is a local copy; two ranks move the 0.78 MB buffer
    # between processes and wait for each other
    for mode in ('strong', 'weak'):
        assert _perf(gan_run[(mode, 2)], 'allreduce_time') > 5 * _perf(gan_run[(mode, 1)], 'allreduce_time')


@pytest.mark.parametrize('inject, reason', [
    ('nan:2', 'loss became non-finite: d_loss nan'),
    ('diverge:2', 'ranks diverged: weights differ across ranks, max abs difference 0.001 at step 2'),
])
def test_nan_loss_or_diverging_ranks_fail_sanity_with_the_reason(tmp_path, inject, reason):
    proc = hpcval('run', 'gan_training', '--name', 'fault', *SMALL, '-S', f'GanTraining.inject={inject}',
                  '--', '-P', 'ranks_per_node=2', '-n', '%mode=strong', runs=tmp_path, timeout=600)
    assert proc.returncode == 1, proc.stdout[-3000:]
    [tc] = [tc for tc in run_cases(tmp_path / 'fault' / 'latest') if tc['name'].startswith('GanTraining')]
    assert tc['result'] == 'fail' and tc['fail_phase'] == 'sanity'
    assert reason in tc['fail_reason']


def test_a_global_batch_that_does_not_split_fails_before_running(tmp_path):
    proc = hpcval('run', 'gan_training', '--name', 'split', '-S', 'GanTraining.batch=3',
                  '--', '-P', 'ranks_per_node=2', '-n', '%mode=strong', runs=tmp_path, timeout=300)
    assert proc.returncode == 1
    [tc] = [tc for tc in run_cases(tmp_path / 'split' / 'latest') if tc['name'].startswith('GanTraining')]
    assert tc['fail_phase'] == 'setup' and 'batch 3 does not split over 2 ranks' in tc['fail_reason']
