"""checks/common/mdtest.py against real mdtest output of every layout, ours, and broken text.

Where each sample in data/ comes from: data/mdtest_SOURCES.md.
"""
import math
from pathlib import Path

import pytest

from common import mdtest

DATA = Path(__file__).parent / 'data'


def sample(name):
    return (DATA / name).read_text()


def test_mdtest_1_9_summary_title_and_padded_colon():
    out = mdtest.parse(sample('mdtest_1.9.3_archer.txt'))
    assert out.program == 'mdtest-1.9.3'
    assert (out.tasks, out.nodes, out.iterations) == (24, 1, 1)
    assert set(out.rows) == {'file_creation', 'file_stat', 'file_read', 'file_removal',
                             'tree_creation', 'tree_removal'}
    assert out.value('file_creation') == 1032.005
    assert out.value('file_removal', 'max') == 563.824
    assert out.value('tree_removal', 'min') == 5.527
    assert out.files_created is None and out.validation == ''


def test_mdtest_3_3_directory_rows_and_statistics():
    out = mdtest.parse(sample('mdtest_3.3.0_exascaler.txt'))
    assert (out.program, out.tasks, out.nodes, out.iterations) == ('mdtest-3.3.0', 64, 4, 3)
    assert len(out.rows) == 9
    row = out.rows['file_creation']
    assert (row.max, row.min, row.mean, row.stddev) == (6342.026, 3364.939, 5258.577, 1343.513)
    assert out.rows['directory_stat'].mean == 9009.705
    assert out.rows['tree_removal'].stddev == 10.312
    assert out.command.startswith('/usr/bin/mdtest ')


def test_mdtest_3_4_padded_colon():
    out = mdtest.parse(sample('mdtest_3.4.0_daos.txt'))
    assert (out.program, out.tasks, out.nodes) == ('mdtest-3.4.0+dev', 10, 3)
    row = out.rows['file_creation']
    assert (row.max, row.min, row.mean, row.stddev) == (2943.697, 2943.674, 2943.686, 0.006)
    assert out.value('file_stat') == 0.0      # -C only: the other phases did not run


def test_mdtest_4_0_no_colon():
    out = mdtest.parse(sample('mdtest_4.0.0_daos.txt'))
    assert (out.program, out.tasks, out.nodes, out.iterations) == ('mdtest-4.0.0', 10, 2, 1)
    assert out.value('file_creation') == 2568.636
    assert out.value('tree_creation') == 496.015


def test_mdtest_4_1_ops_per_sec_title_and_rename_row():
    out = mdtest.parse(sample('mdtest_4.1.0_falconfs.txt'))
    assert (out.program, out.tasks, out.nodes, out.iterations) == ('mdtest-4.1.0+dev', 1, 1, 1)
    assert out.value('directory_rename') == 764.263
    assert out.value('file_stat', 'max') == 556450.86
    assert len(out.rows) == 8


def test_mdtest_3_2_name_with_colon_no_padding():
    # Built after mdtest 3.2's layout (no public sample found, see mdtest_SOURCES.md)
    text = ('mdtest-3.2.1 was launched with 4 total task(s) on 2 node(s)\n'
            'SUMMARY rate: (of 2 iterations)\n'
            '   Operation                      Max            Min           Mean        Std Dev\n'
            '   ---------                      ---            ---           ----        -------\n'
            '   File creation:            1200.500       1100.500       1150.500         50.000\n'
            '   File removal:              900.000        800.000        850.000         50.000\n')
    out = mdtest.parse(text)
    assert out.value('file_creation', 'max') == 1200.5
    assert out.value('file_removal', 'stddev') == 50.0


def test_our_program_output():
    out = mdtest.parse(sample('mdtest_smallfile_md.txt'))
    assert out.program == 'mdtest-like smallfile_md-1.0'
    assert (out.tasks, out.nodes, out.iterations) == (2, 1, 3)
    assert [k for k in out.rows] == ['file_creation', 'file_stat', 'file_read', 'file_removal',
                                     'tree_creation', 'tree_removal']
    for row in out.rows.values():
        assert row.max >= row.mean >= row.min > 0 and row.stddev >= 0
    assert (out.files_created, out.files_removed) == (1200, 1200)
    assert out.validation == 'Pass'
    assert out.errors == []


def test_rank_statistics_columns_keep_the_per_iteration_values():
    text = ('SUMMARY rate (in ops/sec): (of 3 iterations)\n'
            '   Operation     per Rank: Max            Min           Mean      per Iteration: Max'
            '            Min           Mean        Std Dev\n'
            '   File creation       500.0  400.0  450.0   2000.000   1500.000   1800.000    200.000\n')
    row = mdtest.parse(text).rows['file_creation']
    assert (row.max, row.min, row.mean, row.stddev) == (2000.0, 1500.0, 1800.0, 200.0)


def test_rate_summary_is_read_when_a_time_summary_follows():
    text = sample('mdtest_4.0.0_daos.txt').replace(
        '-- finished', '\nSUMMARY time (in ms/op): (of 1 iterations)\n'
                       '   File creation                   1.000          1.000          1.000          0.000\n'
                       '-- finished')
    assert mdtest.parse(text).value('file_creation') == 2568.636


def test_nan_is_kept_as_nan():
    text = 'SUMMARY rate: (of 1 iterations)\n   File stat     :   nan   nan   nan   nan\n'
    assert math.isnan(mdtest.parse(text).value('file_stat'))


@pytest.mark.parametrize('text, match', [
    ('', 'no "SUMMARY rate" block'),
    ('mdtest-4.0.0 was launched with 2 total task(s) on 1 node(s)\n-- finished --\n', 'no "SUMMARY rate"'),
    ('ERROR: target /nowhere does not exist\n', 'it says: target /nowhere does not exist'),
    ('SUMMARY time: (of 1 iterations)\n   File creation   1.0 1.0 1.0 0.0\n', 'only a time SUMMARY'),
    ('SUMMARY rate: (of 1 iterations)\n   Operation  Max  Min  Mean  Std Dev\n\n', 'no operation rows'),
    ('SUMMARY rate: (of 1 iterations)\n   File creation   1.0 2.0\n', 'unexpected row'),
])
def test_text_without_a_usable_summary_is_a_clear_error(text, match):
    with pytest.raises(mdtest.MdtestParseError, match=match):
        mdtest.parse(text)


def test_header_alone_reads_the_error_and_file_counts():
    head = mdtest.header('ERROR: a rank failed (see stderr); removed what was created\n'
                         '# Files created: 60 removed: 60\n# Validation: FAIL\n')
    assert head.errors == ['a rank failed (see stderr); removed what was created']
    assert (head.files_created, head.files_removed, head.validation) == (60, 60, 'FAIL')
