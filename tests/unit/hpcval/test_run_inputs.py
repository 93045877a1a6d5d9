"""`hpcval run` input that must not do harm: YAML aliases in a campaign, run
labels that leave runs/, ReFrame actions after --, and command.txt that
pastes back as the same command."""
import shlex
import subprocess

import pytest

from hpcval import campaign, cli, paths, run
from hpcval.errors import UsageError
from hpcval_cli import hpcval

LAUGHS = '''\
# "billion laughs": nine levels of aliases, 9^9 strings once expanded
checks: [matmul]
set:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
'''


def test_a_billion_laughs_campaign_is_refused_at_once(tmp_path):
    path = tmp_path / 'laughs.yaml'
    path.write_text(LAUGHS)
    # expanded, this took 2 GB and a minute before a MemoryError
    proc = hpcval('run', '--campaign', path, runs=tmp_path / 'runs', timeout=30)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0], lines
    assert 'line 5: YAML aliases (*name) are not allowed in a campaign (*a:' in lines[0]
    assert not (tmp_path / 'runs').exists()


def test_anchors_without_aliases_still_load(tmp_path):
    path = tmp_path / 'x.yaml'
    path.write_text('checks: &c [matmul]\n')
    assert campaign.load_file(path).checks == ['matmul']
    path.write_text('checks: [matmul]\nset: &s {MatmulBench.reps: 2}\nreport: {title: *s}\n')
    with pytest.raises(UsageError, match=r'x\.yaml: line 3: YAML aliases \(\*name\) are not allowed.*\*s'):
        campaign.load_file(path)


@pytest.fixture
def no_reframe(monkeypatch, tmp_path):
    '''ReFrame is not started; runs/ is tmp_path/runs.  Returns the commands it would have run.'''
    seen = []

    def fake_reframe(cmd, env):
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 0)
    monkeypatch.setattr(run, 'run_reframe', fake_reframe)
    monkeypatch.setattr(paths, 'RUNS', tmp_path / 'runs')
    return seen


def test_command_txt_pastes_back_as_the_same_command(tmp_path, no_reframe):
    extra = ['-n', 'A|B', '-n', 'MatmulBench %backend=numpy', '-S', "x=it's $(id)"]
    rc, rundir = run.execute(['matmul'], 'local', 'c', extra=extra, runs_root=tmp_path)
    assert rc == 2                      # no report: ReFrame did not really run
    line = (rundir / 'command.txt').read_text()
    assert shlex.split(line) == no_reframe[0]
    # what a shell makes of it: the same words, no pipe, no substitution
    words = subprocess.run(['bash', '-c', 'f() { printf "%s\\0" "$@"; }; f ' + line],
                           capture_output=True, text=True, timeout=30).stdout.split('\0')[:-1]
    assert words == no_reframe[0]


@pytest.mark.parametrize('name', ['../x', '/tmp/elsewhere', 'a/b', '.', '..', '', 'a/../../x'])
def test_a_run_label_that_leaves_runs_is_refused(name, tmp_path, capsys, no_reframe):
    assert cli.main(['run', 'matmul', '--name', name]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f'--name {name!r}: a run label names one folder under runs/' in err[0], err
    assert no_reframe == [] and list(tmp_path.iterdir()) == []
    with pytest.raises(UsageError, match='a run label names one folder'):
        run.execute(['matmul'], 'local', name, runs_root=tmp_path)


@pytest.mark.parametrize('option,pointer', [
    ('--list', '--list'), ('-l', '--list'), ('-lC', '--list'), ('-L', '--list'), ('--list=T', '--list'),
    ('--dry-run', '--dry-run'), ('--describe', 'run reframe itself'), ('--list-tags', 'run reframe itself'),
])
def test_reframe_actions_after_the_dashes_are_refused(option, pointer, tmp_path, capsys, no_reframe):
    assert cli.main(['run', 'matmul', '--', '-n', 'x', option]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f'reframe option {option}: clashes with the -r' in err[0] and pointer in err[0], err
    assert no_reframe == [] and list(tmp_path.iterdir()) == []


def test_a_campaign_with_an_action_in_its_reframe_options_is_refused(tmp_path, capsys, no_reframe):
    path = tmp_path / 'c.yaml'
    path.write_text('checks: [matmul]\nreframe_options: ["--dry-run"]\n')
    assert cli.main(['run', '--campaign', str(path)]) == 2
    assert "use `hpcval run ... --dry-run`" in capsys.readouterr().err
    assert no_reframe == [] and not (tmp_path / 'runs').exists()


def test_list_and_dry_run_exclude_each_other():
    assert cli.parser().parse_args(['run', 'matmul', '--list']).list
    assert cli.parser().parse_args(['run', 'matmul', '--dry-run']).dry_run
    with pytest.raises(SystemExit) as e:
        cli.main(['run', 'matmul', '--list', '--dry-run'])
    assert e.value.code == 2
