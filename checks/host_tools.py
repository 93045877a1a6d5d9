"""Host tools inside the container: the host's LIKWID, bound into an image.

The LRZ talk profiled a containerized code with the host's LIKWID by binding
the host's installation into the container.  This check does the same with
the host's LIKWID (Debian's ``likwid`` 5.2.2 here) and the ``openmpi`` image:

- ``likwid-topology -c`` inside the image must report the machine the host's
  own ``likwid-topology -c`` reports (CPU name, sockets, cores, threads, the
  hardware-thread map, every cache's size and sharing, NUMA domains): a
  difference fails sanity, naming it;
- ``likwid-pin -p`` must list the same hardware threads, and ``likwid-pin -c
  CPUS`` must put a small threaded program's main thread and its created
  thread where LIKWID says it puts them (each thread reports its own
  affinity);
- ``likwid-perfctr`` (hardware counters) is run and what it says is recorded
  in ``perfctr``: on a virtual machine without counters that is
  ``unavailable: <the tool's words>``, which does not fail the check; no
  counter value is ever made up.

The binding (``runtime=charliecloud``).  Debian's LIKWID tools are Lua
scripts that name their interpreter (``#!/usr/bin/lua5.3``), their Lua
module, C library, pinning library and performance groups by absolute
``/usr`` paths; an image is read-only and a bind needs its destination to
exist, so the files are bound one by one under ``/rfm_workdir/host-likwid``
(the stage directory, where the check creates an empty file or folder for
each) and the tools are started as ``lua5.3 likwid-topology`` with
``LUA_PATH``, ``LUA_CPATH`` and ``LD_LIBRARY_PATH`` pointing there.  The
libraries they need beyond glibc (``ldd``: the Lua and hwloc libraries, ...)
are bound too; glibc is the image's.  ``likwid-pin`` preloads its pinning
library from a host path the image lacks (ld.so says so and goes on): the
bound copy is preloaded after it so that created threads are pinned.  The
groups are bound where LIKWID looks for a user's own groups
(``$HOME/.likwid/groups``), and ``likwid-accessD`` on ``PATH``.

``runtime=bare`` runs the same probe with the host's tools as installed: the
baseline.  Role ``environment``: pass or fail with the reason.
"""
import os
import re
import shlex
import sys

import reframe as rfm
import reframe.utility.sanity as sn
from reframe.core.backends import getlauncher
from reframe.core.builtins import (parameter, performance_function, run_after,
                                   run_before, sanity_function, variable)

sys.path.insert(0, os.path.dirname(__file__))
from common import likwid                                              # noqa: E402
from common.containers import find_image, image_folder, image_ref      # noqa: E402,F401 (registers Charliecloud)
from common.mixins import ProvenanceMixin, assert_no_problems          # noqa: E402

#: where the host's LIKWID files are bound: inside the stage directory, whose
#: bind the check puts first so that the files' empty stand-ins exist in it
MOUNT = '/rfm_workdir/host-likwid'
#: the stage directory's stand-ins for the bind destinations
STAGE_ROOT = 'host-likwid'

#: runs where the tools run (bare, or in the container); writes likwid_<name>.out
#: and prints "# likwid <name> rc=N"
PROBE_SH = r'''# hpcval host-tools probe (checks/host_tools.py)
R=${HPCVAL_LIKWID_ROOT:-}
lk() {
    tool=$1; shift
    if [ -n "$R" ]; then
        PATH="$R/bin:$PATH" LD_LIBRARY_PATH="$R/lib" LUA_PATH="$R/share/lua/?.lua;;" \
            LUA_CPATH="$R/lib/?.so;;" "$R/bin/$HPCVAL_LIKWID_LUA" "$R/bin/$tool" "$@"
    else
        "$tool" "$@"
    fi
}
keep() {
    name=$1; shift
    "$@" > "likwid_$name.out" 2>&1
    echo "# likwid $name rc=$?"
}
echo "# likwid where: ${R:-host PATH}"
if [ -n "$R" ]; then
    echo "# likwid image's own: $(command -v likwid-topology || echo none)"
    echo "# likwid bind mounts seen: $(grep -c " $R/" /proc/self/mountinfo)"
fi
keep version lk likwid-topology -v
keep topology lk likwid-topology -c
keep pin_domains lk likwid-pin -p
if [ -n "$R" ]; then
    # likwid-pin puts its pinning library's host path first in LD_PRELOAD: the image
    # has no file there (ld.so says so, and goes on to this bound one)
    keep pin_threads env LD_PRELOAD="$R/lib/$HPCVAL_LIKWID_PINLIB" \
        PATH="$R/bin:$PATH" LD_LIBRARY_PATH="$R/lib" LUA_PATH="$R/share/lua/?.lua;;" LUA_CPATH="$R/lib/?.so;;" \
        "$R/bin/$HPCVAL_LIKWID_LUA" "$R/bin/likwid-pin" -c "$HPCVAL_PIN_CPUS" python3 likwid_threads.py
    export HOME="$R/home"     # the groups are bound at $HOME/.likwid/groups
else
    keep pin_threads likwid-pin -c "$HPCVAL_PIN_CPUS" python3 likwid_threads.py
fi
keep perfctr_groups lk likwid-perfctr -a
group=$HPCVAL_PERF_GROUP
if ! grep -qw "$group" likwid_perfctr_groups.out; then
    first=$(awk 'f && NF && $1 !~ /^-/ {print $1; exit} /^-----/ {f=1}' likwid_perfctr_groups.out)
    [ -n "$first" ] && group=$first
fi
echo "# likwid perfctr group: $group"
keep perfctr lk likwid-perfctr -C "${HPCVAL_PIN_CPUS%%,*}" -g "$group" true
'''

#: each thread reports its own affinity; started and joined one at a time so that the
#: n-th thread created is the n-th one reported
THREADS_PY = '''"""Where likwid-pin put this process's threads (checks/host_tools.py)."""
import os
import threading


def report(name):
    print(f'# pinned {name}: {",".join(map(str, sorted(os.sched_getaffinity(0))))}', flush=True)


for n in range(1, int(os.environ.get('HPCVAL_PIN_THREADS', '1')) + 1):
    t = threading.Thread(target=report, args=(f'thread{n}',))
    t.start()
    t.join()
report('main')
'''


@rfm.simple_test
class HostToolsInContainer(rfm.RunOnlyRegressionTest, ProvenanceMixin):
    descr = "The host's LIKWID bound into an image: topology, pinning, counters against the host's own"
    valid_systems = ['*']
    valid_prog_environs = ['*']
    tags = {'containers', 'environment', 'host_tools'}
    runtime = parameter(['bare', 'charliecloud'], type=str, loggable=True)
    #: NAME[:TAG] of the image (default: ``container_image``, tag current); bare records none
    image = parameter([''], type=str, loggable=True)
    workload = variable(str, value='host_tools', loggable=True)
    role = variable(str, value='environment', loggable=True)
    container_image = variable(str, value='openmpi', loggable=True)
    image_format = variable(str, value='', loggable=True)
    #: the group likwid-perfctr is asked to measure (the first listed where it is not defined)
    perf_group = variable(str, value='FLOPS_DP', loggable=True)
    #: at most this many CPUs of the job's affinity mask for likwid-pin -c
    pin_max_cpus = variable(int, value=4)
    #: a saved ``likwid-topology -c`` output to compare against instead of the host's own
    #: (the node as it was recorded); empty: run the host's likwid-topology in the job
    reference_topology = variable(str, value='', loggable=True)

    likwid_version = variable(str, value='', loggable=True)        # the host installation's (likwid.lua)
    likwid_version_run = variable(str, value='', loggable=True)    # what the tool said where it ran
    likwid_where = variable(str, value='', loggable=True)          # host PATH, or the bind root
    #: "host:container,..." every file bound (empty for bare)
    bound_paths = variable(str, value='', loggable=True)
    topology_host = variable(str, value='', loggable=True)
    topology_run = variable(str, value='', loggable=True)
    topology_diff = variable(str, value='', loggable=True)
    pin_cpus = variable(str, value='', loggable=True)
    pin_domains = variable(str, value='', loggable=True)
    pin_landed = variable(str, value='', loggable=True)
    pin_expected = variable(str, value='', loggable=True)
    #: "unavailable: <what likwid-perfctr said>" or "available: ..."
    perfctr = variable(str, value='', loggable=True)
    perfctr_groups = variable(str, value='', loggable=True)
    #: the one line the report's environment table prints for a passed case
    #: (hpcval.analysis.executive.environment_results reads ``resolved``)
    resolved = variable(str, value='', loggable=True)
    num_tasks = 1
    sourcesdir = None
    #: what each tool said, kept beside the job's output for the reader of a failure
    keep_files = [f'likwid_{n}.out' for n in ('host_topology', 'version', 'topology', 'pin_domains',
                                              'pin_threads', 'perfctr_groups', 'perfctr')]
    executable = 'sh'
    executable_opts = ['likwid_probe.sh']

    @run_after('init')
    def check_runtime(self):
        if self.runtime not in ('bare', 'charliecloud'):
            raise ValueError(f'runtime must be bare or charliecloud, not {self.runtime!r}')
        images = type(self).param_space['image']
        self.skip_if(self.runtime == 'bare' and self.image != images[0],
                     'a bare run uses no image: it runs once, with the first image value')

    @run_after('setup')
    def set_tools(self):
        try:
            self._install = likwid.find_install()
        except likwid.NotInstalled as err:
            self.skip(str(err))
        self.likwid_version = self._install.version
        cpus = sorted(os.sched_getaffinity(0))[:self.pin_max_cpus]
        self.pin_cpus = ','.join(map(str, cpus))
        env = {'HPCVAL_PIN_CPUS': self.pin_cpus, 'HPCVAL_PIN_THREADS': str(max(len(cpus) - 1, 1)),
               'HPCVAL_PERF_GROUP': self.perf_group}
        # the host's own topology, outside any container: the reference
        if self.reference_topology:
            ref = os.path.abspath(self.reference_topology)
            self.prerun_cmds = [f'cp {shlex.quote(ref)} likwid_host_topology.out; '
                                'echo "# likwid host_topology rc=$?"']
        else:
            self.prerun_cmds = ['likwid-topology -c > likwid_host_topology.out 2>&1; '
                                'echo "# likwid host_topology rc=$?"']
        if self.runtime == 'bare':
            self.image = ''
            self.likwid_where = 'host PATH'
            self.env_vars = env
            return
        part = self.current_partition
        extras = part.extras.get('charliecloud', {})
        self.image_format = extras.get('image_format', 'dir')
        self.image = image_ref(self, self.container_image)
        path, self.image_digest = find_image(self.image, self.image_format, image_folder(part))
        self._binds = self._install.binds(MOUNT)
        self.bound_paths = ','.join(f'{src}:{dst}' for src, dst in self._binds)
        self.likwid_where = MOUNT
        self.container_platform = 'Charliecloud'
        cp = self.container_platform
        cp.image = path
        cp.command = 'sh /rfm_workdir/likwid_probe.sh'
        cp.join = False
        # the stage directory first, then the files bound into its stand-ins
        cp.mount_stagedir = None
        site = [tuple(b.split(':', 1)) if ':' in b else (b, b) for b in extras.get('binds', [])]
        cp.mount_points = [(self.stagedir, '/rfm_workdir')] + self._binds + site
        cp.env_vars = {**env, 'HPCVAL_LIKWID_ROOT': MOUNT,
                       'HPCVAL_LIKWID_LUA': os.path.basename(self._install.interpreter),
                       'HPCVAL_LIKWID_PINLIB': os.path.basename(self._install.pin_lib)}

    @run_before('run')
    def write_probe(self):
        # one process, started here: no MPI launcher (mpirun would bind it to one core)
        self.job.launcher = getlauncher('local')()
        for name, text in (('likwid_probe.sh', PROBE_SH), ('likwid_threads.py', THREADS_PY)):
            with open(os.path.join(self.stagedir, name), 'w') as fp:
                fp.write(text)
        if self.runtime == 'bare':
            return
        for src, dst in self._binds:
            stand_in = os.path.join(self.stagedir, STAGE_ROOT, os.path.relpath(dst, MOUNT))
            if os.path.isdir(src):
                os.makedirs(stand_in, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(stand_in), exist_ok=True)
                open(stand_in, 'a').close()

    # ------------------------------------------------------------------ reading the outputs

    def _out(self, name):
        try:
            with open(os.path.join(self.stagedir, f'likwid_{name}.out')) as fp:
                return fp.read()
        except OSError:
            return ''

    @staticmethod
    def _rc(text, name):
        m = re.search(rf'^# likwid {name} rc=(\d+)$', text, re.M)
        return int(m.group(1)) if m else None

    def _problems(self):
        text = self._stdout_text()
        problems = []
        rcs = {n: self._rc(text, n) for n in ('host_topology', 'version', 'topology', 'pin_domains',
                                              'pin_threads', 'perfctr')}
        where = 'in the container' if self.runtime == 'charliecloud' else 'on the host'
        for name in ('host_topology', 'version', 'topology', 'pin_domains', 'pin_threads'):
            if rcs[name] != 0:
                tail = ' | '.join(likwid.strip_ansi(self._out(name)).strip().splitlines()[-3:])
                problems.append(f'likwid {name} {"did not run" if rcs[name] is None else f"exit {rcs[name]}"} '
                                f'{where if name != "host_topology" else "on the host"}: {tail}')
        try:
            self.likwid_version_run = likwid.parse_version(self._out('version'))
        except ValueError as err:
            problems.append(f'likwid-topology -v {where}: {err}')
        host = run = None
        try:
            host = likwid.parse_topology(self._out('host_topology'))
            self.topology_host = host.summary()
        except ValueError as err:
            problems.append(f"the host's likwid-topology: {err}")
        try:
            run = likwid.parse_topology(self._out('topology'))
            self.topology_run = run.summary()
        except ValueError as err:
            problems.append(f'likwid-topology {where}: {err}')
        names = ('reference' if self.reference_topology else 'host',
                 'container' if self.runtime == 'charliecloud' else 'bare')
        if host and run:
            diff = likwid.compare(host, run, names)
            self.topology_diff = '; '.join(diff)
            if diff:
                problems.append(f'likwid-topology {where} differs from the {names[0]}\'s: {self.topology_diff}')
        try:
            doms = likwid.parse_pin_domains(self._out('pin_domains'))
            self.pin_domains = ' '.join(f'{d}:{",".join(map(str, c))}' for d, c in doms.items())
            if host and doms.get('N') != tuple(h[0] for h in host.hwthreads if h[5]):
                problems.append(f'likwid-pin -p {where}: node domain N {doms.get("N")} is not the host\'s '
                                f'hardware threads {tuple(h[0] for h in host.hwthreads if h[5])}')
        except ValueError as err:
            problems.append(f'likwid-pin -p {where}: {err}')
        try:
            landed, _ = likwid.parse_pin_probe(self._out('pin_threads'))
            cpus = [int(c) for c in self.pin_cpus.split(',')]
            expected = likwid.expected_landing(cpus, max(len(cpus) - 1, 1))
            self.pin_landed, self.pin_expected = likwid.landing_text(landed), likwid.landing_text(expected)
            if landed != expected:
                problems.append(f'likwid-pin -c {self.pin_cpus} {where}: threads landed on '
                                f'{self.pin_landed}, expected {self.pin_expected}')
        except ValueError as err:
            problems.append(f'likwid-pin -c {self.pin_cpus} {where}: {err}')
        if self.runtime == 'charliecloud':
            m = re.search(r'^# likwid bind mounts seen: (\d+)$', text, re.M)
            seen = int(m.group(1)) if m else None
            if seen != len(self._binds):
                problems.append(f'the container saw {"no" if seen is None else seen} bind mounts under '
                                f'{MOUNT}, {len(self._binds)} were asked for')
        # counters: recorded, never a reason to fail on their own
        listing = likwid.strip_ansi(self._out('perfctr_groups')).strip()
        groups = likwid.perfctr_groups(listing)
        self.perfctr_groups = f'{len(groups)} groups' if groups else (listing.splitlines() or ['none listed'])[-1]
        group = re.search(r'^# likwid perfctr group: (\S+)$', text, re.M)
        rc = rcs['perfctr']
        self.perfctr = likwid.perfctr_status(self._out('perfctr'), -1 if rc is None else rc,
                                             group.group(1) if group else self.perf_group)
        same = f"as the {names[0]}'s" if host and run and not self.topology_diff else 'differs'
        self.resolved = (f'likwid {self.likwid_version_run or "?"} from {self.likwid_where}: topology {same} '
                         f'({self.topology_run or "none"}); pinned {self.pin_landed or "nothing"}; '
                         f'perfctr {self.perfctr}')
        return problems

    @sanity_function
    def validate(self):
        try:
            problems = self._problems()
        except OSError as err:
            return sn.assert_true(False, msg=f'no probe output: {err}')
        return assert_no_problems(problems, f'runtime={self.runtime}')

    @performance_function('count')
    def mismatches(self):
        '''Facts on which the tools where they ran disagree with the host's own topology.'''
        return len([d for d in self.topology_diff.split('; ') if d])
