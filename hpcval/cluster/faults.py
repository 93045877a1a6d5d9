"""Faults injected into the virtual cluster while a campaign runs.

``hpcval run --fault SPEC`` (or a campaign's ``faults:``) starts an injector
beside ReFrame; every action is written, with its time, to ``faults.log`` in
the run directory, so a failure in the report can be traced to its cause.

Specs (``KIND:key=value:...``, or the same keys as a YAML mapping):

- ``kill-rank:every=S[:after=A][:node=N]``: every S seconds (first after A),
  SIGKILL one rank of a running job step, on node N or a random node;
- ``stop-slurmd:node=N:after=A:for=F[:every=S]``: SIGSTOP node N's slurmd
  after A seconds, SIGCONT it F seconds later (again every S seconds).  The
  controller declares the node DOWN after SlurmdTimeout (20 s); its jobs fail
  (no requeue) and it returns to service when slurmd answers again.
"""
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from hpcval.cluster import emulate, vcluster
from hpcval.cluster.errors import ClusterError

KINDS = ('kill-rank', 'stop-slurmd')


@dataclass
class Fault:
    kind: str
    node: str = ''
    after: float = 0.0
    duration: float = 0.0        # 'for'
    every: float = 0.0
    extra: dict = field(default_factory=dict)

    def describe(self):
        parts = [self.kind] + [f'{k}={v:g}' if isinstance(v, float) else f'{k}={v}'
                               for k, v in (('node', self.node), ('after', self.after), ('for', self.duration),
                                            ('every', self.every)) if v]
        return ':'.join(parts)


def parse(spec):
    '''A fault from ``KIND:key=value:...`` or a mapping {kind:, node:, after:, for:, every:}.'''
    if isinstance(spec, str):
        kind, *rest = spec.split(':')
        data = {'kind': kind}
        for item in rest:
            key, sep, value = item.partition('=')
            if not sep:
                raise ClusterError(f'fault {spec!r}: {item!r} is not NAME=VALUE')
            data[key] = value
    else:
        data = dict(spec)
    kind = data.pop('kind', '')
    if kind not in KINDS:
        raise ClusterError(f'fault kind must be one of {", ".join(KINDS)}, not {kind!r}')
    try:
        f = Fault(kind, node=str(data.pop('node', '')), after=float(data.pop('after', 0)),
                  duration=float(data.pop('for', 0)), every=float(data.pop('every', 0)))
    except ValueError as err:
        raise ClusterError(f'fault {spec!r}: {err}') from None
    if data:
        raise ClusterError(f'fault {spec!r}: unknown key(s) {", ".join(sorted(data))}')
    if kind == 'kill-rank' and f.every <= 0:
        raise ClusterError(f'fault {spec!r}: kill-rank needs every=SECONDS')
    if kind == 'stop-slurmd' and (not f.node or f.duration <= 0):
        raise ClusterError(f'fault {spec!r}: stop-slurmd needs node=NAME and for=SECONDS')
    return f


def _children(pid):
    try:
        return [int(c) for t in Path(f'/proc/{pid}/task').iterdir()
                for c in (t / 'children').read_text().split()]
    except OSError:
        return []


def _comm(pid):
    try:
        return Path(f'/proc/{pid}/comm').read_text().strip()
    except OSError:
        return ''


def ranks(node=None):
    '''{pid: node} of the tasks of running job steps (children of slurmstepd) in the cluster.'''
    found = {}
    for pid, where in vcluster.processes().items():
        if _comm(pid) != 'slurmstepd':
            continue
        node_name = where.replace(vcluster.NS_PREFIX, 'node') if where.startswith(vcluster.NS_PREFIX) else where
        if node and node_name != node:
            continue
        for child in _children(pid):
            if _comm(child) not in ('slurmstepd', 'sleep', ''):
                found[child] = node_name
    return found


class Injector(threading.Thread):
    '''Runs the faults on their schedules until stopped; logs every action.'''

    def __init__(self, faults, log_path, seed=None):
        super().__init__(daemon=True)
        self.faults, self.log_path = faults, Path(log_path)
        self.rng = random.Random(seed)
        self.stopped = threading.Event()
        self.stopped_slurmd = {}
        self.actions = []

    def log(self, what):
        line = f'{time.strftime("%Y-%m-%dT%H:%M:%S%z")} {what}'
        self.actions.append(line)
        with open(self.log_path, 'a') as fp:
            fp.write(line + '\n')

    def run(self):
        t0 = time.monotonic()
        due = {i: f.after for i, f in enumerate(self.faults)}
        resume = {}
        while not self.stopped.is_set():
            now = time.monotonic() - t0
            for i, f in enumerate(self.faults):
                if i in resume and now >= resume[i]:
                    self._sigcont(f.node)
                    del resume[i]
                if due.get(i) is not None and now >= due[i]:
                    if f.kind == 'kill-rank':
                        self._kill_rank(f.node or None)
                    elif i not in resume:
                        self._sigstop(f.node)
                        resume[i] = now + f.duration
                    due[i] = now + f.every if f.every > 0 else None
            self.stopped.wait(0.5)
        for i, f in enumerate(self.faults):
            if i in resume:
                self._sigcont(f.node)

    def _kill_rank(self, node):
        found = ranks(node)
        if not found:
            self.log(f'kill-rank: no running rank{" on " + node if node else ""}')
            return
        pid = self.rng.choice(sorted(found))
        try:
            os.kill(pid, signal.SIGKILL)
            self.log(f'kill-rank: SIGKILL pid {pid} ({_comm(pid) or "rank"}) on {found[pid]}')
        except ProcessLookupError:
            self.log(f'kill-rank: pid {pid} on {found[pid]} had already exited')

    def _sigstop(self, node):
        pid = emulate.slurmd_pid(node)
        os.kill(pid, signal.SIGSTOP)
        self.stopped_slurmd[node] = pid
        self.log(f'stop-slurmd: SIGSTOP slurmd pid {pid} on {node}')

    def _sigcont(self, node):
        pid = self.stopped_slurmd.pop(node, None)
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGCONT)
            self.log(f'stop-slurmd: SIGCONT slurmd pid {pid} on {node}')
        except ProcessLookupError:
            self.log(f'stop-slurmd: slurmd pid {pid} on {node} is gone')

    def stop(self):
        self.stopped.set()
        self.join(timeout=10)
