"""Real ReFrame runs of checks/smallfile_io.py: rates, the file guard, bad targets, dying ranks.

Each fixture is one `hpcval run` (a few seconds each) shared by several
tests.  The `work` target is a temporary folder (HPCVAL_WORK), `ramdisk` is
/dev/shm and `home` is $HOME, as in config/local.py; after every run no
``hpcval-smallfile-*`` entry may be left in any of them.
"""
import os
import subprocess
import stat
from pathlib import Path

import pytest

from hpcval_cli import hpcval, run_cases

FILES, ITERS, RANKS = 40, 2, 2          # RANKS: set explicitly (tasks_per_node)
PLANNED = FILES * ITERS * RANKS
SMALL = ['-S', f'SmallfileIO.files_per_rank={FILES}', '-S', f'SmallfileIO.iterations={ITERS}',
         '-S', f'SmallfileIO.tasks_per_node={RANKS}']
PERF = {f'file_{op}{stat}' for op in ('creation', 'stat', 'read', 'removal')
        for stat in ('', '_max', '_min', '_stddev')}


@pytest.fixture(scope='module')
def work(tmp_path_factory):
    return tmp_path_factory.mktemp('work')


@pytest.fixture(scope='module')
def targets(work):
    return {'home': Path(os.path.expanduser('~')), 'work': work, 'ramdisk': Path('/dev/shm')}


def _ours(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith('hpcval-smallfile-'))


@pytest.fixture(scope='module')
def before(targets):
    '''What was there before this module ran (another session's leftovers are not ours).'''
    return {name: _ours(path) for name, path in targets.items()}


@pytest.fixture(scope='module')
def run(tmp_path_factory, work, before):
    '''run(name, *args, env=...) -> (exit code, {target: test case}, run directory).'''
    runs = tmp_path_factory.mktemp('runs')

    def _run(name, *args, env=None):
        proc = hpcval('run', 'smallfile_io', '--name', name, *SMALL, *args, runs=runs,
                      env={'HPCVAL_WORK': str(work), **(env or {})}, timeout=300)
        rundir = runs / name / 'latest'
        assert (rundir / 'report.json').exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
        by_target = {tc['target']: tc for tc in run_cases(rundir) if tc.get('target')}
        return proc.returncode, by_target, rundir
    return _run


def _perf(tc):
    return {k.split(':')[-1]: v for k, v in tc['perfvalues'].items()}


def _assert_nothing_left(targets, before):
    for name, path in targets.items():
        assert _ours(path) == before[name], f'stray run directory in {name} ({path})'


# --- a good run, all three targets, the guard lifted -------------------------

@pytest.fixture(scope='module')
def good(run):
    # max_files=10 would refuse home and work: allow_many_files lifts it
    return run('good', '-S', 'SmallfileIO.max_files=10', '-S', 'SmallfileIO.allow_many_files=1')


def test_every_target_passes_with_rates(good):
    rc, cases, _ = good
    assert rc == 0
    assert set(cases) == {'home', 'work', 'ramdisk'}
    for target, tc in cases.items():
        assert tc['result'] == 'pass', (target, tc.get('fail_reason'))
        perf = _perf(tc)
        assert set(perf) == PERF, target
        for name, (value, _ref, _lo, _hi, unit, *_rest) in perf.items():
            assert unit == 'ops/s', name
            if not name.endswith('_stddev'):
                assert value > 0, (target, name)
        assert perf['file_creation_max'][0] >= perf['file_creation'][0] >= perf['file_creation_min'][0]


def test_files_created_equal_removed_and_planned(good):
    for target, tc in good[1].items():
        assert tc['files_created'] == tc['files_removed'] == tc['planned_files'] == PLANNED, target


def test_targets_and_provenance_recorded(good, targets):
    for target, tc in good[1].items():
        assert tc['target_path'] == str(targets[target])
        assert tc['run_dir'].startswith('hpcval-smallfile-')
        assert tc['target_shared'] is (target != 'ramdisk')
        assert tc['mpi_library'].startswith('Open MPI') and tc['hosts']
        assert tc['runtime'] == 'bare' and tc['implementation'] == 'hpcval'


def test_good_run_leaves_nothing(good, targets, before):
    _assert_nothing_left(targets, before)


# --- the guard ---------------------------------------------------------------

@pytest.fixture(scope='module')
def refused(run):
    return run('refused', '-S', 'SmallfileIO.max_files=10')


def test_guard_refuses_shared_targets_before_running(refused, targets, before):
    rc, cases, _ = refused
    assert rc != 0
    for target in ('home', 'work'):
        tc = cases[target]
        assert tc['result'] == 'fail' and tc['fail_phase'] == 'setup', target
        why = tc['fail_reason']
        assert 'at most 10 files' in why and f'create {PLANNED}' in why, why
        assert '-S SmallfileIO.allow_many_files=1' in why
    # not shared: the limit does not apply
    assert cases['ramdisk']['result'] == 'pass'
    _assert_nothing_left(targets, before)


# --- a target that does not exist ---------------------------------------------

@pytest.fixture(scope='module')
def missing(run, tmp_path_factory):
    parent = tmp_path_factory.mktemp('missing')
    target = parent / 'no' / 'such-dir'
    return run('missing', '-S', f'SmallfileIO.target_path={target}', '--', '-n', '%target=work'), target


def test_missing_target_fails_sanity_naming_it(missing):
    (rc, cases, _), target = missing
    tc = cases['work']
    assert rc != 0 and tc['result'] == 'fail' and tc['fail_phase'] == 'sanity'
    assert f'target {target} does not exist' in tc['fail_reason']
    # nothing was created on the way: not the target, not its parent's content
    assert not target.exists() and list(target.parent.parent.iterdir()) == []


def test_unwritable_target_is_named_too(run, tmp_path):
    ro = tmp_path / 'ro'
    ro.mkdir()
    if os.geteuid() == 0:
        # root writes through any mode bits: a read-only mount stops it
        subprocess.run(['mount', '-t', 'tmpfs', '-o', 'ro,size=1m', 'hpcval-ro', str(ro)], check=True)
    else:
        ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        rc, cases, _ = run('readonly', '-S', f'SmallfileIO.target_path={ro}', '--', '-n', '%target=work')
        assert rc != 0 and f'target {ro} is not writable' in cases['work']['fail_reason']
        assert list(ro.iterdir()) == []
    finally:
        if os.geteuid() == 0:
            subprocess.run(['umount', str(ro)], check=True)


# --- a rank that fails midway ------------------------------------------------

@pytest.fixture(scope='module')
def rank_error(run):
    return run('rank-error', '-S', 'SmallfileIO.fail_rank=1', '-S', 'SmallfileIO.fail_after_files=7',
               '--', '-n', '%target=work')


@pytest.fixture(scope='module')
def rank_killed(run):
    return run('rank-killed', '-S', 'SmallfileIO.fail_rank=1', '-S', 'SmallfileIO.fail_after_files=7',
               '-S', 'SmallfileIO.fail_mode=kill', '--', '-n', '%target=work', '-n', '%target=ramdisk')


def test_failed_rank_everyone_cleans_up_itself(rank_error, targets, before):
    rc, cases, _ = rank_error
    tc = cases['work']
    assert rc != 0 and tc['result'] == 'fail' and tc['fail_phase'] == 'sanity'
    assert 'a rank failed' in tc['fail_reason']
    # the program removed all it created (rank 0: 40, rank 1: 7) without the job's help
    assert tc['files_created'] == tc['files_removed'] == FILES + 7
    assert 'left' not in tc['fail_reason']
    _assert_nothing_left(targets, before)


def test_killed_rank_leaves_nothing_behind(rank_killed, targets, before):
    rc, cases, _ = rank_killed
    assert rc != 0
    for target in ('work', 'ramdisk'):
        tc = cases[target]
        assert tc['result'] == 'fail' and tc['fail_phase'] == 'sanity', target
        # the job script found what the killed rank left, said so and removed it
        assert f'{targets[target]}/{tc["run_dir"]} behind' in tc['fail_reason'], tc['fail_reason']
    _assert_nothing_left(targets, before)


# --- the real mdtest's code path, with a stand-in binary ----------------------

FAKE_MDTEST = r'''#!/bin/bash
# Stand-in for mdtest: records its arguments, prints mdtest 4.0's output layout.
[ "${OMPI_COMM_WORLD_RANK:-0}" = 0 ] || exit 0
printf '%s\n' "$@" > "$(dirname "$0")/args"
while [ $# -gt 0 ]; do case "$1" in -i) iters=$2; shift;; -d) dir=$2; shift;; esac; shift; done
[ -d "$dir" ] || { echo "ERROR: no $dir"; exit 1; }
cat <<EOF
-- started at 03/19/2026 17:55:06 --

mdtest-4.0.0 was launched with ${OMPI_COMM_WORLD_SIZE:-1} total task(s) on 1 node(s)
Command line used: mdtest
SUMMARY rate: (of $iters iterations)
   Operation                     Max            Min           Mean        Std Dev
   ---------                     ---            ---           ----        -------
   File creation                2568.636       2500.000       2534.318         34.318
   File stat                   10000.000       9000.000       9500.000        500.000
   File read                    8000.000       7000.000       7500.000        500.000
   File removal                 3000.000       2000.000       2500.000        500.000
   Tree creation                 496.015        496.015        496.015          0.000
   Tree removal                  100.000        100.000        100.000          0.000
-- finished at 03/19/2026 17:55:20 --
EOF
'''


@pytest.fixture(scope='module')
def fake_mdtest(run, tmp_path_factory):
    folder = tmp_path_factory.mktemp('mdtest')
    binary = folder / 'mdtest'
    binary.write_text(FAKE_MDTEST)
    binary.chmod(0o755)
    return run('mdtest', '-S', 'SmallfileIO.implementation=mdtest', '--', '-n', '%target=work',
               env={'MDTEST': str(binary)}), folder


def test_mdtest_implementation_runs_and_parses(fake_mdtest, work, targets, before):
    (rc, cases, _), folder = fake_mdtest
    tc = cases['work']
    assert rc == 0 and tc['result'] == 'pass', tc.get('fail_reason')
    args = (folder / 'args').read_text().splitlines()
    assert args[:-1] == ['-n', str(FILES), '-w', '4096', '-e', '4096', '-u', '-F', '-i', str(ITERS), '-d']
    assert args[-1] == f'{work}/{tc["run_dir"]}'
    perf = _perf(tc)
    assert perf['file_creation'][0] == 2534.318 and perf['file_removal_stddev'][0] == 500.0
    assert tc['mpi_library'].startswith('Open MPI')      # from the probe, mdtest prints none
    assert tc['files_created'] is None
    _assert_nothing_left(targets, before)
