"""LIKWID from the host, inside a container: find its files, read its output.

``checks/host_tools.py`` runs the host's LIKWID tools (``likwid-topology``,
``likwid-pin``, ``likwid-perfctr``) inside a Charliecloud image by binding
the host's installation in, as the LRZ talk profiled a containerized code
with the host's LIKWID.  This module has the parts that need no ReFrame:

- ``find_install``: the files of the host's installation, read from the
  installation itself (the tools are Lua scripts: their interpreter from the
  ``#!`` line, the Lua module from the script's ``package.path``, the C
  library, the pinning library and the performance-group folder from the
  module), and the shared libraries they need beyond glibc (``ldd``);
- ``HostInstall.binds``: where each of those files is bound in the container;
- parsers of ``likwid-topology``, ``likwid-pin -p``, the pinning probe and
  ``likwid-perfctr`` output, and the comparison of two topologies.

Parsers raise ``ValueError`` on text that is not the tool's output; nothing
here ever makes up a number the tool did not print.
"""
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

#: the tools the check runs; likwid-accessD is what likwid-perfctr starts for MSR access
TOOLS = ('likwid-topology', 'likwid-pin', 'likwid-perfctr')
ACCESS_DAEMON = 'likwid-accessD'
#: glibc's own libraries: the image's are used (a host glibc loaded into an image would
#: mix two C libraries); every other library the tools need comes from the host
GLIBC = re.compile(r'^(linux-vdso|linux-gate|ld-linux[\w.-]*|libc|libm|libdl|libpthread|librt|libresolv|'
                   r'libutil|libanl|libmvec|libnsl|libcrypt)\.so')

_ANSI = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')


class NotInstalled(Exception):
    pass


def strip_ansi(text):
    return _ANSI.sub('', text)


# --------------------------------------------------------------------------- the installation

@dataclass
class HostInstall:
    '''The files of the host's LIKWID that the tools need, as host paths.'''
    version: str
    interpreter: str                       # /usr/bin/lua5.3
    tools: dict                            # likwid-topology -> /usr/bin/likwid-topology
    lua_module: str                        # /usr/share/lua/likwid.lua
    lua_lib: tuple                         # ('liblikwid.so', '/usr/lib/.../liblikwid.so.5.2')
    pin_lib: str                           # /usr/lib/.../liblikwidpin.so.5.2 (as the module names it)
    group_folder: str                      # /usr/share/likwid/perfgroups
    libs: dict = field(default_factory=dict)   # soname -> host file, beyond glibc
    access_daemon: str = ''

    def binds(self, root):
        '''[(host path, container path)]: each file bound at ROOT/{bin,lib,share/lua}, the
        groups at ROOT/home/.likwid/groups (where LIKWID looks for a user's own groups:
        its built-in group folder is a host path the image does not have).'''
        out = [(self.interpreter, f'{root}/bin/{os.path.basename(self.interpreter)}')]
        out += [(path, f'{root}/bin/{name}') for name, path in self.tools.items()]
        if self.access_daemon:
            out.append((self.access_daemon, f'{root}/bin/{ACCESS_DAEMON}'))
        out.append((self.lua_module, f'{root}/share/lua/{os.path.basename(self.lua_module)}'))
        name, path = self.lua_lib
        out.append((path, f'{root}/lib/{name}'))
        out.append((self.pin_lib, f'{root}/lib/{os.path.basename(self.pin_lib)}'))
        out += [(path, f'{root}/lib/{soname}') for soname, path in sorted(self.libs.items())]
        if self.group_folder and os.path.isdir(self.group_folder):
            out.append((self.group_folder, f'{root}/home/.likwid/groups'))
        # a bind mounts the file a link points to: bind the real file under the link's name
        return [(os.path.realpath(src), dst) for src, dst in out]


def _shebang(path):
    with open(path, 'rb') as fp:
        first = fp.readline().decode(errors='replace').strip()
    if not first.startswith('#!'):
        raise NotInstalled(f'{path} is not a script (no #! line): not the LIKWID this check knows')
    words = first[2:].split()
    if os.path.basename(words[0]) == 'env' and len(words) > 1:
        found = shutil.which(words[1])
        if not found:
            raise NotInstalled(f'{path} wants {words[1]}, which is not on PATH')
        return found
    return words[0]


def _first_existing(templates, name):
    for tmpl in templates:
        candidate = tmpl.replace('?', name)
        if '?' in tmpl and os.path.exists(candidate):
            return candidate
    return None


def _lua_paths(text, var):
    '''The search templates a Lua file prepends to package.path / package.cpath.'''
    return [t for m in re.finditer(rf"package\.{var}\s*=\s*['\"]([^'\"]*)['\"]", text) for t in m.group(1).split(';')
            if t]


def ldd(paths, run=subprocess.run):
    '''{soname: host file} of every library the files load, glibc left out.'''
    proc = run(['ldd', *paths], capture_output=True, text=True, timeout=60)
    found = {}
    for name, path in re.findall(r'^\s*(\S+)\s+=>\s+(/\S+)\s+\(', proc.stdout, re.M):
        if not GLIBC.match(name):
            found[name] = path
    return found


def find_install(which=shutil.which, run=subprocess.run):
    '''The host's LIKWID, read from its own files; NotInstalled says what is missing.'''
    tools = {}
    for tool in TOOLS:
        path = which(tool)
        if not path:
            raise NotInstalled(f'{tool} not found on PATH: LIKWID is not installed on this host '
                               '(Debian: apt-get install likwid)')
        tools[tool] = os.path.realpath(path)
    interpreter = _shebang(tools['likwid-topology'])
    with open(tools['likwid-topology']) as fp:
        script = fp.read()
    module = _first_existing(_lua_paths(script, 'path'), 'likwid')
    if not module:
        raise NotInstalled(f"the Lua module 'likwid' named by {tools['likwid-topology']}'s package.path "
                           'does not exist')
    with open(module) as fp:
        mod = fp.read()
    m = re.search(r'require\s*\(?\s*["\'](\w+)["\']', mod)
    libname = m.group(1) if m else 'liblikwid'
    lib = _first_existing(_lua_paths(mod, 'cpath'), libname)
    if not lib:
        raise NotInstalled(f'{module} loads {libname}, which is not where its package.cpath says')
    version = '.'.join(re.search(rf'likwid\.{k}\s*=\s*(\d+)', mod).group(1) if re.search(
        rf'likwid\.{k}\s*=\s*(\d+)', mod) else '?' for k in ('version', 'release', 'minor'))
    pin = re.search(r'likwid\.pinlibpath\s*=\s*"([^"]+)"', mod)
    groups = re.search(r'likwid\.groupfolder\s*=\s*"([^"]+)"', mod)
    if not pin or not os.path.exists(pin.group(1)):
        raise NotInstalled(f'{module} names no pinning library that exists (likwid.pinlibpath)')
    daemon = which(ACCESS_DAEMON, path=os.pathsep.join([os.environ.get('PATH', ''), '/usr/sbin', '/sbin']))
    libs = ldd([interpreter, lib, pin.group(1)], run=run)
    return HostInstall(version=version, interpreter=interpreter, tools=tools, lua_module=module,
                       lua_lib=(f'{libname}.so', os.path.realpath(lib)), pin_lib=pin.group(1),
                       group_folder=groups.group(1) if groups else '', libs=libs,
                       access_daemon=os.path.realpath(daemon) if daemon else '')


# --------------------------------------------------------------------------- likwid-topology

@dataclass(frozen=True)
class Cache:
    level: int
    size: int                 # bytes
    size_text: str            # as printed: "32 kB"
    type: str = ''            # "Data cache", "Unified cache" (-c only)
    shared_by: int = 0        # hardware threads per cache (-c only)
    groups: tuple = ()        # ((0,), (1,)): the hardware threads of each cache


@dataclass
class Topology:
    cpu_name: str
    cpu_type: str
    sockets: int
    cores_per_socket: int
    threads_per_core: int
    #: (hwthread, thread, core, die or None, socket, available)
    hwthreads: list = field(default_factory=list)
    caches: list = field(default_factory=list)
    #: NUMA domain -> its hardware threads
    numa: dict = field(default_factory=dict)

    def summary(self):
        '''One line for the run report: "1 socket x 2 cores x 1 thread; L1 32 kB ..."'''
        s = lambda n, w: f'{n} {w}' + ('' if n == 1 else 's')      # noqa: E731
        caches = ', '.join(f'L{c.level} {c.size_text}' + (f'/{c.shared_by}t' if c.shared_by else '')
                           for c in self.caches)
        return (f'{s(self.sockets, "socket")} x {s(self.cores_per_socket, "core")} x '
                f'{s(self.threads_per_core, "thread")}; {caches}; {s(len(self.numa), "NUMA domain")}')

    def facts(self):
        '''What two views of one machine must agree on, by name (memory figures left out:
        free memory changes from second to second).'''
        out = {'cpu_name': self.cpu_name, 'sockets': self.sockets, 'cores_per_socket': self.cores_per_socket,
               'threads_per_core': self.threads_per_core, 'hwthreads': len(self.hwthreads),
               'hwthread_map': ' '.join(f'{h}:t{t}c{c}s{s}' + ('' if a else '(unavailable)')
                                        for h, t, c, _, s, a in self.hwthreads),
               'cache_levels': len(self.caches), 'numa_domains': len(self.numa)}
        for c in self.caches:
            key = f'L{c.level}' + ('' if c.type in ('', 'Unified cache') else f' {c.type.split()[0].lower()}')
            out[f'{key} size'] = c.size
            if c.shared_by:
                out[f'{key} shared by threads'] = c.shared_by
            if c.groups:
                out[f'{key} groups'] = len(c.groups)
        for d, cpus in sorted(self.numa.items()):
            out[f'NUMA {d} processors'] = ','.join(map(str, cpus))
        return out


_UNITS = {'b': 1, 'kb': 1024, 'mb': 1024 ** 2, 'gb': 1024 ** 3}


def parse_size(text):
    '''"32 kB" -> 32768 (LIKWID prints binary sizes with decimal-looking units).'''
    m = re.fullmatch(r'\s*([\d.]+)\s*([kKmMgG]?[bB])\s*', text)
    if not m:
        raise ValueError(f'not a cache size: {text!r}')
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def _groups(text):
    return tuple(tuple(int(x) for x in g.split()) for g in re.findall(r'\(([\d\s]*)\)', text))


def _field(block, name):
    m = re.search(rf'^{re.escape(name)}:\s*(.*?)\s*$', block, re.M)
    return m.group(1) if m else None


def parse_topology(text):
    '''``likwid-topology`` (``-c`` adds the cache details) -> Topology.'''
    text = strip_ansi(text)
    head = {}
    for name in ('CPU name', 'CPU type', 'Sockets', 'Cores per socket', 'Threads per core'):
        head[name] = _field(text, name)
    missing = [k for k in ('Sockets', 'Cores per socket', 'Threads per core') if head[k] is None]
    if missing:
        raise ValueError(f'not likwid-topology output: no {", ".join(missing)}')
    topo = Topology(cpu_name=head['CPU name'] or '', cpu_type=head['CPU type'] or '',
                    sockets=int(head['Sockets']), cores_per_socket=int(head['Cores per socket']),
                    threads_per_core=int(head['Threads per core']))
    m = re.search(r'^HWThread\s+(.*)$', text, re.M)
    if m:
        cols = ['HWThread'] + m.group(1).split()
        for line in text[m.end():].splitlines():
            words = line.split()
            if not words or not words[0].isdigit():
                if words and words[0].startswith('---') and topo.hwthreads:
                    break
                continue
            row = dict(zip(cols, words))
            topo.hwthreads.append((int(row['HWThread']), int(row.get('Thread', 0)), int(row.get('Core', 0)),
                                   int(row['Die']) if 'Die' in row else None, int(row.get('Socket', 0)),
                                   row.get('Available') == '*'))
    caches = text.split('Cache Topology', 1)[1].split('NUMA Topology', 1)[0] if 'Cache Topology' in text else ''
    for block in re.split(r'^-{20,}\s*$', caches, flags=re.M):
        level, size = _field(block, 'Level'), _field(block, 'Size')
        if level is None or size is None:
            continue
        shared = _field(block, 'Shared by threads')
        topo.caches.append(Cache(level=int(level), size=parse_size(size), size_text=size,
                                 type=_field(block, 'Type') or '', shared_by=int(shared) if shared else 0,
                                 groups=_groups(_field(block, 'Cache groups') or '')))
    numa = text.split('NUMA Topology', 1)[1] if 'NUMA Topology' in text else ''
    for block in re.split(r'^-{20,}\s*$', numa, flags=re.M):
        dom, procs = _field(block, 'Domain'), _field(block, 'Processors')
        if dom is not None and procs is not None:
            topo.numa[int(dom)] = tuple(x for g in _groups(procs) for x in g)
    return topo


def compare(reference, other, names=('host', 'container')):
    '''["sockets: host 2, container 1", ...]: every fact on which two topologies differ.'''
    a, b = reference.facts(), other.facts()
    return [f'{k}: {names[0]} {a.get(k, "-")}, {names[1]} {b.get(k, "-")}'
            for k in list(a) + [k for k in b if k not in a] if a.get(k) != b.get(k)]


# --------------------------------------------------------------------------- likwid-pin

def parse_pin_domains(text):
    '''``likwid-pin -p`` -> {"N": (0, 1), "S0": (0, 1), ...}.'''
    doms = {name: tuple(int(x) for x in re.findall(r'\d+', cpus))
            for name, cpus in re.findall(r'^Domain (\w+):\s*\n\s*([\d,\s]*?)\s*$', strip_ansi(text), re.M)}
    if not doms:
        raise ValueError('not likwid-pin -p output: no "Domain" lines')
    return doms


#: the probe's own lines (checks/host_tools.py THREADS_PY): "# pinned thread1: 1"
_PINNED = re.compile(r'^# pinned (\w+): ([\d,]*)\s*$', re.M)
#: LIKWID's pthread wrapper: "threadid 1398... -> hwthread 1 - OK"
_WRAPPER = re.compile(r'threadid \d+ -> hwthread (\d+) - (\w+)')


def parse_pin_probe(text):
    '''The pinning probe's report -> ({"main": (0,), "thread1": (1,)}, [(hwthread, "OK"), ...]
    as LIKWID's wrapper reported it).'''
    text = strip_ansi(text)
    landed = {name: tuple(int(x) for x in cpus.split(',') if x) for name, cpus in _PINNED.findall(text)}
    if not landed:
        raise ValueError('the pinning probe printed no "# pinned" line')
    return landed, [(int(h), ok) for h, ok in _WRAPPER.findall(text)]


def expected_landing(cpus, threads):
    '''Where likwid-pin -c CPUS puts the main thread and each thread the program creates:
    the main one on the first CPU, the n-th created one on the (n+1)-th, round robin.'''
    out = {'main': (cpus[0],)}
    for n in range(1, threads + 1):
        out[f'thread{n}'] = (cpus[n % len(cpus)],)
    return out


def landing_text(landed):
    return ','.join(f'{k}={"+".join(map(str, v))}' for k, v in sorted(landed.items(),
                                                                       key=lambda kv: (kv[0] != 'main', kv[0])))


# --------------------------------------------------------------------------- versions, perfctr

def parse_version(text):
    '''"likwid-topology -- Version 5.2.2 (commit: ...)" -> "5.2.2".'''
    m = re.search(r'Version\s+(\d+(?:\.\d+)+)', strip_ansi(text))
    if not m:
        raise ValueError('no "Version X.Y.Z" in the output')
    return m.group(1)


#: the header likwid-perfctr prints before it tries anything
_PERFCTR_HEADER = re.compile(r'^(-+|CPU name:.*|CPU type:.*|CPU clock:.*|CPU stepping:.*)$')
_ERROR_PREFIX = re.compile(r'^ERROR\s*-\s*\[[^\]]*\]\s*')
#: what the measurement prints when counters were read: the event table's header
_EVENT_TABLE = re.compile(r'^\|\s*Event\s*\|\s*Counter\s*\|', re.M)


def perfctr_status(text, rc, group=''):
    '''What ``likwid-perfctr -g GROUP CMD`` said, as a fact for the report:
    "available: ..." when it read counters (its event table is there and it exited 0),
    else "unavailable: <its own words>".  Never a number the tool did not print.'''
    text = strip_ansi(text)
    if rc == 0 and _EVENT_TABLE.search(text):
        events = len(re.findall(r'^\|\s*(?!Event\b)[A-Z][A-Z0-9_:.]+\s*\|\s*(?:PMC|FIXC|PWR|MBOX|CBOX|UPMC|'
                                r'DFC|HWT|TMP|L3|DF|CPU)\w*\s*\|', text, re.M))
        return f'available: group {group or "?"} read, {events} event rows'
    said = []
    for line in text.splitlines():
        line = line.strip()
        if not line or _PERFCTR_HEADER.match(line) or line.startswith('ERROR: ld.so'):
            continue
        line = _ERROR_PREFIX.sub('', line)
        if line not in said:
            said.append(line)
    reason = '; '.join(said) or f'exit status {rc}, no message'
    if len(reason) > 400:
        reason = reason[:397] + '...'
    return f'unavailable: {reason}'


def perfctr_groups(text):
    '''``likwid-perfctr -a`` -> the group names, or [] (e.g. "No groups defined for nil").'''
    text = strip_ansi(text)
    if '----' not in text:
        return []
    body = text.split('----', 1)[1]
    return [ln.split()[0] for ln in body.splitlines()
            if ln.strip() and not ln.strip().startswith('-') and ln.split()[0].isupper()]
