"""The virtual Slurm cluster: real slurmctld/slurmd/munged, namespaces, two
networks; the microbenchmarks across node counts and fabrics on it."""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

import config.vcluster as site
from hpcval_cli import ROOT, hpcval, run_cases as cases

STATE = Path(os.environ.get('HPCVAL_VCLUSTER_DIR', ROOT / '.cache' / 'vcluster'))


def _perf(tc, pvar):
    return [v[0] for k, v in tc['perfvalues'].items() if k.endswith(':' + pvar)][0]


def test_up_is_idempotent_and_the_nodes_are_real(vcluster):
    again = hpcval('cluster', 'up', '--nodes', '3')
    assert again.returncode == 0 and 'already up with 3 nodes' in again.stdout
    st = hpcval('cluster', 'status')
    assert st.returncode == 0 and 'node1=idle node2=idle node3=idle' in st.stdout
    for i in (1, 2, 3):
        ns = f'hpcval-node{i}'
        addrs = subprocess.run(['ip', '-n', ns, '-o', '-4', 'addr'], capture_output=True, text=True).stdout
        assert f'eth0    inet 10.231.1.{i}/24' in addrs and f'hsn0    inet 10.231.2.{i}/24' in addrs
        qdisc = subprocess.run(['tc', '-n', ns, 'qdisc', 'show', 'dev', 'eth0'], capture_output=True,
                               text=True).stdout
        assert 'tbf' in qdisc and 'rate 1Gbit' in qdisc
    out = subprocess.run(['srun', '-N3', '-n3', 'hostname'], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, SLURM_CONF=str(STATE / 'etc/slurm.conf'))).stdout
    assert sorted(out.split()) == ['node1', 'node2', 'node3']


@pytest.fixture(scope='module')
def fabric_run(vcluster, tmp_path_factory):
    runs = tmp_path_factory.mktemp('runs')
    proc = hpcval('run', 'mpi_microbench', '--system', 'vcluster', '--nodes', '1,2', '--name', 'fabrics',
                  '-S', 'MpiMicrobench.num_iters=200', '-S', 'MpiMicrobench.num_iters_large=3',
                  '-S', 'MpiMicrobench.num_warmup_large=1', '-S', 'MpiMicrobench.tasks_per_node=1',
                  '--', '-P', 'fabric=tcp,hsn', '-n', r'%benchmark=(latency|bw)\b', runs=runs, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return runs / 'fabrics' / 'latest'


def test_hsn_carries_three_times_the_shaped_eth_between_two_nodes(fabric_run):
    got = {(tc['benchmark'], tc['fabric'], tc['num_nodes']): tc for tc in cases(fabric_run)
           if tc['name'].startswith('MpiMicrobench')}
    assert len(got) == 8 and all(tc['result'] == 'pass' for tc in got.values())
    hsn, eth = got[('bw', 'hsn', 2)], got[('bw', 'tcp', 2)]
    assert _perf(hsn, 'bw_4MiB') >= 3 * _perf(eth, 'bw_4MiB')
    # the MPI's own word for what carried the bytes, and where
    assert hsn['transport'] == 'between nodes tcp:hsn0' and eth['transport'] == 'between nodes tcp:eth0'
    assert hsn['hosts'] == 'node1,node2'
    # inter-node latency is TCP over veth; on one node it is shared memory. Locally 3x, on CI 2.3x
    # (shared-memory latency swings with the host's load), so the claim is only the clear gap
    assert _perf(got[('latency', 'hsn', 2)], 'latency_8B') > 1.5 * _perf(got[('latency', 'hsn', 1)], 'latency_8B')
    assert 'on node vader' in got[('latency', 'hsn', 1)]['transport']


def test_a_fabric_whose_interface_is_missing_fails(vcluster, tmp_path):
    cfg = tmp_path / 'vcluster_ib.py'
    cfg.write_text(
        'import importlib.util\n'
        f'spec = importlib.util.spec_from_file_location("vc", "{ROOT}/config/vcluster.py")\n'
        'mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n'
        'site_configuration = mod.site_configuration\n'
        'fab = site_configuration["systems"][0]["partitions"][0]["extras"]["fabrics"]\n'
        'fab["ib"] = dict(fab["hsn"], env=mod._tcp_over("ib0"), expect="tcp:ib0")\n')
    report = tmp_path / 'report.json'
    proc = subprocess.run(
        [str(ROOT / '.venv/bin/reframe'), '-C', str(cfg), '--system', 'vcluster',
         '-c', str(ROOT / 'checks/mpi_microbench.py'), '-P', 'fabric=ib', '-P', 'num_nodes=2',
         '-n', '%benchmark=latency', '-S', 'max_message_size=8', '-S', 'num_iters=50', '-r',
         '--report-file', str(report), '-s', str(tmp_path / 'stage'), '-o', str(tmp_path / 'out'),
         '--perflogdir', str(tmp_path / 'perflogs')],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, HPCVAL_RUN_DIR=str(tmp_path / 'rundir')))
    assert proc.returncode == 1, proc.stdout[-2000:]
    [tc] = [tc for tc in __import__('json').loads(report.read_text())['runs'][0]['testcases']
            if tc['name'].startswith('MpiMicrobench')]
    assert tc['result'] == 'fail' and tc['fail_phase'] == 'sanity'


def _nodes(tc):
    '''The nodes a case ran on: the scheduler's list, else the hosts the program reported
    (ReFrame's squeue backend leaves none for a job that ended between two polls).'''
    return ','.join(tc.get('job_nodelist') or []) or str(tc.get('hosts') or '')


def test_killed_node_fails_its_cases_and_the_campaign_finishes(vcluster, tmp_path):
    try:
        _killed_node(tmp_path)
    finally:
        # the cluster comes back for whatever runs next, even when an assertion failed
        assert hpcval('cluster', 'up', '--nodes', '3', timeout=300).returncode == 0


def _killed_node(tmp_path):
    runs = tmp_path / 'runs'
    env = dict(os.environ, HPCVAL_RUNS=str(runs), USER=os.environ.get('USER', 'root'))
    camp = subprocess.Popen(
        [str(ROOT / '.venv/bin/hpcval'), 'run', 'mpi_microbench', '--system', 'vcluster', '--nodes', '2',
         '--repeat', '6', '--name', 'fault', '-S', 'MpiMicrobench.max_message_size=8',
         '-S', 'MpiMicrobench.num_iters=300000', '--', '-n', '%benchmark=latency'],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    slurm = dict(os.environ, SLURM_CONF=str(STATE / 'etc/slurm.conf'))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:       # wait for a job running on node2
            q = subprocess.run(['squeue', '-h', '-t', 'R', '-o', '%N'], capture_output=True, text=True,
                               env=slurm).stdout
            if 'node2' in q or 'node[1-2]' in q:
                break
            time.sleep(0.5)
        # node2 crashes: its slurmd and everything running in its namespace
        ino = os.stat('/run/netns/hpcval-node2').st_ino
        for pid in [int(p.name) for p in Path('/proc').iterdir() if p.name.isdigit()]:
            try:
                if os.stat(f'/proc/{pid}/ns/net').st_ino == ino:
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        out, _ = camp.communicate(timeout=900)
    finally:
        camp.kill()
    assert camp.returncode == 1, out[-3000:]            # failures found, campaign completed
    tcs = [tc for tc in cases(runs / 'fault' / 'latest') if tc['name'].startswith('MpiMicrobench')]
    assert len(tcs) == 6
    failed = [tc for tc in tcs if tc['result'] == 'fail']
    passed = [tc for tc in tcs if tc['result'] == 'pass']
    assert failed and passed
    assert all(tc['fail_phase'] in ('run', 'sanity', 'performance') for tc in failed)
    assert any('node2' in _nodes(tc) for tc in failed), [(tc['job_nodelist'], tc.get('hosts')) for tc in failed]
    assert all('node2' not in _nodes(tc) for tc in passed[-1:])
    rep = tmp_path / 'rep'
    assert hpcval('report', runs / 'fault', '-o', rep).returncode == 0
    md = (rep / 'report.md').read_text()
    # the report names the crashed node among the nodes of the failed cases
    nodes = md.split('Nodes of the failed cases', 1)[1].split('\n\n', 2)[1]
    row = re.search(r'^\| node2 \| (\d+) \| (\d+) \|', nodes, re.M)
    on_node2 = [tc for tc in failed if 'node2' in _nodes(tc)]
    assert row and int(row.group(2)) == len(on_node2), nodes


def test_a_hanging_job_hits_the_time_limit(vcluster, tmp_path):
    # a latency run of 10^9 iterations would take hours: Slurm stops it at the
    # check's time limit, and sanity says so
    proc = hpcval('run', 'mpi_microbench', '--system', 'vcluster', '--nodes', '2', '--name', 'hang',
                  '-S', 'MpiMicrobench.max_message_size=8', '-S', 'MpiMicrobench.num_iters=1000000000',
                  '-S', 'MpiMicrobench.time_limit=1m', '--', '-n', '%benchmark=latency', runs=tmp_path,
                  timeout=600)
    assert proc.returncode == 1, proc.stdout[-2000:]
    [tc] = [tc for tc in cases(tmp_path / 'hang' / 'latest') if tc['name'].startswith('MpiMicrobench')]
    assert tc['result'] == 'fail' and tc['fail_phase'] == 'sanity', (tc['fail_phase'], tc['fail_reason'])
    assert 'Slurm cancelled the job on node1 due to time limit' in tc['fail_reason']


def test_containers_across_nodes_with_host_and_bundled_mpi(vcluster, openmpi_image, tmp_path):
    # srun starts ch-run on each node (hybrid model); Slurm's PMIx directory
    # lives under /tmp so the ranks in the image reach it
    proc = hpcval('run', 'mpi_microbench', '--system', 'vcluster', '--nodes', '2', '--name', 'cc',
                  '-S', 'MpiMicrobench.max_message_size=8', '-S', 'MpiMicrobench.num_iters=200',
                  '--', '-P', 'runtime=charliecloud', '-P', 'mpi=host,bundled', '-P', 'fabric=hsn',
                  '-n', '%benchmark=latency', runs=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    got = {tc['mpi']: tc for tc in cases(tmp_path / 'cc' / 'latest') if tc['name'].startswith('MpiMicrobench')}
    assert set(got) == {'host', 'bundled'}
    for mpi, tc in got.items():
        assert tc['result'] == 'pass' and tc['hosts'] == 'node1,node2'
        assert tc['transport'] == 'between nodes tcp:hsn0'
        assert tc['mpi_library_path'].startswith('/opt/hostmpi/lib/' if mpi == 'host' else '/usr/lib/')
    # the site's Charliecloud module, loaded by the partition's container platform
    scripts = list((tmp_path / 'cc' / 'latest' / 'output').rglob('MpiMicrobench_*/rfm_job.sh'))
    assert len(scripts) == 2 and all(f'module load {site.module("charliecloud")}' in p.read_text().splitlines()
                                     for p in scripts)


def test_podman_across_nodes_with_host_and_bundled_mpi(vcluster, podman_images, tmp_path):
    # srun starts one `podman run` (`podman-hpc run`, each node with its own podman state,
    # the image from the shared squash store) per rank on each node, in the node's network
    # namespace (--network host): the same proof as Charliecloud, over hsn
    proc = hpcval('run', 'mpi_microbench', '--system', 'vcluster', '--nodes', '2', '--name', 'pm',
                  '-S', 'MpiMicrobench.max_message_size=8', '-S', 'MpiMicrobench.num_iters=200',
                  '--', '-P', 'runtime=podman,podman-hpc', '-P', 'mpi=host,bundled', '-P', 'fabric=hsn',
                  '-n', '%benchmark=latency', runs=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    got = {(tc['runtime'], tc['mpi']): tc for tc in cases(tmp_path / 'pm' / 'latest')
           if tc['name'].startswith('MpiMicrobench')}
    assert set(got) == {(r, m) for r in ('podman', 'podman-hpc') for m in ('host', 'bundled')}
    for (runtime, mpi), tc in got.items():
        assert tc['image_format'] == runtime
        assert tc['result'] == 'pass' and tc['hosts'] == 'node1,node2'
        assert tc['transport'] == 'between nodes tcp:hsn0'
        assert tc['image_digest'] == podman_images['openmpi']['digest']
        assert tc['mpi_library_path'] == ('/opt/hostmpi/lib/libmpi.so.40.30.4' if mpi == 'host'
                                          else '/usr/lib/x86_64-linux-gnu/libmpi.so.40.30.4')
    scripts = list((tmp_path / 'pm' / 'latest' / 'output').rglob('MpiMicrobench_*/rfm_job.sh'))
    assert len(scripts) == 4
    for script in scripts:
        lines = script.read_text().splitlines()
        # podman-hpc: one container per node (shared-run), the ranks started in it by srun's tasks
        hpc = any(ln.startswith('srun podman-hpc shared-run --network host ') for ln in lines)
        assert hpc or any(ln.startswith('srun podman run --rm --network host ') for ln in lines)
        # the site's podman-hpc module, for the podman-hpc cases only
        assert (f'module load {site.module("podman-hpc")}' in lines) is hpc


def test_gan_and_smallfile_io_across_two_nodes(vcluster, tmp_path):
    proc = hpcval('run', 'gan_training', 'smallfile_io', '--system', 'vcluster', '--nodes', '2', '--name', 'wl',
                  '-S', 'GanTraining.steps=2', '-S', 'GanTraining.warmup=1', '-S', 'GanTraining.batch=4',
                  '-S', 'GanTraining.threads=1', '-S', 'SmallfileIO.tasks_per_node=1',
                  '-S', 'SmallfileIO.files_per_rank=100', '-S', 'SmallfileIO.iterations=1',
                  '--', '-n', 'GanTraining.*%mode=strong|SmallfileIO.*%target=(ramdisk|work)', runs=tmp_path,
                  timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:]
    got = {tc['name'].split()[0] + ':' + str(tc.get('target') or tc.get('mode')): tc
           for tc in cases(tmp_path / 'wl' / 'latest') if not tc['name'].startswith('build_')}
    assert set(got) == {'GanTraining:strong', 'SmallfileIO:ramdisk', 'SmallfileIO:work'}
    for tc in got.values():
        assert tc['result'] == 'pass', tc['fail_reason']
        # one rank on each of two Slurm nodes
        assert tc['hosts'] == 'node1,node2' and tc['num_nodes'] == 2
    gan = got['GanTraining:strong']
    assert gan['ranks'] == 2 and _perf(gan, 'allreduce_time') > 0
    for target in ('ramdisk', 'work'):
        io = got[f'SmallfileIO:{target}']
        assert io['files_created'] == io['files_removed'] == 200


def test_lammps_over_three_nodes_then_a_proposal(vcluster, tmp_path):
    '''The proposal chain, reduced but real: the shipped LAMMPS campaign, bare, 2 repeats,
    fewer steps, over 1-3 Slurm nodes; `hpcval proposal` of that run.'''
    import pandas as pd
    import yaml
    camp = yaml.safe_load((ROOT / 'campaigns' / 'lammps.yaml').read_text())
    camp['app']['inputs'] = [str(ROOT / 'campaigns' / i) for i in camp['app']['inputs']]
    camp['app']['steps'] = 50
    camp.update(repeat=2, params={'runtime': ['bare'], 'mpi': ['host']})
    (tmp_path / 'lammps-ci.yaml').write_text(yaml.safe_dump(camp))
    proc = hpcval('run', '--campaign', tmp_path / 'lammps-ci.yaml', runs=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:]
    run = tmp_path / 'lammps-ci' / 'latest'
    got = [tc for tc in cases(run) if tc['name'].startswith('lammps')]
    assert len(got) == 12 and all(tc['result'] == 'pass' for tc in got), [tc['fail_reason'] for tc in got]
    assert {tc['hosts'] for tc in got if tc['num_nodes'] == 3} == {'node1,node2,node3'}
    assert all(tc['steps'] == 50 and tc['mpi_library_path'].endswith('libmpi.so.40.30.4') for tc in got)
    out = tmp_path / 'proposal'
    plan = tmp_path / 'plan.yaml'
    plan.write_text('nodes: 6\nruns: 10\nsteps: 1000\nseries: strong\n')
    proc = hpcval('proposal', run, '--nodes', '3,6', '--plan', plan, '-o', out)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    ext = pd.read_csv(out / 'tables' / 'extrapolation.csv')
    assert set(ext['check']) == {'lammps'} and len(ext) == 4
    assert set(ext.loc[ext['nodes'] == 3, 'range']) == {'measured'}
    assert set(ext.loc[ext['nodes'] == 6, 'range']) == {'extrapolated (MODEL)'}
    assert (ext['predicted'] > 0).all() and ext['model'].str.len().gt(0).all()
    plan_rows = pd.read_csv(out / 'tables' / 'plan.csv')
    assert len(plan_rows) == 1 and plan_rows['node_hours'].iloc[0] > 0
    assert 'Only 3 node counts measured' in (out / 'report.md').read_text()


def test_jobs_load_the_host_mpi_as_a_module(vcluster, tmp_path):
    '''A site with modules: ReFrame (Lmod backend) writes `module load openmpi/...` into the
    job script, and on both nodes the ranks run with what the module set.'''
    openmpi = site.module('openmpi')
    # after the benchmark: what Lmod says is loaded, and on each node the module's own variable
    probe = ('module -t list; srun --ntasks-per-node=1 sh -c '
             '\'echo "# module on $(hostname): $HPCVAL_MODULE_OPENMPI $LOADEDMODULES"\'')
    proc = hpcval('run', 'mpi_microbench', '--system', 'vcluster', '--nodes', '2', '--name', 'lmod',
                  '-S', 'MpiMicrobench.max_message_size=8', '-S', 'MpiMicrobench.num_iters=200',
                  '-S', f'MpiMicrobench.postrun_cmds={probe}',
                  '--', '-P', 'fabric=hsn', '-n', '%benchmark=latency', runs=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    run = tmp_path / 'lmod' / 'latest'
    [tc] = [tc for tc in cases(run) if tc['name'].startswith('MpiMicrobench')]
    assert tc['result'] == 'pass' and tc['hosts'] == 'node1,node2'
    [out] = (run / 'output').rglob('MpiMicrobench_*/rfm_job.sh')
    script = out.read_text().splitlines()
    # Lmod started and the tree put on MODULEPATH before ReFrame's own module line
    assert script.index(f'. {site.LMOD_INIT}') < script.index(f'module use {site.MODULES}') \
        < script.index(f'module load {openmpi}')
    [build] = (run / 'output').rglob('build_osu_mpi_*/rfm_build.sh')
    assert f'module load {openmpi}' in build.read_text().splitlines()     # compiled with it too
    version = openmpi.split('/')[1]
    said = (out.parent / 'rfm_job.out').read_text()
    assert sorted(re.findall(r'^# module on (node\d): (.*)$', said, re.M)) == [
        ('node1', f'{version} {openmpi}'), ('node2', f'{version} {openmpi}')]
    assert openmpi in (out.parent / 'rfm_job.err').read_text().split()          # module -t list
