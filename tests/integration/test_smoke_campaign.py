"""A real ReFrame run of both checks at smoke size: every variable, and its provenance."""
import json
from pathlib import Path

import pytest

from hpcval import campaign
from hpcval_cli import cases, load_report

SMOKE = campaign.load('smoke').setvars
MAX_SIZE = int(SMOKE['MpiMicrobench.max_message_size'])
MATMUL_SIZES = [int(n) for n in str(SMOKE['MatmulBench.sizes']).split(',')]


def _sizes(lo, hi):
    out = []
    while lo <= hi:
        out.append(lo)
        lo *= 2
    return out


def _label(n):
    return f'{n // 1024}KiB' if n >= 1024 else f'{n}B'


# Written out here, not derived from the check: the suite must notice when a
# check stops producing a variable.
EXPECTED = {
    'latency': [f'latency_{_label(s)}' for s in _sizes(1, MAX_SIZE)],
    'bw': [f'bw_{_label(s)}' for s in _sizes(1, MAX_SIZE)],
    'bibw': [f'bw_{_label(s)}' for s in _sizes(1, MAX_SIZE)],
    'allreduce': [f'latency_{_label(s)}' for s in _sizes(4, MAX_SIZE)],
    'alltoall': [f'latency_{_label(s)}' for s in _sizes(1, MAX_SIZE)],
}


def _perf(tc):
    return {k.split(':')[-1]: v for k, v in tc['perfvalues'].items()}


def test_all_cases_pass(smoke_run):
    rep = load_report(smoke_run)
    assert rep['session_info']['data_version'].startswith('4.')
    results = {tc['display_name']: tc['result'] for tc in cases(rep)}
    assert all(r == 'pass' for r in results.values()), results
    assert rep['session_info']['hpcval_campaign'] == 'smoke'


@pytest.mark.parametrize('benchmark', sorted(EXPECTED))
def test_every_message_size_is_a_variable(smoke_run, benchmark):
    tc = next(t for t in cases(load_report(smoke_run)) if t.get('benchmark') == benchmark)
    perf = _perf(tc)
    assert sorted(perf) == sorted(EXPECTED[benchmark])
    unit = 'us' if EXPECTED[benchmark][0].startswith('latency') else 'MB/s'
    for pvar, (value, _ref, _lo, _hi, u, *_rest) in perf.items():
        assert u == unit and value > 0, pvar


def test_curves_look_physical(smoke_run):
    by_bench = {t['benchmark']: _perf(t) for t in cases(load_report(smoke_run)) if t.get('benchmark')}
    bw = by_bench['bw']
    # bandwidth grows with message size on any interconnect, over 1 B .. 4 KiB by far
    assert bw[f'bw_{_label(MAX_SIZE)}'][0] > 10 * bw['bw_1B'][0]
    lat = by_bench['latency']
    assert lat[f'latency_{_label(MAX_SIZE)}'][0] > lat['latency_1B'][0] * 0.9


def test_matmul_variables_and_peak(smoke_run):
    tc = next(t for t in cases(load_report(smoke_run)) if t['display_name'].startswith('MatmulBench'))
    perf = _perf(tc)
    expected = {'nominal_peak', 'measured_peak'} | {
        f'{what}_n{n}' for n in MATMUL_SIZES for what in ('gflops', 'peak_pct', 'measured_peak_pct')}
    assert set(perf) == expected
    peak, measured = perf['nominal_peak'][0], perf['measured_peak'][0]
    for n in MATMUL_SIZES:
        assert perf[f'peak_pct_n{n}'][0] == pytest.approx(100 * perf[f'gflops_n{n}'][0] / peak, rel=1e-6)
        assert perf[f'measured_peak_pct_n{n}'][0] == pytest.approx(100 * perf[f'gflops_n{n}'][0] / measured, rel=1e-6)
    assert 'FLOP/cycle' in tc['peak_derivation'] or tc['peak_derivation'] == 'site config'
    # the FMA kernel ran on the node, on the vector unit its flags offer
    assert 'threads x' in tc['measured_peak_derivation'] and 'chains' in tc['measured_peak_derivation']
    nodes = json.loads(tc['node_rates'])
    assert len(nodes) == 1 and set(next(iter(nodes.values()))) == {'measured_peak'} | {
        f'gflops_n{n}' for n in MATMUL_SIZES}
    # a small GEMM cannot beat independent FMA chains on the same cores
    assert max(perf[f'gflops_n{n}'][0] for n in MATMUL_SIZES) < measured
    assert tc['scaling_pvar'] == f'gflops_n{max(MATMUL_SIZES)}'
    assert tc['backend'] == 'numpy' and tc['backend_version'][0].isdigit()


def test_measured_peak_is_of_the_checks_precision(smoke_run):
    matmul = [t for t in cases(load_report(smoke_run)) if t['display_name'].startswith('MatmulBench')]
    assert {t['dtype'] for t in matmul} == {'float64', 'float32'}
    for tc in matmul:
        word = 'floats' if tc['dtype'] == 'float32' else 'doubles'
        assert f' {word} x 2 FLOP' in tc['measured_peak_derivation'], tc['measured_peak_derivation']


def test_provenance_recorded_for_every_case(smoke_run):
    for tc in cases(load_report(smoke_run)):
        if tc.get('fixture'):
            continue
        assert tc['num_nodes'] == 1
        assert tc['mpi_library'].startswith('Open MPI'), tc['display_name']
        assert tc['hosts'] and tc['runtime'] == 'bare' and tc['mpi'] == 'host'
        assert '%num_nodes=1' in tc['display_name']


def test_perflogs_written_under_the_run(smoke_run):
    logs = list(Path(smoke_run).glob('perflogs/local/default/*.log'))
    assert {p.stem for p in logs} >= {'MpiMicrobench', 'MatmulBench'}
    header = (Path(smoke_run) / 'perflogs/local/default/MpiMicrobench.log').read_text().splitlines()[0]
    assert 'num_nodes' in header and 'mpi_library' in header


def test_perflogs_carry_the_same_numbers_as_the_run_report(smoke_run):
    '''The fallback input: one line per variable, each variant labelled right.'''
    from hpcval.analysis import ingest
    key = ['display_name', 'pvar']
    rep = ingest.load([Path(smoke_run) / 'report.json']).frame.dropna(subset=['pvar'])
    logs = ingest.load([Path(smoke_run) / 'perflogs']).frame.dropna(subset=['pvar'])
    merged = rep.merge(logs, on=key, suffixes=('_rep', '_log'))
    assert len(merged) == len(rep) == len(logs)
    assert (merged['unit_rep'] == merged['unit_log']).all()
    assert ((merged['value_rep'] - merged['value_log']).abs() <= 1e-6 * merged['value_rep'].abs()).all()
    assert set(logs.loc[logs['benchmark'] == 'bw', 'unit']) == {'MB/s'}
