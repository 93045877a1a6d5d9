"""hpcval run / report as a user calls them, bad input included."""
import subprocess
import xml.etree.ElementTree as ET

import pytest

from hpcval_cli import ROOT, cases, hpcval, load_report


def test_report_from_a_real_run(smoke_run, tmp_path):
    out = tmp_path / 'reports' / 'smoke'
    proc = hpcval('report', smoke_run, '-o', out)
    assert proc.returncode == 0, proc.stderr
    assert str(out / 'index.html') in proc.stdout
    html = (out / 'index.html').read_text()
    # one figure per benchmark's curves, one for GEMM; every one embedded
    figs = {f'{b}_vs_size' for b in ('latency', 'bw', 'bibw', 'allreduce', 'alltoall')} | {'matmul_rates'}
    assert {p.stem for p in (out / 'figures').glob('*.png')} == figs
    assert html.count('data:image/png;base64,') == len(figs)
    assert 'Open MPI' in html and 'Provenance' in html and '% of measured peak' in html
    for fig in figs:
        assert (out / 'figures' / f'{fig}.svg').exists()
    for table in ('microbench_curves', 'matmul', 'provenance', 'results'):
        assert (out / 'tables' / f'{table}.csv').stat().st_size > 100
    assert '## MPI microbenchmarks' in (out / 'report.md').read_text()


@pytest.mark.parametrize('content,fault', [
    (None, 'no such file or directory'),
    ('not json at all', 'not JSON'),
    ('{"session_info": {"data_version": "4.2"}, "runs": [{"testcases": [', 'truncated JSON'),
    ('{"results": []}', 'not a ReFrame run report'),
])
def test_bad_report_input(tmp_path, content, fault):
    bad = tmp_path / 'input.json'
    if content is not None:
        bad.write_text(content)
    reports = tmp_path / 'reports'
    proc = hpcval('report', bad, '-o', reports / 'x')
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and fault in lines[0]
    assert not reports.exists()


def test_bad_input_among_good_writes_nothing(smoke_run, tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text('{')
    proc = hpcval('report', smoke_run, bad, '-o', tmp_path / 'reports' / 'x')
    assert proc.returncode == 2 and not (tmp_path / 'reports').exists()


@pytest.mark.parametrize('args,fault', [
    (['run', 'no_such_check'], "unknown check 'no_such_check'"),
    (['run', 'matmul', '--system', 'no_such_system'], "unknown system 'no_such_system'"),
    (['run', '--campaign', 'no_such_campaign'], "unknown campaign 'no_such_campaign'"),
    (['run', 'matmul', '--tag', 'no_value'], '--tag no_value: expected NAME=VALUE'),
    (['run', 'matmul', '--tag', 'user=me'], "the name 'user' is reserved"),
])
def test_bad_run_arguments(tmp_path, args, fault):
    proc = hpcval(*args, runs=tmp_path / 'runs')
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and fault in proc.stderr
    assert not (tmp_path / 'runs').exists()


def test_wrong_mpi_library_fails_sanity_not_silently(tmp_path):
    '''A variant that asks for MPICH but loads Open MPI must fail, and say so.'''
    runs = tmp_path / 'runs'
    proc = hpcval('run', 'matmul', '--name', 'wrongmpi', '-S', 'MatmulBench.expected_mpi=MPICH',
                  '-S', 'MatmulBench.sizes=64', '-S', 'MatmulBench.reps=1',
                  '--', '-P', 'MatmulBench.backend=numpy', '-P', 'MatmulBench.dtype=float64', runs=runs)
    assert proc.returncode == 1, proc.stdout[-2000:]
    tc = next(t for t in cases(load_report(runs / 'wrongmpi' / 'latest')) if t['display_name'].startswith('Matmul'))
    assert tc['result'] == 'fail' and tc['fail_phase'] == 'sanity'
    assert "expected 'MPICH'" in tc['fail_reason'] and 'Open MPI' in tc['fail_reason']
    # JUnit XML beside the run report, naming the failing case and why (for CI)
    junit = ET.parse(runs / 'wrongmpi' / 'latest' / 'junit.xml').getroot()
    failed = [t for t in junit.iter('testcase') if t.find('failure') is not None]
    assert [t.get('name').split()[0] for t in failed] == ['MatmulBench']
    assert failed[0].find('failure').get('message') == 'sanity'
    assert "expected 'MPICH'" in failed[0].find('failure').text
    out = tmp_path / 'rep'
    assert hpcval('report', runs / 'wrongmpi', '-o', out).returncode == 0
    assert '1 failed' in (out / 'index.html').read_text()


def test_real_osu_binaries_path(tmp_path):
    '''implementation=osu finds osu_* binaries in OSU_DIR and probes the MPI library.

    Debian has no OSU package, so OSU_DIR holds a stand-in: osu_latency is a
    script around our own osu_mpi build.  What is tested is the discovery, the
    probe and the shared parser, not OSU itself.
    '''
    osu_dir = tmp_path / 'osu' / 'libexec' / 'osu-micro-benchmarks' / 'mpi' / 'pt2pt'
    osu_dir.mkdir(parents=True)
    binary = tmp_path / 'osu_mpi'
    subprocess.run(['mpicc', '-O2', '-o', binary, ROOT / 'checks' / 'src' / 'osu_mpi.c'], check=True)
    wrapper = osu_dir / 'osu_latency'
    wrapper.write_text(f'#!/bin/sh\nexec {binary} latency "$@"\n')
    wrapper.chmod(0o755)
    runs = tmp_path / 'runs'
    proc = hpcval('run', 'mpi_microbench', '--name', 'osu', '-S', 'implementation=osu',
                  '-S', f'osu_dir={tmp_path / "osu"}', '-S', 'max_message_size=64', '-S', 'num_iters=50',
                  '--', '-n', '%benchmark=latency', runs=runs)
    assert proc.returncode == 0, proc.stdout[-3000:]
    tc = next(t for t in cases(load_report(runs / 'osu' / 'latest')) if t.get('benchmark') == 'latency')
    assert tc['implementation'] == 'osu' and tc['benchmark_binary'] == str(wrapper)
    assert tc['mpi_library'].startswith('Open MPI')
    assert len(tc['perfvalues']) == 7          # 1 B .. 64 B


def test_osu_implementation_without_binaries_is_skipped_not_faked(tmp_path):
    runs = tmp_path / 'runs'
    proc = hpcval('run', 'mpi_microbench', '--name', 'noosu', '-S', 'implementation=osu',
                  '-S', f'osu_dir={tmp_path}', '--', '-n', '%benchmark=latency', runs=runs)
    assert 'no osu_latency in OSU_DIR or PATH' in proc.stdout
    assert not [t for t in cases(load_report(runs / 'noosu' / 'latest'))
                if t.get('benchmark') == 'latency' and t['result'] == 'pass']


def test_node_counts_beyond_the_partition_are_skipped(tmp_path):
    runs = tmp_path / 'runs'
    proc = hpcval('run', 'matmul', '--nodes', '1,2', '--name', 'nodes', '-S', 'MatmulBench.sizes=64',
                  '-S', 'MatmulBench.reps=1',
                  '--', '-P', 'MatmulBench.backend=numpy', '-P', 'MatmulBench.dtype=float64', runs=runs)
    assert proc.returncode == 0, proc.stdout[-2000:]
    by_nodes = {t['num_nodes']: t for t in cases(load_report(runs / 'nodes' / 'latest')) if not t.get('fixture')}
    assert by_nodes[1]['result'] == 'pass' and by_nodes[2]['result'] == 'skip'
    assert '%num_nodes=2' in by_nodes[2]['display_name']
    out = tmp_path / 'rep'
    assert hpcval('report', runs / 'nodes', '-o', out).returncode == 0
    md = (out / 'report.md').read_text()
    assert '1 passed, 0 failed, 1 skipped' in md
