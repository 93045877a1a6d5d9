"""hpcval compare as a CI job calls it: exit 1 on a regression, else 0; outputs written."""
import pandas as pd

from benchmarks.synth_reports import generate
from hpcval import cli


def test_regression_exits_1_and_writes_everything(tmp_path, capsys):
    generate(tmp_path / 'base', node_counts=(1, 2), runs=10, seed=1)
    generate(tmp_path / 'cand', node_counts=(1, 2), runs=10, seed=2, base_time=115.0)
    out = tmp_path / 'cmp'
    assert cli.main(['compare', str(tmp_path / 'base'), str(tmp_path / 'cand'), '-o', str(out)]) == 1
    printed = capsys.readouterr().out
    assert printed.count('REGRESSION') >= 2 and '2 REGRESSION' in printed
    table = pd.read_csv(out / 'tables' / 'verdicts.csv')
    assert set(table['verdict']) == {'REGRESSION'} and (table['ratio'] > 1.1).all()
    assert 'forest' in (out / 'index.html').read_text() and (out / 'figures' / 'forest.svg').exists()


def test_same_system_twice_exits_0(tmp_path):
    generate(tmp_path / 'a', node_counts=(1, 2), runs=10, seed=1)
    generate(tmp_path / 'b', node_counts=(1, 2), runs=10, seed=2)
    assert cli.main(['compare', str(tmp_path / 'a'), str(tmp_path / 'b'), '-o', str(tmp_path / 'c')]) == 0


def test_bad_candidate_is_exit_2_nothing_written(tmp_path, capsys):
    generate(tmp_path / 'a', node_counts=(1,), runs=3, seed=1)
    bad = tmp_path / 'bad.json'
    bad.write_text('{"session_info": {"data_version": "9.0"}, "runs": []}')
    assert cli.main(['compare', str(tmp_path / 'a'), str(bad), '-o', str(tmp_path / 'c')]) == 2
    assert "unsupported run report data_version '9.0'" in capsys.readouterr().err
    assert not (tmp_path / 'c').exists()


def test_undecided_cells_are_named_at_the_top_with_the_runs_that_would_decide(tmp_path, capsys):
    # three runs a side of a 7 % slowdown: too few for Holm, so INCONCLUSIVE
    generate(tmp_path / 'a', node_counts=(1,), runs=3, seed=1)
    generate(tmp_path / 'b', node_counts=(1,), runs=3, seed=2, base_time=107.0)
    out = tmp_path / 'c'
    assert cli.main(['compare', str(tmp_path / 'a'), str(tmp_path / 'b'), '-o', str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    table = pd.read_csv(out / 'tables' / 'verdicts.csv')
    undecided = table[table['verdict'] == 'INCONCLUSIVE']
    assert not undecided.empty and (undecided['runs_needed'] > 3).all()
    # before the table: which cells, and how many runs per side
    assert 'not decided' in printed[0] and f"{int(undecided['runs_needed'].iloc[0])}" in printed[0], printed[:2]
    for doc in ('report.md', 'index.html'):
        text = (out / doc).read_text()
        assert text.index('Not decided') < text.index('runs needed'), doc
