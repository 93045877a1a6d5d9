import math

import pytest

from common import osu

HPCVAL_LATENCY = """\
# MPI Library: Open MPI v4.1.4, package: Debian OpenMPI, ident: 4.1.4
# Ranks: 2
# Hosts: node1,node2
# OSU MPI Latency Test (hpcval osu_mpi, OSU 7 output format)
# Size       Latency (us)
1            0.27
2            0.28
4            0.29
8            0.31
# Validation: Pass
"""

# Real OSU 7 layouts: a Datatype line, and a Validation column with -c
OSU7_LATENCY_VALIDATED = """\
# OSU MPI Latency Test v7.3
# Datatype: MPI_CHAR.
# Size       Latency (us)        Validation
1                       1.65        Pass
2                       1.63        Pass
4                       1.64        Fail
"""

OSU7_BW = """\
# OSU MPI Bandwidth Test v7.3
# Datatype: MPI_CHAR.
# Size      Bandwidth (MB/s)
1                       2.31
2                       4.70
4194304             11891.58
"""

OSU7_ALLREDUCE = """\

# OSU MPI Allreduce Latency Test v7.3
# Datatype: MPI_INT.
# Size       Avg Latency(us)
4                       1.81
8                       1.79
"""


def test_parses_our_output_with_provenance():
    out = osu.parse(HPCVAL_LATENCY)
    assert (out.metric, out.unit) == ('latency', 'us')
    assert out.values == {1: 0.27, 2: 0.28, 4: 0.29, 8: 0.31}
    assert out.mpi_library.startswith('Open MPI v4.1.4')
    assert out.hosts == ['node1', 'node2']
    assert out.validation == 'Pass'
    assert osu.problems(out, [1, 2, 4, 8], 'latency') == []


def test_real_osu_bandwidth_and_collective_layouts():
    bw = osu.parse(OSU7_BW)
    assert (bw.metric, bw.unit) == ('bw', 'MB/s')
    assert bw.values[4194304] == pytest.approx(11891.58)
    ar = osu.parse(OSU7_ALLREDUCE)
    assert ar.metric == 'latency' and ar.values == {4: 1.81, 8: 1.79}
    assert ar.mpi_library == ''      # real OSU does not print it: the check probes


def test_validation_column_fail_is_a_problem():
    out = osu.parse(OSU7_LATENCY_VALIDATED)
    assert out.failed_rows == [4]
    assert any('validation failed at 4B' in p for p in osu.problems(out, [1, 2, 4]))


def test_missing_sizes_wrong_metric_and_bad_values_are_problems():
    text = HPCVAL_LATENCY.replace('4            0.29\n', '4            0\n').replace('8            0.31\n', '')
    found = osu.problems(osu.parse(text), [1, 2, 4, 8], 'bw')
    assert any('expected a bw table' in p for p in found)
    assert any('missing message sizes: 8B' in p for p in found)
    assert any('non-positive' in p and '4B' in p for p in found)


def test_validation_fail_line_wins():
    text = HPCVAL_LATENCY.replace('# Validation: Pass', '# Validation: FAIL at size 4\n# Validation: Pass')
    assert osu.parse(text).validation == 'FAIL'


@pytest.mark.parametrize('text', ['', 'Segmentation fault\n', '# OSU MPI Latency Test\n1 2\n'])
def test_no_table_raises(text):
    with pytest.raises(osu.OsuParseError):
        osu.parse(text)


def test_duplicate_size_raises():
    with pytest.raises(osu.OsuParseError, match='twice'):
        osu.parse(HPCVAL_LATENCY + '8  0.5\n')


@pytest.mark.parametrize('n,label', [(1, '1B'), (8, '8B'), (512, '512B'), (1024, '1KiB'),
                                     (65536, '64KiB'), (1 << 20, '1MiB'), (4 << 20, '4MiB'),
                                     (1536, '1536B')])
def test_size_labels(n, label):
    assert osu.size_label(n) == label


def test_message_sizes_cover_1B_to_4MiB():
    sizes = osu.message_sizes(1, 4 << 20)
    assert len(sizes) == 23 and sizes[0] == 1 and sizes[-1] == 4 << 20
    assert all(b == 2 * a for a, b in zip(sizes, sizes[1:]))
    assert osu.message_sizes(4, 16) == [4, 8, 16]
    assert math.log2(sizes[-1]) == 22


def test_slurm_cancellations_become_sanity_problems():
    from common.mixins import job_problems
    err = ('slurmstepd-node1: error: *** JOB 1 ON node1 CANCELLED AT 2026-11-28T19:25:50 DUE TO TIME LIMIT ***\n'
           'srun: error: node2: task 1: Terminated\n'
           'slurmstepd: error: *** STEP 7.0 ON node3 CANCELLED AT 2026-11-28T19:30:00 DUE TO NODE FAILURE ***\n'
           'slurmstepd: error: *** JOB 9 ON node2 CANCELLED AT 2026-11-28T19:31:00 ***\n')
    assert job_problems(err) == ['Slurm cancelled the job on node1 due to time limit',
                                 'Slurm cancelled the job on node3 due to node failure',
                                 'Slurm cancelled the job on node2 (scancel or a failure)']
    assert job_problems('srun: error: node2: task 1: Terminated\n') == []


def test_the_rank_that_died_is_named_before_the_cancellation():
    from common.mixins import job_problems
    # a rank SIGKILLed on node2 with KillOnBadExit=1 (seen on the virtual cluster)
    err = ('srun: error: node2: task 1: Killed\n'
           'srun: launch/slurm: _step_signal: Terminating StepId=25.0\n'
           'slurmstepd-node1: error: *** STEP 25.0 ON node1 CANCELLED AT 2026-11-28T23:07:28 ***\n'
           'srun: error: node3: task 2: Terminated\n'
           'srun: error: node1: task 0: Terminated\n')
    assert job_problems(err) == ['rank 1 on node2: killed', 'Slurm cancelled the job on node1 (scancel or a failure)']
