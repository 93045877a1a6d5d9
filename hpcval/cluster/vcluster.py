"""A real Slurm cluster of virtual nodes on this machine.

Node i is a network namespace ``hpcval-node<i>`` with two veth links: ``eth0``
(10.231.1.i, the management network, shaped with tc tbf to about 1 Gbit/s)
and ``hsn0`` (10.231.2.i, unshaped: the "high-speed network"), each into a
bridge on the host (``hv-br-eth`` / ``hv-br-hsn``, .254).  Its ``slurmd`` runs
in that namespace plus its own mount and UTS namespaces (hostname ``node<i>``,
a private /dev/shm, a private PMIx directory), started with
``nsenter --net`` (``ip netns exec`` remounts /sys and slurmd dies).
``slurmctld`` and ``munged`` run on the host, on the eth bridge address.

Everything lives under one state folder (``.cache/vcluster`` or
``$HPCVAL_VCLUSTER_DIR``): slurm.conf, munge key and socket, spool, logs, pid
files and state.json.  ``down`` kills every process in the cluster's
namespaces and the daemons by pid file, deletes the namespaces, links and the
folder; it works from what exists, so it also cleans up after a crash or a
killed ``up``.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from hpcval.cluster.errors import ClusterError
from hpcval.paths import ROOT

NS_PREFIX = 'hpcval-node'
LINK_PREFIX = 'hv-'
NETS = {'eth': ('10.231.1', 'hv-br-eth', 'eth0'), 'hsn': ('10.231.2', 'hv-br-hsn', 'hsn0')}
HOST_OCTET = 254
ETH_RATE = '1gbit'          # the management network's shaping
CTLD_PORT, SLURMD_PORT = 16817, 16818
MAX_NODES = 8
#: Slurm's PMIx server directory.  Under /tmp because ch-run binds the host's
#: /tmp into containers: ranks in an image must reach it (session directory,
#: PMIx data); each node binds its own folder over it.
PMIX_BASE = Path('/tmp/hpcval-slurm-pmix')
TOOLS = ('slurmctld', 'slurmd', 'sinfo', 'munged', 'ip', 'tc', 'nsenter', 'unshare')
#: Debian's Lmod: the cluster is a site with modules (config/vcluster.py loads them in every job)
LMOD_CMD = Path('/usr/share/lmod/lmod/libexec/lmod')


def state_dir():
    return Path(os.environ.get('HPCVAL_VCLUSTER_DIR', ROOT / '.cache' / 'vcluster'))


def slurm_conf(folder=None):
    return Path(folder or state_dir()) / 'etc' / 'slurm.conf'


def node_names(n):
    return [f'node{i}' for i in range(1, n + 1)]


def node_address(i, net='eth'):
    return f'{NETS[net][0]}.{i}'


@dataclass
class Cluster:
    dir: Path
    nodes: int

    @property
    def conf(self):
        return slurm_conf(self.dir)

    def env(self):
        return dict(os.environ, SLURM_CONF=str(self.conf))


def _run(args, check=True, **kw):
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    if check and proc.returncode:
        raise ClusterError(f'{" ".join(map(str, args))} failed: {(proc.stderr or proc.stdout).strip()[-300:]}')
    return proc


def _require():
    if os.geteuid() != 0:
        raise ClusterError('the virtual cluster needs root (network namespaces, slurmd as root): '
                         'run `hpcval cluster up` as root')
    path = os.environ.get('PATH', '') + ':/usr/sbin:/sbin'
    missing = [t for t in TOOLS if not shutil.which(t, path=path)]
    if missing:
        raise ClusterError(f'missing {", ".join(missing)}: apt-get install slurm-wlm munge iproute2 util-linux')


# -- what exists -------------------------------------------------------------

def namespaces():
    out = _run(['ip', 'netns', 'list'], check=False).stdout
    return sorted(ln.split()[0] for ln in out.splitlines() if ln.startswith(NS_PREFIX))


def links():
    out = _run(['ip', '-o', 'link', 'show'], check=False).stdout
    names = [ln.split(':')[1].strip().split('@')[0] for ln in out.splitlines() if ':' in ln]
    return sorted(n for n in names if n.startswith(LINK_PREFIX))


def _ns_inodes():
    inodes = {}
    for ns in namespaces():
        try:
            inodes[os.stat(f'/run/netns/{ns}').st_ino] = ns
        except OSError:
            pass
    return inodes


def processes(folder=None):
    '''{pid: what} for the cluster's processes: everything inside its network
    namespaces, and the host daemons found by pid file.'''
    folder = Path(folder or state_dir())
    found = {}
    inodes = _ns_inodes()
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ino = os.stat(entry / 'ns' / 'net').st_ino
        except OSError:
            continue
        if ino in inodes:
            found[int(entry.name)] = inodes[ino]
    for pidfile in (folder / 'run').glob('*.pid') if (folder / 'run').is_dir() else []:
        try:
            pid = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if Path(f'/proc/{pid}').exists():
            found.setdefault(pid, pidfile.stem)
    return found


def status(folder=None):
    folder = Path(folder or state_dir())
    info = {'dir': str(folder), 'namespaces': namespaces(), 'links': links(),
            'processes': len(processes(folder)), 'nodes': {}}
    try:
        info['state'] = json.loads((folder / 'state.json').read_text())
    except (OSError, ValueError):
        info['state'] = None
    if slurm_conf(folder).exists() and shutil.which('sinfo'):
        proc = _run(['sinfo', '-h', '-N', '-o', '%N %T'], check=False,
                    env=dict(os.environ, SLURM_CONF=str(slurm_conf(folder))), timeout=20)
        if proc.returncode == 0:
            info['nodes'] = dict(ln.split()[:2] for ln in proc.stdout.splitlines() if ln.strip())
        else:
            info['sinfo_error'] = proc.stderr.strip()[-200:]
    return info


# -- down --------------------------------------------------------------------

def down(folder=None, echo=print):
    '''Remove every process, namespace, link and file of the cluster.'''
    _require()
    folder = Path(folder or state_dir())
    procs = processes(folder)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in procs:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(Path(f'/proc/{p}').exists() for p in procs):
            time.sleep(0.1)
        procs = {p: w for p, w in procs.items() if Path(f'/proc/{p}').exists()}
        if not procs:
            break
    for ns in namespaces():
        _run(['ip', 'netns', 'delete', ns], check=False)
    for link in links():
        _run(['ip', 'link', 'delete', link], check=False)
    if folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(PMIX_BASE, ignore_errors=True)
    left = {'namespaces': namespaces(), 'links': links(), 'processes': list(processes(folder))}
    if any(left.values()):
        raise ClusterError(f'vcluster down left {left}')
    echo('vcluster: down (no daemon, namespace, link or state left)')


# -- up ----------------------------------------------------------------------

def up(nodes=3, folder=None, echo=print, timeout=90):
    '''Bring the cluster up (idempotent) and wait until every node is idle.'''
    _require()
    if not 1 <= nodes <= MAX_NODES:
        raise ClusterError(f'nodes must be 1..{MAX_NODES} on this machine, not {nodes}')
    if not os.access(LMOD_CMD, os.X_OK):
        raise ClusterError(f'missing Lmod ({LMOD_CMD}): apt-get install lmod '
                           '(the cluster\'s jobs load their MPI and runtime as modules)')
    folder = Path(folder or state_dir())
    cl = Cluster(folder, nodes)
    st = status(folder)
    if (st['state'] or {}).get('nodes') == nodes and len(st['namespaces']) == nodes \
            and st['nodes'] and all(s.startswith('idle') or s.startswith('alloc') or s.startswith('mix')
                                    for s in st['nodes'].values()):
        echo(f'vcluster: already up with {nodes} nodes')
        return cl
    if st['namespaces'] or st['links'] or st['processes'] or folder.exists():
        echo('vcluster: clearing what a previous cluster left')
        down(folder, echo=lambda m: None)
    t0 = time.monotonic()
    for sub in ('etc', 'run', 'log', 'state', 'spool', 'pmix', 'munge'):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    # written first, so that `down` after a crash knows what this was
    (folder / 'state.json').write_text(json.dumps({'nodes': nodes, 'started': time.time()}))
    try:
        _network(nodes, echo)
        _munge(folder)
        _write_conf(cl)
        _run(['slurmctld', '-f', cl.conf], env=cl.env())
        for i, name in enumerate(node_names(nodes), 1):
            _slurmd(cl, i, name)
        _wait_idle(cl, timeout)
    except BaseException:
        echo('vcluster: up failed; logs in ' + str(folder / 'log'))
        raise
    echo(f'vcluster: {nodes} nodes idle in {time.monotonic() - t0:.1f} s (SLURM_CONF={cl.conf})')
    return cl


def _network(nodes, echo):
    for prefix, bridge, _ in NETS.values():
        _run(['ip', 'link', 'add', bridge, 'type', 'bridge'])
        _run(['ip', 'addr', 'add', f'{prefix}.{HOST_OCTET}/24', 'dev', bridge])
        _run(['ip', 'link', 'set', bridge, 'up'])
    for i in range(1, nodes + 1):
        ns = f'{NS_PREFIX}{i}'
        _run(['ip', 'netns', 'add', ns])
        _run(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
        for net, (prefix, bridge, ifname) in NETS.items():
            host_end = f'{LINK_PREFIX}n{i}-{net}'
            _run(['ip', 'link', 'add', host_end, 'type', 'veth', 'peer', 'name', ifname, 'netns', ns])
            _run(['ip', 'link', 'set', host_end, 'master', bridge, 'up'])
            _run(['ip', '-n', ns, 'addr', 'add', f'{prefix}.{i}/24', 'dev', ifname])
            _run(['ip', '-n', ns, 'link', 'set', ifname, 'up'])
        # the management network: token bucket at about 1 Gbit/s on each
        # node's egress, so node-to-node eth traffic is shaped both ways
        _run(['tc', '-n', ns, 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', ETH_RATE,
              'burst', '256kb', 'latency', '50ms'])


def _munge(folder):
    key = folder / 'munge' / 'munge.key'
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    _run(['munged', '--force', f'--socket={folder}/munge/munge.socket', f'--key-file={key}',
          f'--pid-file={folder}/run/munged.pid', f'--log-file={folder}/log/munged.log',
          f'--seed-file={folder}/munge/munge.seed'])


def _write_conf(cl):
    d = cl.dir
    host = socket.gethostname()
    lines = [
        '# written by hpcval cluster up; removed by hpcval cluster down',
        'ClusterName=hpcval',
        f'SlurmctldHost={host}({NETS["eth"][0]}.{HOST_OCTET})',
        f'SlurmctldPort={CTLD_PORT}', f'SlurmdPort={SLURMD_PORT}',
        'AuthType=auth/munge', 'CredType=cred/munge', f'AuthInfo=socket={d}/munge/munge.socket',
        'SlurmUser=root', 'SlurmdUser=root',
        f'StateSaveLocation={d}/state', f'SlurmdSpoolDir={d}/spool/%n',
        f'SlurmctldPidFile={d}/run/slurmctld.pid', f'SlurmdPidFile={d}/run/slurmd-%n.pid',
        f'SlurmctldLogFile={d}/log/slurmctld.log', f'SlurmdLogFile={d}/log/slurmd-%n.log',
        # no cgroups in the namespaces: track processes by parentage, no task plugin
        'ProctrackType=proctrack/linuxproc', 'TaskPlugin=task/none',
        'MpiDefault=pmix', 'SelectType=select/cons_tres', 'SelectTypeParameters=CR_Core',
        'SchedulerType=sched/backfill', 'ReturnToService=2',
        # a job whose node dies fails and stays failed: a requeue would hide the fault
        'JobRequeue=0',
        'AccountingStorageType=accounting_storage/none', 'JobCompType=jobcomp/none',
        'JobAcctGatherType=jobacct_gather/none',
        # a killed slurmd is noticed within half a minute
        'SlurmdTimeout=20', 'SlurmctldTimeout=20', 'MessageTimeout=10', 'KillWait=5',
        'InactiveLimit=0', 'MinJobAge=60',
        # a rank that dies ends its job step (else the others wait in MPI until the time limit)
        'KillOnBadExit=1',
    ]
    for i, name in enumerate(node_names(cl.nodes), 1):
        lines.append(f'NodeName={name} NodeAddr={node_address(i)} CPUs=2 Boards=1 SocketsPerBoard=1 '
                     f'CoresPerSocket=2 ThreadsPerCore=1 RealMemory=2048 State=UNKNOWN')
    lines.append(f'PartitionName=vc Nodes={",".join(node_names(cl.nodes))} Default=YES '
                 'MaxTime=INFINITE State=UP OverSubscribe=NO')
    cl.conf.write_text('\n'.join(lines) + '\n')
    # each node binds its own folder over this one (the pmix plugin's per-step
    # directories would collide between nodes otherwise)
    (cl.conf.parent / 'mpi.conf').write_text(f'PMIxCliTmpDirBase={PMIX_BASE}\n')
    PMIX_BASE.mkdir(parents=True, exist_ok=True)


def _slurmd(cl, i, name):
    d = cl.dir
    mine = d / 'pmix' / name
    mine.mkdir(parents=True, exist_ok=True)
    script = (f'hostname {name} && mount --bind {mine} {PMIX_BASE} && '
              f'mount -t tmpfs -o size=2g tmpfs /dev/shm && exec slurmd -f {cl.conf} -N {name}')
    _run(['nsenter', f'--net=/run/netns/{NS_PREFIX}{i}', 'unshare', '--mount', '--uts',
          '--propagation', 'private', 'sh', '-c', script], env=cl.env())


def _wait_idle(cl, timeout):
    deadline = time.monotonic() + timeout
    seen = {}
    while time.monotonic() < deadline:
        proc = _run(['sinfo', '-h', '-N', '-o', '%N %T'], check=False, env=cl.env(), timeout=20)
        if proc.returncode == 0:
            seen = dict(ln.split()[:2] for ln in proc.stdout.splitlines() if ln.strip())
            if len(seen) == cl.nodes and all(s == 'idle' for s in seen.values()):
                return
        time.sleep(1)
    raise ClusterError(f'vcluster: nodes not idle after {timeout} s: {seen or "sinfo failed"} '
                     f'(logs: {cl.dir / "log"})')
