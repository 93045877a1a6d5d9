import pytest

from hpcval import campaign, cli, paths, run
from hpcval.errors import UsageError


def test_reframe_command_carries_run_dir_nodes_repeat_and_vars(tmp_path):
    cmd = run.reframe_command(['mpi_microbench', 'matmul'], 'local', tmp_path, 'demo',
                              nodes=[1, 2], repeat=3, setvars={'MatmulBench.sizes': [64, 128], 'x': 1})
    line = ' '.join(cmd)
    assert f'-C {paths.CONFIGS}/local.py' in line and '--system local' in line
    assert f'-c {paths.CHECKS}/mpi_microbench.py' in line and f'-c {paths.CHECKS}/matmul.py' in line
    assert f'--report-file {tmp_path}/report.json' in line
    assert f'--perflogdir {tmp_path}/perflogs' in line
    assert '-P num_nodes=1,2' in line and '--repeat 3' in line
    assert '-S MatmulBench.sizes=64,128' in line and '-S x=1' in line
    assert 'hpcval_campaign=demo' in line


def test_single_node_and_single_run_add_nothing(tmp_path):
    line = ' '.join(run.reframe_command(['matmul'], 'local', tmp_path, 'c'))
    assert '-P' not in line and '--repeat' not in line


@pytest.mark.parametrize('checks,system,msg', [
    (['nope'], 'local', "unknown check 'nope'"),
    (['matmul'], 'mars', "unknown system 'mars'"),
    ([], 'local', 'no check given'),
])
def test_validate(checks, system, msg):
    with pytest.raises(UsageError, match=msg):
        run.validate(checks, system)


def test_new_run_dirs_never_collide(tmp_path):
    a = run.new_run_dir('c', tmp_path)
    b = run.new_run_dir('c', tmp_path)
    assert a != b and a.parent == b.parent == tmp_path / 'c'


def test_campaigns_load():
    demo = campaign.load('demo')
    assert demo.checks == ['mpi_microbench', 'matmul', 'gan_training', 'smallfile_io'] and demo.repeat >= 1
    for name in paths.known_campaigns():
        c = campaign.load(name)
        run.validate(c.checks, c.system)      # every shipped campaign names real parts
    with pytest.raises(UsageError, match="unknown campaign 'zzz'"):
        campaign.load('zzz')


def test_cli_errors_are_one_line_exit_2(capsys, tmp_path):
    assert cli.main(['run', 'nope']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and "unknown check 'nope'" in err
    assert cli.main(['report', str(tmp_path / 'missing'), '-o', str(tmp_path / 'out')]) == 2
    assert 'no such file' in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('bad', ['0', 'a,b', '-1'])
def test_bad_node_lists_are_usage_errors(bad):
    with pytest.raises(SystemExit) as e:
        cli.main(['run', 'matmul', '--nodes', bad])
    assert e.value.code == 2


def test_campaign_params_become_reframe_parameterisations():
    from hpcval import campaign
    camp = campaign.load('containers')
    assert camp.param_options() == ['-P', 'runtime=bare,charliecloud', '-P', 'mpi=host,bundled']
    assert campaign.Campaign(name='x').param_options() == []
