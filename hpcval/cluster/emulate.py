"""Emulated system updates and faults on the virtual cluster.

What a centre's update can do to a real machine, made reversible here:

- ``fabric``: a token bucket (tc tbf) on one network's interface in every
  node, e.g. halving the high-speed network's bandwidth;
- ``noise``: a CPU-stealing process on one node (OS noise, a runaway daemon);
- ``pin``: each node's slurmd, and so every job step it starts, bound to its
  own CPUs, so that noise on one node does not reach another (on a real
  cluster nodes do not share cores; here they do unless pinned);
- faults for stability campaigns (cluster/faults.py uses these): SIGKILL of
  a random rank, SIGSTOP of one node's slurmd for a while.

What is applied is recorded in the cluster's state.json under ``emulation``
and ``cpus``, so ``status`` and ``undo`` know it; ``down`` removes everything
anyway (the noise runs in the node's namespace).
"""
import json
import os
import re
import signal
import subprocess
from pathlib import Path

from hpcval.cluster import vcluster
from hpcval.cluster.errors import ClusterError

_RATE = re.compile(r'^\d+(\.\d+)?(bit|kbit|mbit|gbit)$')


def _state(folder=None):
    folder = Path(folder or vcluster.state_dir())
    path = folder / 'state.json'
    try:
        return path, json.loads(path.read_text())
    except (OSError, ValueError):
        raise ClusterError(f'vcluster is not up ({path} missing): run `hpcval cluster up` first') from None


def _save(path, state):
    tmp = path.with_suffix('.tmp')
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, path)


def _node_index(state, node):
    names = vcluster.node_names(int(state['nodes']))
    if node not in names:
        raise ClusterError(f'no node {node!r} in the virtual cluster (nodes: {", ".join(names)})')
    return names.index(node) + 1


def slurmd_pid(node, folder=None):
    folder = Path(folder or vcluster.state_dir())
    try:
        return int((folder / 'run' / f'slurmd-{node}.pid').read_text().split()[0])
    except (OSError, ValueError, IndexError):
        raise ClusterError(f'no running slurmd for {node} (pid file missing)') from None


def cpus_of(node, folder=None):
    '''The CPUs a node's processes may use: its pinned set, else all.'''
    _, state = _state(folder)
    return state.get('cpus', {}).get(node) or sorted(os.sched_getaffinity(0))


def pin(cpus_per_node, folder=None, echo=print):
    '''Bind node i's slurmd (all threads) to CPUs (i-1)*k .. i*k-1 modulo the
    machine's; k=0 unbinds.  Job steps started afterwards inherit it.'''
    path, state = _state(folder)
    allowed = sorted(os.sched_getaffinity(0))
    cpus = {}
    for i, node in enumerate(vcluster.node_names(int(state['nodes'])), 1):
        mine = (allowed if cpus_per_node <= 0 else
                [allowed[((i - 1) * cpus_per_node + j) % len(allowed)] for j in range(cpus_per_node)])
        subprocess.run(['taskset', '-a', '-p', '-c', ','.join(map(str, mine)), str(slurmd_pid(node, folder))],
                       check=True, capture_output=True, text=True)
        cpus[node] = mine
    state['cpus'] = {} if cpus_per_node <= 0 else cpus
    _save(path, state)
    echo('vcluster: ' + (' '.join(f'{n}=cpu{",".join(map(str, c))}' for n, c in cpus.items())
                         if cpus_per_node > 0 else 'nodes unpinned'))
    return cpus


def fabric(net, rate, folder=None, echo=print):
    '''Shape ``net`` (eth or hsn) to ``rate`` (tc syntax, e.g. 5600mbit) on every node's egress.'''
    if net not in vcluster.NETS:
        raise ClusterError(f'net must be one of {", ".join(vcluster.NETS)}, not {net!r}')
    if not _RATE.match(rate):
        raise ClusterError(f'rate must look like 500mbit or 5gbit, not {rate!r}')
    path, state = _state(folder)
    ifname = vcluster.NETS[net][2]
    for i in range(1, int(state['nodes']) + 1):
        _tc(i, ifname, rate)
    state.setdefault('emulation', {}).setdefault('fabric', {})[net] = rate
    _save(path, state)
    echo(f'vcluster: {net} ({ifname}) shaped to {rate} on every node')


def _tc(i, ifname, rate):
    ns = f'{vcluster.NS_PREFIX}{i}'
    if rate is None:
        subprocess.run(['tc', '-n', ns, 'qdisc', 'del', 'dev', ifname, 'root'], capture_output=True)
        return
    # burst: at least rate x 1 ms, or the bucket itself caps the rate
    burst = max(256 * 1024, int(_bits(rate) / 8 / 1000))
    subprocess.run(['tc', '-n', ns, 'qdisc', 'replace', 'dev', ifname, 'root', 'tbf', 'rate', rate,
                    'burst', str(burst), 'latency', '50ms'], check=True, capture_output=True, text=True)


def _bits(rate):
    m = re.match(r'^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)$', rate)
    return float(m.group(1)) * {'bit': 1, 'kbit': 1e3, 'mbit': 1e6, 'gbit': 1e9}[m.group(2)]


def noise(node, folder=None, echo=print):
    '''Start a CPU-stealing busy loop in ``node``'s namespace, on that node's CPUs.'''
    path, state = _state(folder)
    i = _node_index(state, node)
    running = state.setdefault('emulation', {}).setdefault('noise', {})
    if node in running and Path(f'/proc/{running[node]}').exists():
        echo(f'vcluster: noise already running on {node} (pid {running[node]})')
        return running[node]
    cpus = state.get('cpus', {}).get(node) or sorted(os.sched_getaffinity(0))
    proc = subprocess.Popen(['nsenter', f'--net=/run/netns/{vcluster.NS_PREFIX}{i}', 'taskset', '-c',
                             ','.join(map(str, cpus)), 'sh', '-c', 'while :; do :; done'],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    running[node] = proc.pid
    _save(path, state)
    echo(f'vcluster: noise on {node}: a busy loop (pid {proc.pid}) on cpu{",".join(map(str, cpus))}')
    return proc.pid


def undo(folder=None, echo=print):
    '''Take back every emulated update: shaping as at `up`, no noise.'''
    path, state = _state(folder)
    emu = state.get('emulation', {})
    for net in emu.get('fabric', {}):
        ifname = vcluster.NETS[net][2]
        for i in range(1, int(state['nodes']) + 1):
            # eth goes back to its management-network shaping, hsn to none
            _tc(i, ifname, vcluster.ETH_RATE if net == 'eth' else None)
    for pid in emu.get('noise', {}).values():
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    state['emulation'] = {}
    _save(path, state)
    echo('vcluster: emulated updates undone' + (f' ({", ".join(sorted(emu))})' if emu else ' (none applied)'))


def show(folder=None):
    _, state = _state(folder)
    return {'emulation': state.get('emulation', {}), 'cpus': state.get('cpus', {})}
