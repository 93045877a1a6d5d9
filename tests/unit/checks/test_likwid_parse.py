"""checks/common/likwid.py against real LIKWID 5.2.2 output captured on this kind of machine.

Where each sample in tests/data/likwid/ comes from: tests/data/likwid/README.md.
"""
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from common import likwid

DATA = Path(__file__).resolve().parents[2] / 'data' / 'likwid'


def sample(name):
    return (DATA / name).read_text()


# ----------------------------------------------------------------------------- likwid-topology

def test_topology_of_the_2_core_vm():
    t = likwid.parse_topology(sample('host_topology_c.txt'))
    assert (t.cpu_name, t.cpu_type) == ('AMD EPYC', 'nil')
    assert (t.sockets, t.cores_per_socket, t.threads_per_core) == (1, 2, 1)
    assert t.hwthreads == [(0, 0, 0, 0, 0, True), (1, 0, 1, 0, 0, True)]
    l1, l2, l3 = t.caches
    assert l1 == likwid.Cache(1, 32 * 1024, '32 kB', 'Data cache', 1, ((0,), (1,)))
    assert (l2.level, l2.size, l2.type, l2.shared_by) == (2, 1024 ** 2, 'Unified cache', 1)
    assert (l3.size, l3.shared_by, l3.groups) == (32 * 1024 ** 2, 2, ((0, 1),))
    assert t.numa == {0: (0, 1)}
    assert t.summary() == ('1 socket x 2 cores x 1 thread; L1 32 kB/1t, L2 1 MB/1t, L3 32 MB/2t; '
                           '1 NUMA domain')


def test_topology_without_cache_details():
    '''Plain likwid-topology: sizes and groups, no type or sharing.'''
    t = likwid.parse_topology(sample('host_topology.txt'))
    assert [(c.level, c.size, c.type, c.shared_by) for c in t.caches] == [
        (1, 32768, '', 0), (2, 1048576, '', 0), (3, 33554432, '', 0)]
    assert t.caches[2].groups == ((0, 1),)
    assert len(t.hwthreads) == 2 and t.numa == {0: (0, 1)}


def test_same_machine_compares_equal_and_free_memory_is_ignored():
    text = sample('host_topology_c.txt')
    other = re.sub(r'^Free memory:.*$', 'Free memory:\t\t1.0 MB', text, flags=re.M)
    assert other != text
    assert likwid.compare(likwid.parse_topology(text), likwid.parse_topology(other)) == []


def test_container_topology_matches_the_host():
    '''Captured by the real check: the host's likwid-topology run inside the openmpi image.'''
    host = likwid.parse_topology(sample('host_topology_c.txt'))
    ct = likwid.parse_topology(sample('container_topology_c.txt'))
    assert likwid.compare(host, ct) == []


def test_a_difference_is_named_with_both_values():
    text = sample('host_topology_c.txt')
    changed = (text.replace('Cores per socket:\t2', 'Cores per socket:\t4')
               .replace('Size:\t\t\t32 MB', 'Size:\t\t\t16 MB'))
    diff = likwid.compare(likwid.parse_topology(text), likwid.parse_topology(changed))
    assert diff == ['cores_per_socket: host 2, container 4', 'L3 size: host 33554432, container 16777216']


def test_tab_separated_table_without_die_column_and_smt():
    '''The HWThread table of LIKWID 4/5.0 (tabs, no Die column) -- a hand-made excerpt in that
    layout, with two threads per core.'''
    text = ('CPU name:\tIntel(R) Xeon(R) test\nCPU type:\tIntel Xeon test\n'
            'Sockets:\t\t1\nCores per socket:\t2\nThreads per core:\t2\n' + '-' * 80 + '\n'
            'HWThread\tThread\t\tCore\t\tSocket\t\tAvailable\n'
            '0\t\t0\t\t0\t\t0\t\t*\n1\t\t0\t\t1\t\t0\t\t*\n2\t\t1\t\t0\t\t0\t\t*\n3\t\t1\t\t1\t\t0\t\t\n'
            + '-' * 80 + '\nSocket 0:\t\t( 0 2 1 3 )\n')
    t = likwid.parse_topology(text)
    assert t.hwthreads == [(0, 0, 0, None, 0, True), (1, 0, 1, None, 0, True),
                           (2, 1, 0, None, 0, True), (3, 1, 1, None, 0, False)]
    assert t.facts()['hwthread_map'] == '0:t0c0s0 1:t0c1s0 2:t1c0s0 3:t1c1s0(unavailable)'


@pytest.mark.parametrize('text', ['', 'lua5.3: cannot open /usr/bin/likwid-topology\n',
                                  'CPU name:\tx\nSockets:\t\t1\n'])
def test_not_topology_output_is_refused(text):
    with pytest.raises(ValueError, match='not likwid-topology output'):
        likwid.parse_topology(text)


def test_cache_sizes():
    assert likwid.parse_size('32 kB') == 32768
    assert likwid.parse_size('1 MB') == 1048576
    assert likwid.parse_size('1.5 MB') == 1572864
    with pytest.raises(ValueError):
        likwid.parse_size('large')


# ----------------------------------------------------------------------------- likwid-pin

def test_pin_domains():
    assert likwid.parse_pin_domains(sample('host_pin_p.txt')) == {
        'N': (0, 1), 'S0': (0, 1), 'D0': (0, 1), 'C0': (0, 1), 'M0': (0, 1)}
    with pytest.raises(ValueError):
        likwid.parse_pin_domains('likwid-pin: error\n')


def test_pin_probe_with_the_wrappers_colours():
    landed, wrapper = likwid.parse_pin_probe(sample('host_pin_threads.txt'))
    assert landed == {'thread1': (1,), 'main': (0,)}
    assert wrapper == [(1, 'OK')]
    assert landed == likwid.expected_landing([0, 1], 1)
    assert likwid.landing_text(landed) == 'main=0,thread1=1'


def test_pin_probe_in_the_container_says_what_ld_so_ignored():
    '''The host path of the pinning library is not in the image: ld.so skips it, the bound copy pins.'''
    text = sample('container_pin_threads.txt')
    assert 'cannot be preloaded' in text
    landed, wrapper = likwid.parse_pin_probe(text)
    assert landed == {'main': (0,), 'thread1': (1,)} and wrapper == [(1, 'OK')]


def test_expected_landing_round_robin():
    assert likwid.expected_landing([2, 5, 7], 2) == {'main': (2,), 'thread1': (5,), 'thread2': (7,)}
    assert likwid.expected_landing([3], 1) == {'main': (3,), 'thread1': (3,)}
    with pytest.raises(ValueError):
        likwid.parse_pin_probe('main [0, 1]\n')


# ----------------------------------------------------------------------------- versions, perfctr

def test_version():
    assert likwid.parse_version(sample('host_version.txt')) == '5.2.2'
    with pytest.raises(ValueError):
        likwid.parse_version('No such file')


def test_perfctr_on_this_vm_is_unavailable_in_the_tools_own_words():
    status = likwid.perfctr_status(sample('host_perfctr_flops_dp.txt'), 1, 'FLOPS_DP')
    assert status == ('unavailable: Unsupported AMD Zen Processor; Unsupported AMD Zen3 Processor; '
                      'Cannot get access to MSRs. Please check permissions to the MSRs')
    assert likwid.perfctr_groups(sample('host_perfctr_a.txt')) == []


def test_perfctr_in_the_container():
    status = likwid.perfctr_status(sample('container_perfctr_flops_dp.txt'), 1, 'FLOPS_DP')
    assert status.startswith('unavailable: ') and 'ld.so' not in status


def test_perfctr_silent_failure_and_long_reason():
    assert likwid.perfctr_status('', 1) == 'unavailable: exit status 1, no message'
    long = likwid.perfctr_status('x' * 1000, 1)
    assert len(long) == len('unavailable: ') + 400 and long.endswith('...')


def test_perfctr_event_table_counts_as_available():
    '''A hand-made excerpt in likwid-perfctr 5's table layout (no counters on this machine to
    capture one from): the status says counters were read and carries no value.'''
    text = ('Group 1: FLOPS_DP\n'
            '+-------------------+---------+------------+\n'
            '|       Event       | Counter | HWThread 0 |\n'
            '+-------------------+---------+------------+\n'
            '| INSTR_RETIRED_ANY |  FIXC0  |     123456 |\n'
            '| CPU_CLK_UNHALTED_CORE | FIXC1 |  234567 |\n'
            '+-------------------+---------+------------+\n')
    status = likwid.perfctr_status(text, 0, 'FLOPS_DP')
    assert status == 'available: group FLOPS_DP read, 2 event rows'
    assert '123456' not in status
    assert likwid.perfctr_status(text, 1).startswith('unavailable')


def test_perfctr_group_listing():
    text = (' Group name\tDescription\n' + '-' * 80 + '\n'
            '    BRANCH\tBranch prediction miss rate/ratio\n  FLOPS_DP\tDouble Precision MFLOP/s\n')
    assert likwid.perfctr_groups(text) == ['BRANCH', 'FLOPS_DP']


# ----------------------------------------------------------------------------- the installation

def _fake_install(root):
    '''A LIKWID tree laid out as Debian's, under ROOT, with the real scripts' path lines.'''
    for d in ('bin', 'lib', 'share/lua', 'share/likwid/perfgroups/zen3'):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / 'bin/lua5.3').write_text('')
    for tool in likwid.TOOLS:
        (root / 'bin' / tool).write_text(f'#!{root}/bin/lua5.3\n--[[ a LIKWID tool ]]\n'
                                         f"package.path = '{root}/share/lua/?.lua;' .. package.path\n"
                                         'local likwid = require("likwid")\n')
    (root / 'lib/liblikwid.so.5.2').write_text('')
    (root / 'lib/liblikwid.so').symlink_to('liblikwid.so.5.2')
    (root / 'lib/liblikwidpin.so.5.2').write_text('')
    (root / 'share/lua/likwid.lua').write_text(
        'local likwid = {}\n'
        f"package.cpath = '{root}/lib/?.so;' .. package.cpath\n"
        'require("liblikwid")\n'
        f'likwid.groupfolder = "{root}/share/likwid/perfgroups"\n'
        'likwid.version = 5\nlikwid.release = 2\nlikwid.minor = 2\n'
        f'likwid.pinlibpath = "{root}/lib/liblikwidpin.so.5.2"\n')


def test_find_install_reads_the_installation_and_binds_beyond_glibc(tmp_path):
    _fake_install(tmp_path)
    which = lambda name, path=None: str(tmp_path / 'bin' / name) if name in likwid.TOOLS else None  # noqa: E731
    ldd_text = sample('host_ldd.txt')
    inst = likwid.find_install(which=which, run=lambda *a, **k: SimpleNamespace(stdout=ldd_text))
    assert inst.version == '5.2.2'
    assert inst.interpreter == f'{tmp_path}/bin/lua5.3'
    assert inst.lua_lib == ('liblikwid.so', f'{tmp_path}/lib/liblikwid.so.5.2')
    # the real ldd output of lua5.3, liblikwid and liblikwidpin: glibc left to the image
    assert sorted(inst.libs) == ['libhwloc.so.15', 'liblua5.3.so.0', 'libreadline.so.8', 'libtinfo.so.6',
                                 'libudev.so.1']
    binds = dict((dst, src) for src, dst in inst.binds('/m'))
    assert binds['/m/bin/lua5.3'] == f'{tmp_path}/bin/lua5.3'
    assert binds['/m/bin/likwid-pin'] == f'{tmp_path}/bin/likwid-pin'
    assert binds['/m/lib/liblikwid.so'] == f'{tmp_path}/lib/liblikwid.so.5.2'
    assert binds['/m/lib/liblikwidpin.so.5.2'] == f'{tmp_path}/lib/liblikwidpin.so.5.2'
    assert binds['/m/share/lua/likwid.lua'] == f'{tmp_path}/share/lua/likwid.lua'
    assert binds['/m/home/.likwid/groups'] == f'{tmp_path}/share/likwid/perfgroups'
    assert binds['/m/lib/liblua5.3.so.0'] == os.path.realpath('/lib/x86_64-linux-gnu/liblua5.3.so.0')
    assert not [d for d in binds if 'libc.so' in d or 'libm.so' in d or 'ld-linux' in d]


def test_find_install_says_what_is_missing(tmp_path):
    with pytest.raises(likwid.NotInstalled, match='likwid-topology not found on PATH'):
        likwid.find_install(which=lambda name, path=None: None)
    _fake_install(tmp_path)
    (tmp_path / 'share/lua/likwid.lua').unlink()
    which = lambda name, path=None: str(tmp_path / 'bin' / name) if name in likwid.TOOLS else None  # noqa: E731
    with pytest.raises(likwid.NotInstalled, match="Lua module 'likwid'"):
        likwid.find_install(which=which)
