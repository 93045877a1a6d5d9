"""`hpcval run --list` and `--dry-run` through the real ReFrame, and the job
scripts' quoting of string values set with -S."""
import re
import shlex

from hpcval_cli import hpcval


def _listed(stdout):
    return re.findall(r'^- (\w+ [^/\n]*?)\s*/\w+$', stdout, re.M)


def test_list_prints_the_cases_and_makes_no_run_folder(tmp_path):
    runs = tmp_path / 'runs'
    proc = hpcval('run', 'matmul', '--list', runs=runs, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    cases = _listed(proc.stdout)
    assert len(cases) == 4 and all(c.startswith('MatmulBench %') for c in cases), proc.stdout[-3000:]
    assert {re.search(r'%backend=(\w+)', c)[1] for c in cases} == {'numpy', 'tensorflow'}
    assert not runs.exists()


def test_list_of_a_campaign_applies_its_options(tmp_path):
    runs = tmp_path / 'runs'
    proc = hpcval('run', '--campaign', 'smoke', '--list', runs=runs, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    checks = {c.split()[0] for c in _listed(proc.stdout)}
    assert checks == {'MpiMicrobench', 'MatmulBench'}, proc.stdout[-3000:]
    assert not runs.exists()


def _launch_words(scripts, word):
    '''The launch line holding ``word`` in each job script, as the shell splits it.'''
    return [shlex.split(ln) for s in scripts for ln in s.splitlines() if word in ln and ln.startswith('mpirun')]


def test_dry_run_keeps_job_scripts_with_string_values_quoted(tmp_path):
    runs = tmp_path / 'runs'
    inject, python = 'nan:3; touch pwned', '/usr/bin/python3 $(id)'
    target = str(tmp_path / 'a b$(touch pwned)')
    proc = hpcval('run', 'matmul', 'gan_training', 'smallfile_io', '--dry-run', '--name', 'dry',
                  '-S', f'GanTraining.inject={inject}', '-S', f'MatmulBench.python={python}',
                  '-S', f'SmallfileIO.target_path={target}',
                  '--', '-P', 'MatmulBench.backend=numpy', '-P', 'MatmulBench.dtype=float64',
                  '-P', 'GanTraining.mode=strong', '-P', 'SmallfileIO.target=ramdisk', runs=runs, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    (rundir,) = (runs / 'dry').iterdir()
    assert rundir.name.endswith('-dry-run') and (rundir / 'DRY-RUN').is_file()
    assert 'job script(s) under' in proc.stdout and 'nothing was run' in proc.stdout
    # nothing that `hpcval report` or `history add` would take for results
    assert not list(rundir.rglob('report.json')) and not list(rundir.rglob('junit.xml'))
    assert not list(rundir.rglob('*.log')) and not (runs / 'dry' / 'latest').exists()
    scripts = [p.read_text() for p in rundir.rglob('rfm_job.sh')]
    assert len(scripts) == 3                # the build fixture has rfm_build.sh
    (gan,) = _launch_words(scripts, 'gan3d_train.py')
    assert gan[gan.index('--inject') + 1] == inject
    (mm,) = _launch_words(scripts, 'matmul_bench.py')
    assert python in mm
    (io,) = _launch_words(scripts, 'smallfile_md')
    assert io[io.index('-d') + 1] == target
    assert '-S' in shlex.split((rundir / 'command.txt').read_text())
