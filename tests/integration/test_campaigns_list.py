"""Every shipped campaign, as `hpcval run --campaign` would hand it to ReFrame,
parameterises and lists its checks (ReFrame `-l`): a parameter that cannot be
re-parameterised, or a filter that selects nothing, shows here and not
minutes into `make demo`."""
import json
import os
import re
import subprocess

import pytest

from hpcval import campaign, paths, run


def _reframe(cmd, action, tmp_path, app=None):
    '''Run a `hpcval run` reframe command line with ``action`` (``-l``,
    ``--describe``) in place of ``-r``; it must succeed.  ``app``: a campaign's
    app: section, handed to checks/app.py as `hpcval run` does.'''
    cmd = list(cmd)
    cmd[cmd.index('-r')] = action
    env = dict(os.environ, HPCVAL_RUN_DIR=str(tmp_path / 'run'), **run.app_env(tmp_path, app))
    proc = subprocess.run(cmd, cwd=paths.ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return proc


@pytest.mark.parametrize('name', paths.known_campaigns())
def test_campaign_lists_every_check_it_names(name, tmp_path):
    c = campaign.load(name)
    cmd = run.reframe_command(c.checks, c.system, tmp_path, name, nodes=c.nodes, repeat=1,
                              setvars=c.setvars, extra=c.param_options() + list(c.reframe_options))
    proc = _reframe(cmd, '-l', tmp_path, c.app)
    listed = set(re.findall(r'^- (\w+) ', proc.stdout, re.M))
    classes = {'mpi_microbench': 'MpiMicrobench', 'matmul': 'MatmulBench', 'gan_training': 'GanTraining',
               'smallfile_io': 'SmallfileIO', 'container_env': 'ContainerEnvIsolation', 'hpcc': 'Hpcc',
               'app': (c.app or {}).get('name')}
    assert {classes[ch] for ch in c.checks} <= listed, proc.stdout[-3000:]


def _listed(name, tmp_path):
    c = campaign.load(name)
    cmd = run.reframe_command(c.checks, c.system, tmp_path, name, nodes=c.nodes, repeat=1,
                              setvars=c.setvars, extra=c.param_options() + list(c.reframe_options))
    proc = _reframe(cmd, '-l', tmp_path)
    return re.findall(r'^- (\w+ [^/\n]*?)\s*/\w+$', proc.stdout, re.M)


def test_campaigns_are_yaml_files():
    names = paths.known_campaigns()
    assert {'smoke', 'demo', 'image-validation', 'scaling-proposal', 'update-regression'} <= set(names)
    assert all((paths.CAMPAIGNS / f'{n}.yaml').is_file() for n in names)
    assert not list(paths.CAMPAIGNS.glob('*.toml'))


def test_update_regression_selects_exactly_its_seven_cases(tmp_path):
    '''DGEMM on one node; latency, bw and allreduce over tcp and hsn on two nodes.'''
    listed = _listed('update-regression', tmp_path)
    params = [dict(re.findall(r'%(\w+)=(\S+)', line)) | {'check': line.split()[0]} for line in listed]
    assert len(params) == 7, listed
    mm = [p for p in params if p['check'] == 'MatmulBench']
    assert len(mm) == 1 and mm[0]['num_nodes'] == '1' and mm[0]['backend'] == 'numpy' and mm[0]['dtype'] == 'float64'
    mpi = {(p['benchmark'], p['fabric']) for p in params if p['check'] == 'MpiMicrobench' and p['num_nodes'] == '2'}
    assert mpi == {(b, f) for b in ('latency', 'bw', 'allreduce') for f in ('tcp', 'hsn')}


def test_scaling_proposal_selects_gan_both_modes_and_allreduce(tmp_path):
    listed = _listed('scaling-proposal', tmp_path)
    params = [dict(re.findall(r'%(\w+)=(\S+)', line)) | {'check': line.split()[0]} for line in listed]
    gan = {(p['mode'], p['num_nodes']) for p in params if p['check'] == 'GanTraining'}
    assert gan == {(m, n) for m in ('strong', 'weak') for n in ('1', '2', '3')}
    mpi = {(p['benchmark'], p['num_nodes']) for p in params if p['check'] == 'MpiMicrobench'}
    assert mpi == {('allreduce', n) for n in ('1', '2', '3')}


def test_system_alone_runs_every_workload_over_its_sweep(tmp_path):
    '''`hpcval run --system vcluster --nodes 1,2,3` (no check named): every
    workload, over both fabrics and the three runtime x MPI modes.'''
    checks, extra = run.whole_system('vcluster', ['-P', 'MpiMicrobench.tasks_per_node=1'])
    assert set(checks) == {'mpi_microbench', 'matmul', 'gan_training', 'smallfile_io'}
    cmd = run.reframe_command(checks, 'vcluster', tmp_path, 'sweep', nodes=[1, 2, 3], extra=extra)
    proc = _reframe(cmd, '-l', tmp_path)
    listed = re.findall(r'^- (\w+ [^/\n]*?)\s*/\w+$', proc.stdout, re.M)
    params = [dict(re.findall(r'%(\w+)=(\S+)', line)) | {'check': line.split()[0]} for line in listed]
    by_check = {}
    for p in params:
        by_check.setdefault(p['check'], set()).add((p['num_nodes'], p['runtime'], p['mpi']))
    # bare with a bundled MPI does not exist: skipped when listed
    modes = {('bare', 'host'), ('charliecloud', 'host'), ('charliecloud', 'bundled')}
    for check in ('MpiMicrobench', 'MatmulBench', 'GanTraining', 'SmallfileIO'):
        assert by_check[check] == {(n, r, m) for n in '123' for r, m in modes}, check
    assert {p['fabric'] for p in params if p['check'] == 'MpiMicrobench'} == {'tcp', 'hsn'}


def test_a_swept_parameter_set_by_the_user_is_left_alone():
    _, extra = run.whole_system('vcluster', ['-P', 'fabric=hsn'])
    assert 'fabric=tcp,hsn' not in extra and extra[-2:] == ['-P', 'fabric=hsn']
    assert 'runtime=bare,charliecloud' in extra
    _, extra = run.whole_system('local')
    assert not any(a.startswith(('fabric=', 'runtime=')) for a in extra)


def test_node_counts_come_from_the_partition(tmp_path, monkeypatch):
    (tmp_path / 'state.json').write_text('{"nodes": 5}')
    monkeypatch.setenv('HPCVAL_VCLUSTER_DIR', str(tmp_path))
    assert run.system_nodes('vcluster') == [1, 2, 3, 4, 5]
    assert run.system_nodes('local') == [1]
    assert os.environ['HPCVAL_VCLUSTER_DIR'] == str(tmp_path)     # the config's own changes undone
    assert 'SLURM_CONF' not in os.environ or os.environ['SLURM_CONF'] != str(tmp_path / 'etc/slurm.conf')


def test_microbenchmarks_quote_8B_latency_or_the_largest_bandwidth(tmp_path):
    '''The headline a scaling table or variant ratio uses follows the sizes
    actually run (bw at 1 MiB when the run stops there, not bw_128B).'''
    cmd = run.reframe_command(['mpi_microbench'], 'local', tmp_path, 'x',
                              setvars={'MpiMicrobench.max_message_size': 1 << 20})
    proc = _reframe(cmd, '--describe', tmp_path)
    got = {d['benchmark']: d['scaling_pvar'] for d in json.loads(proc.stdout) if 'benchmark' in d}
    assert got == {'latency': 'latency_8B', 'bw': 'bw_1MiB', 'bibw': 'bw_1MiB',
                   'allreduce': 'latency_8B', 'alltoall': 'latency_8B'}


def _params(name, tmp_path):
    return [dict(re.findall(r'%(\w+)=(\S+)', line)) | {'check': line.split()[0]} for line in _listed(name, tmp_path)]


def test_the_demo_campaigns_select_what_the_readme_says(tmp_path):
    '''vcluster: every check bare; vcluster-containers: hsn latency and bandwidth in Charliecloud.'''
    bare = _params('vcluster', tmp_path)
    assert {(p['runtime'], p['mpi']) for p in bare} == {('bare', 'host')}
    by = {c: [p for p in bare if p['check'] == c]
          for c in ('MpiMicrobench', 'MatmulBench', 'GanTraining', 'SmallfileIO')}
    assert {(p['benchmark'], p['fabric'], p['num_nodes']) for p in by['MpiMicrobench']} == {
        (b, f, n) for b in ('latency', 'bw', 'allreduce') for f in ('tcp', 'hsn') for n in '123'}
    assert {p['num_nodes'] for p in by['MatmulBench']} == {'1', '3'}
    assert {(p['mode'], p['num_nodes']) for p in by['GanTraining']} == {('strong', n) for n in '123'}
    assert {(p['target'], p['num_nodes']) for p in by['SmallfileIO']} == {
        (t, n) for t in ('ramdisk', 'work', 'home') for n in '13'}
    cc = _params('vcluster-containers', tmp_path)
    assert {(p['check'], p['runtime'], p['fabric']) for p in cc} == {('MpiMicrobench', 'charliecloud', 'hsn')}
    assert {(p['mpi'], p['benchmark'], p['num_nodes']) for p in cc} == {
        (m, b, n) for m in ('host', 'bundled') for b in ('latency', 'bw') for n in '12'}
