"""The regression gate, shown working on the virtual cluster.

Baseline `update-regression`; then an emulated update that shapes the hsn
to half the baseline's slowest run (update_rate says why), and separately
one that adds OS noise on node2; `hpcval compare`
must call REGRESSION where the change hurts and not where it does not, and
exit 1; with the update undone a third run has no REGRESSION but, possibly,
hsn bandwidth, which shifts between sessions here.

What the updates leave alone: the eth link, shaped to 1 Gbit/s, is steady to
0.1 % and must come out EQUIVALENT every time; node1's DGEMM must not fall
by more than the host's own drift (HOST_DRIFT) and is not asserted
EQUIVALENT: this VM's DGEMM rate moves with its host's load, 18.0 GFLOP/s
in one CI run and 20.5 half an hour later (every run within 2 %), and by 8 %
(ratio 1.083, 90 % CI 1.01-1.19) between the baseline and the hsn-halved run
five minutes apart.  Six runs of one period do not carry that variance: at a
10 % margin the gate says INCONCLUSIVE, or, when the host drifts by more than
the margin, REGRESSION; that is what the gate measured, and a real gate
would take its baseline from several sessions (``hpcval history``).

The nodes are pinned to their own CPUs for the test (node1: cpu0, node2:
cpu1), as real nodes are: otherwise noise on node2 would steal node1's cores.
"""
import csv
import re

import pytest

from config.vcluster import FABRICS
from hpcval_cli import hpcval, run_cases

PVARS = ['^latency_8B$', '^bw_1MiB$', '^gflops_n2048$']


MATMUL = ('MatmulBench', '', '', 'gflops_n2048')

# This VM's DGEMM rate follows its host's load: between the sessions of one
# gate run node1's DGEMM ratio has ranged 0.88-1.30 (benchmarks/RESULTS.md,
# runs A-D; 1/1.30 = 0.77), and a CI run called the undone session's DGEMM a
# REGRESSION against the baseline taken 20 minutes before.  Within-session
# repeats do not carry that drift, so a REGRESSION of node1's DGEMM is
# accepted only inside it; what the pinning guards against (a second node on
# node1's CPU) halves the rate and still fails here.
HOST_DRIFT = 0.70

# tbf-shaped hsn: the lowest largest-message rate seen, as a share of the
# shaping rate (350 of 520 MB/s, 360 of 469; benchmarks/RESULTS.md), less a margin
SHAPED_LOW = 0.6


def _rows(outdir):
    '''(check, fabric or '', benchmark or '', pvar) -> the compare table's row.'''
    out = {}
    with open(outdir / 'tables' / 'verdicts.csv') as fp:
        for r in csv.DictReader(fp):
            fabric = re.search(r'%fabric=(\w+)', r['case'])
            bench = re.search(r'%benchmark=(\w+)', r['case'])
            out[(r['check'], fabric.group(1) if fabric else '', bench.group(1) if bench else '', r['pvar'])] = r
    return out


def _verdicts(outdir):
    '''(check, fabric or '', benchmark or '', pvar) -> verdict, from the compare table.'''
    return {k: r['verdict'] for k, r in _rows(outdir).items()}


def assert_matmul_untouched(outdir):
    '''node1's DGEMM is no REGRESSION, or one no larger than the host's own drift.'''
    row = _rows(outdir)[MATMUL]
    assert row['verdict'] != 'REGRESSION' or float(row['ratio']) >= HOST_DRIFT, row


def hsn_bw(rundir):
    '''The hsn bw_1MiB of every run (MB/s).'''
    return [v[0] for tc in run_cases(rundir) if tc.get('fabric') == 'hsn' and 'benchmark=bw' in tc['name']
            for k, v in tc['perfvalues'].items() if k.endswith(':bw_1MiB')]


def update_rate(baseline_bw, floor):
    '''The emulated update, in MB/s: half the baseline's slowest run, not half its median,
    and far enough above the fabric's floor that no shaped run falls under it
    (below it the check rightly fails the run as a fallback).

    A fresh machine's baseline scattered by a factor of two within six runs;
    half its median then lay inside the baseline's own range and six runs
    could not tell the two apart.  Below the slowest run every shaped run is
    slower than every baseline run: complete separation, p = 2/C(12,6) =
    0.0022 before Holm over the cells, whatever the machine's spread.
    A shaped link's largest message has come out as low as 0.67 x the
    shaping rate (SHAPED_LOW), so the rate stays at floor / SHAPED_LOW or above.
    '''
    rate = max(min(baseline_bw) / 2, floor / SHAPED_LOW)
    # a baseline whose slowest run lies near the floor leaves no room for an update six runs can see
    assert rate < 0.8 * min(baseline_bw), (
        f'hsn baseline too noisy to emulate a detectable update: slowest run {min(baseline_bw):.0f} MB/s, '
        f'floor {floor} MB/s, runs {sorted(baseline_bw)}')
    return rate


def _compare(base, cand, out):
    # delta comes from the campaign (report.compare.delta)
    args = ['compare', base, cand, '-o', out]
    for p in PVARS:
        args += ['--pvar', p]
    return hpcval(*args, timeout=600)


@pytest.fixture(scope='module')
def gate(vcluster, tmp_path_factory):
    runs = tmp_path_factory.mktemp('gate')
    assert hpcval('cluster', 'pin', '--cpus-per-node', '1').returncode == 0
    try:
        def run(name, label):
            proc = hpcval('run', '--campaign', 'update-regression', '--name', name, '--tag', f'update={label}',
                          runs=runs, timeout=1800)
            assert proc.returncode == 0, proc.stdout[-3000:]
            return runs / name / 'latest'

        base = run('base', 'none')
        rate = f'{int(update_rate(hsn_bw(base), FABRICS["hsn"]["min_bw_MBps"]) * 8)}mbit'   # MB/s -> Mbit/s
        assert hpcval('cluster', 'emulate', 'fabric', '--net', 'hsn', '--rate', rate).returncode == 0
        fabric = run('fabric', 'hsn-halved')
        assert hpcval('cluster', 'emulate', 'undo').returncode == 0
        assert hpcval('cluster', 'emulate', 'noise', '--node', 'node2').returncode == 0
        noise = run('noise', 'noise-node2')
        assert hpcval('cluster', 'emulate', 'undo').returncode == 0
        again = run('again', 'undone')
        yield {'runs': runs, 'base': base, 'fabric': fabric, 'noise': noise, 'again': again, 'rate': rate}
    finally:
        hpcval('cluster', 'emulate', 'undo')
        hpcval('cluster', 'pin', '--cpus-per-node', '0')


def test_halved_hsn_is_a_regression_of_hsn_bandwidth_only(gate, tmp_path):
    # the shaping is sized below the baseline's slowest run: it must hold
    assert max(hsn_bw(gate['fabric'])) < min(hsn_bw(gate['base'])), (hsn_bw(gate['base']), hsn_bw(gate['fabric']))
    proc = _compare(gate['base'], gate['fabric'], tmp_path)
    assert proc.returncode == 1, proc.stdout[-3000:]
    v = _verdicts(tmp_path)
    assert v[('MpiMicrobench', 'hsn', 'bw', 'bw_1MiB')] == 'REGRESSION', v
    # what the update did not touch: the shaped eth network and the CPU
    assert v[('MpiMicrobench', 'tcp', 'bw', 'bw_1MiB')] == 'EQUIVALENT', v
    assert_matmul_untouched(tmp_path)


def test_noise_on_node2_hurts_the_fast_network_not_node1s_matmul(gate, tmp_path):
    proc = _compare(gate['base'], gate['noise'], tmp_path)
    assert proc.returncode == 1, proc.stdout[-3000:]
    v = _verdicts(tmp_path)
    # The network needs the CPU that node2's rank now shares with the noise;
    # which of its cells the gate calls depends on the machine's own scatter
    # (tuned machine: hsn bandwidth; a fresh EPYC: hsn latency and allreduce,
    # bandwidth INCONCLUSIVE; a fresh clone on 2026-12-05: latency doubled on
    # both links, hsn's INCONCLUSIVE at p_holm 0.32 as 2 of 6 runs missed the
    # noise, eth's REGRESSION), so the gate must call at least one latency or
    # hsn cell.  The eth bandwidth, shaped to 1 Gbit/s, leaves CPU to spare;
    # node1's DGEMM runs on a CPU the noise does not touch.
    hurt = {k for k, verdict in v.items() if k[0] == 'MpiMicrobench' and verdict == 'REGRESSION'
            and (k[1] == 'hsn' or k[3] == 'latency_8B')}
    assert hurt, v
    assert v[('MpiMicrobench', 'tcp', 'bw', 'bw_1MiB')] == 'EQUIVALENT', v
    # node1's DGEMM is not called a regression, though the noise on node2's
    # CPU pushes the host's own processes (ReFrame, Slurm's daemons) onto
    # node1's and costs it about 3 % (clean-clone runs: 0.986, 0.971, 0.983)
    assert_matmul_untouched(tmp_path)


def test_with_the_update_undone_the_gate_passes(gate, tmp_path):
    proc = _compare(gate['base'], gate['again'], tmp_path)
    v = _verdicts(tmp_path)
    hsn_bw_cell = ('MpiMicrobench', 'hsn', 'bw', 'bw_1MiB')
    # hsn bandwidth is steady within a session (+-5 % over six runs) but
    # shifts by about 20 % between sessions on this machine (two cores for
    # three nodes' TCP stacks): a CI run found 2.5 GB/s in the baseline and
    # 3.1 GB/s here (IMPROVEMENT).  Six runs of one session do not carry that
    # variance, so hsn bandwidth is the one network verdict not asserted here;
    # node1's DGEMM is held to the host's drift (HOST_DRIFT).
    regressions = {k for k, verdict in v.items() if verdict == 'REGRESSION'}
    assert regressions <= {hsn_bw_cell, MATMUL}, v
    assert proc.returncode == (1 if regressions else 0), proc.stdout[-3000:]
    assert v[('MpiMicrobench', 'tcp', 'bw', 'bw_1MiB')] == 'EQUIVALENT', v
    assert_matmul_untouched(tmp_path)
