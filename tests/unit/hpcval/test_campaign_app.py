"""A campaign's app: section (a user's own application): what loads, and a
one-line error naming the file and the place for each bad setting."""
import json
import sys
from pathlib import Path

import pytest

from hpcval import campaign, paths, plan, run
from hpcval.errors import UsageError

GOOD = '''
checks: [app]
app:
  name: myapp
  command: "myapp --n {ranks} --size {scale} --steps {steps} --mode {mode}"
  inputs: [in.txt]
  ranks_per_node: 2
  threads: 1
  mode: [strong, weak]
  steps: 100
  fom: {name: rate, regex: '^Rate: ([0-9.]+)', unit: items/s, better: higher}
  figures:
    - {name: loop, regex: '^Loop (\\d+(?:\\.\\d+)?) s', unit: s, better: lower}
  sanity: '^Done'
'''


def _write(tmp_path, text, name='x.yaml', inputs=('in.txt',)):
    for i in inputs:
        (tmp_path / i).write_text('input\n')
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_good_section_loads_with_its_inputs_made_absolute(tmp_path):
    c = campaign.load_file(_write(tmp_path, GOOD))
    app = c.app
    assert app['name'] == 'myapp' and app['inputs'] == [str((tmp_path / 'in.txt').resolve())]
    assert app['mode'] == ['strong', 'weak'] and app['ranks_per_node'] == [2] and app['image'] == 'bare'
    assert app['campaign'] == str((tmp_path / 'x.yaml').resolve())
    assert app['fom']['better'] == 'higher' and app['figures'][0]['name'] == 'loop'


def test_the_smallest_section_defaults_to_strong_bare_one_rank(tmp_path):
    c = campaign.load_file(_write(tmp_path, 'checks: [app]\napp: {name: a, command: "a.out", fom: wall_time, '
                                            "sanity: 'ok'}\n", inputs=()))
    assert (c.app['mode'], c.app['ranks_per_node'], c.app['image'], c.app['inputs']) == (['strong'], [1], 'bare', [])


def test_an_absolute_input_and_a_folder_are_fine(tmp_path):
    (tmp_path / 'data').mkdir()
    text = GOOD.replace('inputs: [in.txt]', f'inputs: [{tmp_path / "in.txt"}, data]')
    assert campaign.load_file(_write(tmp_path, text)).app['inputs'][1] == str((tmp_path / 'data').resolve())


def _sub(old, new):
    assert old in GOOD
    return GOOD.replace(old, new)


@pytest.mark.parametrize('text,fault', [
    (_sub('{steps} --mode', '{step} --mode'),
     "app.command: 'myapp --n {ranks} --size {scale} --steps {step} --mode {mode}': unknown placeholder {step} "
     "(known: {nodes}, {ranks}, {ranks_per_node}, {threads}, {scale}, {steps}, {mode})"),
    (_sub('{ranks}', '{ranks!r}'), 'app.command: '),
    (_sub('{ranks}', '{ranks'), "unexpected '{' in field name (write a literal brace as {{ or }})"),
    (_sub('  steps: 100\n', ''), 'app.command: {steps} needs app.steps'),
    (_sub("'^Rate: ([0-9.]+)'", "'^Rate: ([0-9.]+'"),
     "app.fom.regex: '^Rate: ([0-9.]+' is not a regular expression (missing ), unterminated subpattern"),
    (_sub("'^Rate: ([0-9.]+)'", "'^Rate: [0-9.]+'"),
     "app.fom.regex: '^Rate: [0-9.]+' has 0 groups; the figure is read from exactly one"),
    (_sub("'^Rate: ([0-9.]+)'", "'^(Rate): ([0-9.]+)'"), 'app.fom.regex: '),
    (_sub("'^Loop (\\d+(?:\\.\\d+)?) s'", "'^Loop (\\d+)(\\.\\d+) s'"), 'app.figures[0].regex: '),
    (_sub('better: higher', 'better: up'), "app.fom.better: 'up' is not one of ['higher', 'lower']"),
    (_sub('unit: items/s, better: higher', 'unit: items/s'), "app.fom: 'better' is a required property"),
    (_sub('mode: [strong, weak]', 'mode: sideways'), "app.mode: 'sideways' is not strong, weak or a list of them"),
    (_sub('mode: [strong, weak]', 'mode: [strong, up]'), "app.mode[1]: 'up' is not one of ['strong', 'weak']"),
    (_sub('ranks_per_node: 2', 'ranks_per_node: 0'), 'app.ranks_per_node: 0 is less than the minimum of 1'),
    (_sub('ranks_per_node: 2', 'ranks_per_node: [1, 0]'), 'app.ranks_per_node[1]: 0 is less than the minimum of 1'),
    (_sub('ranks_per_node: 2', 'ranks_per_node: two'),
     "app.ranks_per_node: 'two' is not a count (1 or more) or a list"),
    (_sub('threads: 1', 'threads: two'), "app.threads: 'two' is not of type 'integer'"),
    (_sub("fom: {name: rate, regex: '^Rate: ([0-9.]+)', unit: items/s, better: higher}", 'fom: walltime'),
     "app.fom: 'walltime' is not wall_time or a mapping {name, regex, unit, better}"),
    (_sub('name: loop', 'name: rate'), "app.figures[0].name: 'rate' is taken"),
    (_sub('name: myapp', 'name: my-app'), "app.name: 'my-app' does not match"),
    (_sub("sanity: '^Done'", "sanity: '^Done('"), "app.sanity: '^Done(' is not a regular expression"),
    (_sub("sanity: '^Done'", ''), "app: 'sanity' is a required property"),
    (_sub('  threads: 1\n', '  colour: red\n'), "app: unknown key(s) 'colour' (known: name, image, command,"),
    (_sub('inputs: [in.txt]', 'inputs: [in.txt, missing.dat]'), "app.inputs[1]: 'missing.dat': no such file or folder"),
    (_sub('inputs: [in.txt]', 'inputs: [in.txt, sub/in.txt]'), "app.inputs[1]: 'sub/in.txt': no such file"),
    (_sub('checks: [app]', 'checks: [matmul]'), "app: the campaign's checks do not include app"),
    (_sub('  name: myapp\n', '  name: myapp\n  image: "Bad Image"\n'), 'app.image: '),
    (_sub('checks: [app]', 'checks: [app]\nparams: {runtime: [bare, charliecloud]}'),
     'app.image: params.runtime asks for charliecloud, but the app names no image'),
])
def test_each_bad_setting_is_one_line_naming_the_file_and_the_place(tmp_path, text, fault):
    path = _write(tmp_path, text)
    with pytest.raises(UsageError) as err:
        campaign.load_file(path)
    message = str(err.value)
    assert '\n' not in message and message.startswith(f'{path}: '), message
    assert fault in message, message


def test_two_inputs_with_one_name_would_collide_in_the_stage_folder(tmp_path):
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'in.txt').write_text('other\n')
    path = _write(tmp_path, _sub('inputs: [in.txt]', 'inputs: [in.txt, sub/in.txt]'))
    with pytest.raises(UsageError, match=r"app.inputs\[1\]: 'sub/in.txt': a second input named 'in.txt'"):
        campaign.load_file(path)


def test_the_app_check_without_a_section_is_refused(tmp_path):
    path = _write(tmp_path, 'checks: [app]\n', inputs=())
    with pytest.raises(UsageError, match='checks: the app check runs the application of an app: section'):
        campaign.load_file(path)


def test_the_cli_exits_2_with_the_one_line(tmp_path, capsys):
    from hpcval import cli
    path = _write(tmp_path, _sub('better: higher', 'better: up'))
    assert cli.main(['run', '--campaign', str(path), '--list']) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "app.fom.better: 'up'" in err


def test_the_shipped_lammps_and_hpcc_campaigns():
    lmp = campaign.load('lammps')
    assert lmp.system == 'vcluster' and lmp.nodes == [1, 2, 3] and lmp.checks == ['app']
    assert lmp.params == {'runtime': ['bare', 'charliecloud'], 'mpi': ['host', 'bundled']}
    assert lmp.app['mode'] == ['strong', 'weak'] and lmp.app['image'] == 'lammps'
    assert Path(lmp.app['inputs'][0]) == paths.CAMPAIGNS / 'inputs' / 'lammps' / 'in.lj'
    from hpcval.analysis.stats import TOO_FEW_RUNS
    hp = campaign.load('hpcc')
    for c in (lmp, hp):
        assert c.repeat >= TOO_FEW_RUNS
        assert any('same two cores' in cav for cav in c.report['caveats'])
    assert hp.checks == ['hpcc'] and hp.app is None


def test_the_app_reaches_reframe_as_json_named_in_the_environment(tmp_path):
    sys.path.insert(0, str(paths.CHECKS))
    from common import appspec
    assert run.APP_ENV == appspec.SPEC_ENV
    p = plan.make('lammps')
    assert p.app == campaign.load('lammps').app
    env = run.app_env(tmp_path, p.app)
    assert json.loads(Path(env[run.APP_ENV]).read_text()) == p.app
    assert appspec.load(env) == p.app
    assert run.app_env(tmp_path, None) == {}
    assert run.images_of(['app'], p.app) == ['lammps']


def test_the_app_check_needs_a_section_and_a_bare_sweep_leaves_it_out():
    with pytest.raises(UsageError, match="the app check runs the application of a campaign's app: section"):
        run.execute(['app'], 'local', 'x', action='list')
    assert not {'app', 'hpcc'} & set(run.workload_checks())
    assert {'app', 'hpcc'} <= set(paths.known_checks())
