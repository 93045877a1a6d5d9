"""What checks/app.py and checks/hpcc.py read, on real output of the real programs.

tests/data/apps/ (captured on Debian 12, Open MPI 4.1.4, under checks/src/app_launch.py):
- lammps_1rank_strong.txt, lammps_2ranks_weak.txt: Debian's lammps (29 Sep 2021 update 2),
  ``mpirun -np N python3 app_launch.py -- lmp -in in.lj -var scale S -var len 16 -var steps 200
  -log none -nocite`` with campaigns/inputs/lammps/in.lj;
- hpcc_2ranks_hpccoutf.txt, hpcc_2ranks_stdout.txt: Debian's hpcc 1.5.0, 2 ranks, N=2240,
  NB=80, P x Q = 1 x 2 (the input checks/common/hpcc.py writes), its output file and stdout.
"""
import subprocess
import sys
from pathlib import Path

import pytest

from common import appspec, hpcc
from hpcval import campaign

DATA = Path(__file__).resolve().parents[2] / 'data' / 'apps'
LAUNCH = Path(__file__).resolve().parents[3] / 'checks' / 'src' / 'app_launch.py'


def sample(name):
    return (DATA / name).read_text()


@pytest.fixture(scope='module')
def lammps():
    '''The app section of the shipped LAMMPS campaign: its regexes are what is tested.'''
    return campaign.load('lammps').app


def test_the_lammps_campaign_reads_its_figures_from_real_output(lammps):
    one, two = sample('lammps_1rank_strong.txt'), sample('lammps_2ranks_weak.txt')
    got = {f['name']: (appspec.read_figure(one, f['regex']), appspec.read_figure(two, f['regex']))
           for f in appspec.figures(lammps)}
    assert got == {'tau_per_day': (60016.440, 20847.340), 'loop_time': (1.43961, 4.14441),
                   'timesteps_per_s': (138.927, 48.258)}
    assert appspec.fom_name(lammps) == 'loop_time'
    assert appspec.better(lammps) == '{"loop_time": "lower", "tau_per_day": "higher", "timesteps_per_s": "higher"}'
    import re
    for text in (one, two):
        assert re.search(lammps['sanity'], text, re.M)
    assert not re.search(lammps['sanity'], one.replace('Loop time', 'Loop tim'), re.M)


def test_the_launcher_lines_prove_each_ranks_library(lammps):
    reports = appspec.rank_reports(sample('lammps_2ranks_weak.txt'))
    lib = '/usr/lib/x86_64-linux-gnu/libmpi.so.40.30.4'
    assert reports == {0: {'host': 'vm', 'path': lib, 'exit': 0}, 1: {'host': 'vm', 'path': lib, 'exit': 0}}
    assert appspec.rank_problems(reports, 2) == []
    assert appspec.library_paths_line(reports) == f'# MPI Library Path: {lib}'
    assert appspec.hosts(reports) == 'vm'
    assert appspec.rank_problems(reports, 3) == ['2 of 3 ranks reported (app_launch.py)']


def test_a_rank_that_fell_back_or_failed_is_a_problem():
    text = ('# Rank 0 on n1 MPI Library Path: /opt/hostmpi/lib/libmpi.so.40\n'
            '# Rank 1 on n2 MPI Library Path: /usr/lib/libmpi.so.40\n'
            '# Rank 2 on n3 MPI Library Path: none\n'
            '# Rank 0 exit status: 0\n# Rank 1 exit status: 139\n')
    reports = appspec.rank_reports(text)
    assert appspec.rank_problems(reports, 3) == [
        'the program ended with rank 1: exit status 139, rank 2: no status',
        'rank(s) 2 loaded no MPI library (not an MPI program, or it ended before its map could be read)']
    # both files in the one line ContainerMixin reads: an mpi=host case fails on rank 1's
    assert appspec.library_paths_line(reports) == \
        '# MPI Library Path: /opt/hostmpi/lib/libmpi.so.40,/usr/lib/libmpi.so.40'
    assert appspec.hosts(reports) == 'n1,n2,n3'


@pytest.mark.parametrize('mode,nodes,rpn,scale', [('strong', 3, 2, 1), ('weak', 3, 2, 6), ('weak', 1, 1, 1)])
def test_placeholders_scale_the_problem_in_weak_mode_only(lammps, mode, nodes, rpn, scale):
    values = appspec.placeholders(mode, nodes, rpn, 1, 200)
    assert values['ranks'] == nodes * rpn and values['scale'] == scale
    words = appspec.command_words(lammps['command'], values)
    assert words == ['lmp', '-in', 'in.lj', '-var', 'scale', str(scale), '-var', 'len', '16', '-var', 'steps', '200',
                     '-log', 'none', '-nocite']


def test_a_figure_that_is_absent_or_not_a_number_reads_as_none():
    assert appspec.read_figure('Rate: fast\n', r'^Rate: (\S+)') is None
    assert appspec.read_figure('nothing\n', r'^Rate: (\S+)') is None
    assert appspec.read_figure('Rate: 1\nRate: 2\n', r'^Rate: (\S+)') == 2.0     # the last one


def test_hpcc_summary_of_a_real_run():
    text = sample('hpcc_2ranks_hpccoutf.txt')
    values = hpcc.summary(text)
    assert values['HPL_N'] == 2240 and values['CommWorldProcs'] == 2 and values['Success'] == 1
    figs = hpcc.figures(values)
    assert figs['hpl'] == pytest.approx(4.71476) and figs['dgemm'] == pytest.approx(4.20842)
    assert figs['stream_triad'] == pytest.approx(38.1891) and figs['ptrans'] == pytest.approx(1.67332)
    assert set(figs) == set(hpcc.FIGURES)
    assert hpcc.problems(text, 2, 2240, 1, 2) == []
    stdout = sample('hpcc_2ranks_stdout.txt')
    assert appspec.rank_problems(appspec.rank_reports(stdout), 2) == []
    assert '# BLAS Library Path: /usr/lib/x86_64-linux-gnu/blas/libblas.so.3' in stdout


def test_hpcc_runs_of_another_size_or_that_failed_do_not_count():
    text = sample('hpcc_2ranks_hpccoutf.txt')
    assert hpcc.problems(text, 3, 2240, 1, 3) == ['CommWorldProcs=2.0, expected 3', 'HPL_npcol=2.0, expected 3']
    assert hpcc.problems(text.replace('Success=1', 'Success=0'), 2, 2240, 1, 2) == ['HPCC reports Success=0.0']
    failed = text.replace('0.0047383 ...... PASSED', '9.1 ...... FAILED')
    assert hpcc.problems(failed, 2, 2240, 1, 2) == ['the HPL residual check FAILED (9.1)']
    cut = text.split('Begin of Summary section.')[0]
    assert hpcc.problems(cut, 2, 2240, 1, 2) == ['no HPCC summary in hpccoutf.txt (HPCC did not finish)']


@pytest.mark.parametrize('ranks,grid,n', [(1, (1, 1), 1600), (2, (1, 2), 2240), (3, (1, 3), 2800),
                                          (4, (2, 2), 3200), (6, (2, 3), 3920), (12, (3, 4), 5520)])
def test_hpl_size_and_grid_follow_the_rank_count(ranks, grid, n):
    assert hpcc.grid(ranks) == grid
    assert hpcc.problem_size(ranks, 1600, 80) == n and n % 80 == 0
    text = hpcc.input_text(n, 80, *grid)
    lines = text.splitlines()
    assert lines[5].split()[0] == str(n) and lines[10].split()[0] == str(grid[0])
    assert lines[11].split()[0] == str(grid[1]) and lines[7].split()[0] == '80'


def test_the_launcher_passes_the_exit_status_and_says_when_no_mpi_was_mapped():
    proc = subprocess.run([sys.executable, str(LAUNCH), '--', 'sh', '-c', 'echo hi; exit 3'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert proc.stdout.splitlines() == ['hi', '# Rank 0 on ' + __import__('socket').gethostname()
                                        + ' MPI Library Path: none', '# Rank 0 exit status: 3']
    proc = subprocess.run([sys.executable, str(LAUNCH), '--', '/nonexistent/app'], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 127 and 'cannot start /nonexistent/app' in proc.stderr
