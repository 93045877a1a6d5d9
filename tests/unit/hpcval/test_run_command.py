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


@pytest.mark.parametrize('system', ['vcluster', 'local'])
def test_sites_sharing_cpus_with_reframe_run_one_case_at_a_time(system):
    assert run.site_policy_options(system) == ['--exec-policy', 'serial']
    # the user's own choice wins, in either spelling
    assert run.site_policy_options(system, ['--exec-policy', 'async']) == []
    assert run.site_policy_options(system, ['--exec-policy=async']) == []


def test_exec_policy_from_partitions(monkeypatch):
    monkeypatch.setattr(run, 'partition_extras', lambda system: [{}, {'max_nodes': 4}])
    assert run.site_policy_options('x') == []
    monkeypatch.setattr(run, 'partition_extras', lambda system: [{'exec_policy': 'serial'}, {}])
    assert run.site_policy_options('x') == ['--exec-policy', 'serial']
    monkeypatch.setattr(run, 'partition_extras',
                        lambda system: [{'exec_policy': 'serial'}, {'exec_policy': 'async'}])
    with pytest.raises(UsageError, match=r'config/x\.py: partitions ask for different exec_policy values'):
        run.site_policy_options('x')
    monkeypatch.setattr(run, 'partition_extras', lambda system: [{'exec_policy': 'parallel'}])
    with pytest.raises(UsageError, match="exec_policy 'parallel': ReFrame knows 'async' and 'serial'"):
        run.site_policy_options('x')


def test_the_run_command_file_records_the_site_policy(tmp_path, monkeypatch):
    seen = {}

    def fake_reframe(cmd, env):
        seen['cmd'] = cmd
        return type('P', (), {'returncode': 0})()
    monkeypatch.setattr(run, 'run_reframe', fake_reframe)
    rc, rundir = run.execute(['matmul'], 'local', 'c', runs_root=tmp_path)
    assert rc == 2                      # no report: ReFrame did not really run
    line = (rundir / 'command.txt').read_text()
    assert ' --exec-policy serial' in line and seen['cmd'][-2:] == ['--exec-policy', 'serial']


def test_run_folders_never_replace_what_is_not_hpcvals(tmp_path):
    (tmp_path / 'demo').mkdir()
    (tmp_path / 'demo' / 'latest').mkdir()                 # the user's own folder, not our link
    with pytest.raises(UsageError, match='not a symbolic link'):
        run.new_run_dir('demo', tmp_path)
    (tmp_path / 'afile').write_text('x')
    with pytest.raises(UsageError, match='not a folder'):
        run.new_run_dir('afile', tmp_path)
    assert sorted(p.name for p in (tmp_path / 'demo').iterdir()) == ['latest']


_FAKE_REFRAME = '''
import signal, sys, time
def stop(*_):
    open(sys.argv[1], 'w').write('cancelled its jobs')
    sys.exit(1)
signal.signal(signal.SIGTERM, stop)
print('running', flush=True)
time.sleep(60)
'''

_HPCVAL = '''
import os, signal, sys
sys.path.insert(0, {root!r})
from hpcval import cli, run
signal.signal(signal.SIGTERM, cli.on_sigterm)
try:
    run.run_reframe([sys.executable, '-c', {fake!r}, {mark!r}], dict(os.environ))
except cli.Terminated:
    print('terminated', flush=True)
'''


def test_a_stopped_run_stops_reframe_as_reframe_stops_itself(tmp_path):
    import signal
    import subprocess
    import sys
    mark = tmp_path / 'reframe-stopped'
    proc = subprocess.Popen([sys.executable, '-c', _HPCVAL.format(root=str(paths.ROOT), fake=_FAKE_REFRAME,
                                                                  mark=str(mark))],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'running'        # ReFrame's stand-in is up
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    # ReFrame got SIGTERM (it cancels its jobs then), not SIGKILL, and hpcval went on to stop
    assert mark.read_text() == 'cancelled its jobs' and 'terminated' in out
