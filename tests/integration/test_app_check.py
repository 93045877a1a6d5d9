"""A user's own application through a campaign's app: section, run for real:
Debian's LAMMPS bare on 1 and 2 ranks (a small Lennard-Jones box, 200 steps),
and Debian's HPCC with a tiny HPL problem."""
import shutil

import pytest

from hpcval_cli import ROOT, hpcval, run_cases

LJ = ROOT / 'campaigns' / 'inputs' / 'lammps' / 'in.lj'
FOM = "{name: tau_per_day, regex: '^Performance: ([0-9.eE+-]+) tau/day', unit: tau/day, better: higher}"

pytestmark = pytest.mark.skipif(not shutil.which('lmp') or not shutil.which('hpcc'),
                                reason="Debian's lammps and hpcc are not installed (make setup installs them)")


def _campaign(tmp_path, name, fom=FOM, sanity="'^Loop time of [0-9.]+ on \\d+ procs'", rpn='[1, 2]'):
    path = tmp_path / f'{name}.yaml'
    path.write_text(f'''
description: "a small LAMMPS run"
system: local
checks: [app]
app:
  name: {name}
  command: "lmp -in in.lj -var scale {{scale}} -var len 8 -var steps {{steps}} -log none -nocite"
  inputs: [{LJ}]
  ranks_per_node: {rpn}
  mode: strong
  steps: 200
  fom: {fom}
  figures:
    - {{name: loop_time, regex: '^Loop time of ([0-9.]+) on', unit: s, better: lower}}
  sanity: {sanity}
''')
    return path


def _perf(tc, pvar):
    return [v[0] for k, v in tc['perfvalues'].items() if k.endswith(':' + pvar)][0]


def test_lammps_on_one_and_two_ranks_passes_with_its_fom_time_and_mpi_library(tmp_path):
    proc = hpcval('run', '--campaign', _campaign(tmp_path, 'lammps_small'), runs=tmp_path / 'runs', timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    cases = {tc['ranks_per_node']: tc for tc in run_cases(tmp_path / 'runs' / 'lammps_small' / 'latest')}
    assert set(cases) == {1, 2}
    for ranks, tc in cases.items():
        assert tc['result'] == 'pass', tc['fail_reason']
        assert tc['name'].startswith('lammps_small ') and tc['workload'] == 'lammps_small'
        assert (tc['role'], tc['scaling_mode'], tc['scaling_pvar']) == ('application', 'strong', 'tau_per_day')
        assert tc['ranks'] == ranks and tc['steps'] == 200
        assert _perf(tc, 'tau_per_day') > 0 and 0 < _perf(tc, 'loop_time') < tc['job_seconds']
        assert 'Open MPI' in tc['mpi_library'] and '/libmpi.so.40' in tc['mpi_library_path']
        assert tc['app_command'].startswith('lmp -in in.lj -var scale 1 -var len 8 -var steps 200')
    # the section as run is kept beside the report
    assert (tmp_path / 'runs' / 'lammps_small' / 'latest' / 'app.json').is_file()


def test_a_sanity_regex_that_does_not_match_fails_the_case_with_that_reason(tmp_path):
    path = _campaign(tmp_path, 'lammps_insane', fom='wall_time', sanity="'^No such line$'", rpn=1)
    proc = hpcval('run', '--campaign', path, runs=tmp_path / 'runs', timeout=600)
    assert proc.returncode == 1, proc.stdout[-4000:]
    [tc] = run_cases(tmp_path / 'runs' / 'lammps_insane' / 'latest')
    assert tc['result'] == 'fail' and tc['fail_phase'] == 'sanity'
    assert "sanity regex '^No such line$' did not match the output (stdout)" in tc['fail_reason']
    # everything else was right: the reason names only that
    assert 'MPI' not in tc['fail_reason'] and 'rank' not in tc['fail_reason']


def test_hpcc_with_a_tiny_hpl_problem_follows_the_rank_count(tmp_path):
    proc = hpcval('run', 'hpcc', '--name', 'hpcc', '-S', 'Hpcc.n_one_rank=400', '-S', 'Hpcc.nb=40',
                  '-S', 'Hpcc.ranks_per_node=2', runs=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:]
    [tc] = run_cases(tmp_path / 'hpcc' / 'latest')
    assert tc['result'] == 'pass', tc['fail_reason']
    assert (tc['ranks'], tc['hpl_n'], tc['hpl_grid'], tc['role']) == (2, 560, '1x2', 'kernel')
    assert _perf(tc, 'hpl') > 0 and _perf(tc, 'hpl_per_node') == _perf(tc, 'hpl')
    assert _perf(tc, 'stream_triad') > 0 and _perf(tc, 'dgemm') > 0 and _perf(tc, 'ptrans') > 0
    assert 'Open MPI' in tc['mpi_library'] and 'libblas' in tc['blas_library_path'] and tc['job_seconds'] > 0
