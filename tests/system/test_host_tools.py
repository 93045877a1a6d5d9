"""The host's LIKWID bound into the openmpi image (checks/host_tools.py): its topology,
pinning and counters inside the container against the host's own, and bare."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hpcval_cli import IMAGES, hpcval, run_cases as cases

pytestmark = pytest.mark.skipif(not shutil.which('likwid-topology'),
                                reason='likwid missing: `make setup` as root installs it (Debian likwid)')


@pytest.fixture(scope='module')
def host_tools_run(openmpi_image, tmp_path_factory):
    runs = tmp_path_factory.mktemp('runs')
    proc = hpcval('run', 'host_tools', '--', '-P', 'runtime=bare,charliecloud', runs=runs, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return runs / 'adhoc' / 'latest'


def test_host_likwid_in_the_image_sees_the_hosts_machine(host_tools_run, openmpi_image):
    got = {tc['runtime']: tc for tc in cases(host_tools_run) if tc['name'].startswith('HostToolsInContainer')}
    assert set(got) == {'bare', 'charliecloud'}
    for runtime, tc in got.items():
        assert tc['result'] == 'pass', (runtime, tc['fail_reason'])
        assert tc['role'] == 'environment'
        assert tc['likwid_version'] == tc['likwid_version_run'] != ''
        assert tc['topology_host'] == tc['topology_run'] and tc['topology_diff'] == ''
        assert re.match(r'\d+ sockets? x \d+ cores? x \d+ threads?; L1 ', tc['topology_run'])
        assert tc['pin_landed'] == tc['pin_expected'] and tc['pin_landed'].startswith('main=')
        assert tc['pin_domains'].startswith('N:')
        # counters: the tool's own answer, whatever it is, never a made-up value
        assert re.match(r'(un)?available: \S', tc['perfctr'])
        if not os.path.exists('/dev/cpu/0/msr'):
            assert tc['perfctr'].startswith('unavailable: ')
        assert [v[0] for k, v in tc['perfvalues'].items() if k.endswith(':mismatches')] == [0]
    ct = got['charliecloud']
    assert ct['image'].startswith('openmpi') and ct['image_digest'] == openmpi_image['formats']['dir']['digest']
    assert ct['likwid_where'] == '/rfm_workdir/host-likwid'
    binds = dict(b.split(':') for b in ct['bound_paths'].split(','))
    assert binds[os.path.realpath(shutil.which('likwid-topology'))] == '/rfm_workdir/host-likwid/bin/likwid-topology'
    assert '/rfm_workdir/host-likwid/lib/liblikwid.so' in binds.values()
    assert '/rfm_workdir/host-likwid/share/lua/likwid.lua' in binds.values()
    assert not any(re.search(r'/lib(c|m)\.so|ld-linux', src) for src in binds)     # glibc is the image's
    assert got['bare']['bound_paths'] == '' and got['bare']['image'] == ''


def test_the_job_script_binds_the_stage_first_then_each_host_file(host_tools_run):
    [line] = [ln for s in Path(host_tools_run, 'output').rglob('rfm_job.sh')
              for ln in s.read_text().splitlines() if 'ch-run' in ln]
    assert not line.startswith('mpirun')                      # one process, no launcher binding it
    binds = re.findall(r' -b (\S+):(\S+)', line)
    assert binds[0][1] == '/rfm_workdir'
    assert ('/usr/bin/lua5.3', '/rfm_workdir/host-likwid/bin/lua5.3') in binds
    assert all(dst.startswith('/rfm_workdir/host-likwid/') for _, dst in binds[1:])
    assert str(IMAGES / 'openmpi') in line and line.endswith('sh /rfm_workdir/likwid_probe.sh')


def test_a_topology_that_differs_from_the_reference_fails_naming_it(tmp_path):
    '''bare, against a saved reference with two more cores and half the L3: sanity names both.'''
    text = subprocess.run(['likwid-topology', '-c'], capture_output=True, text=True, check=True).stdout
    ref = tmp_path / 'reference.txt'
    ref.write_text(re.sub(r'^Cores per socket:\t(\d+)$', lambda m: f'Cores per socket:\t{int(m.group(1)) + 2}',
                          text, flags=re.M))
    proc = hpcval('run', 'host_tools', '--', '-P', 'runtime=bare', '-S', f'reference_topology={ref}',
                  runs=tmp_path / 'runs', timeout=300)
    assert proc.returncode == 1, proc.stdout[-3000:]
    [tc] = [tc for tc in cases(tmp_path / 'runs' / 'adhoc' / 'latest') if tc['name'].startswith('HostTools')]
    assert tc['result'] == 'fail' and tc['fail_phase'] == 'sanity'
    assert 'likwid-topology on the host differs from the reference' in tc['fail_reason']
    assert re.search(r'cores_per_socket: reference \d+, bare \d+', tc['fail_reason'])
