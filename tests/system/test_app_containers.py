"""A user's application in its image: Debian's LAMMPS in the lammps image
(containers/lammps/Dockerfile), with the host MPI injected and with the
image's own, each proven from the library file the running program mapped;
and an mpi=host case whose program falls back to the image's MPI fails."""
import os
import shutil

import pytest

from hpcval_cli import ROOT, hpcval, image_index, run_cases

LJ = ROOT / 'campaigns' / 'inputs' / 'lammps' / 'in.lj'


@pytest.fixture(scope='module')
def lammps_image():
    '''The lammps image, built (or found up to date) by `hpcval image build`.'''
    if not shutil.which('ch-run') or not shutil.which('debootstrap', path='/usr/sbin:/sbin:/usr/bin'):
        pytest.skip('Charliecloud or debootstrap missing: `make setup` as root installs them')
    if os.geteuid() != 0:
        pytest.skip('building the base image needs root (debootstrap)')
    proc = hpcval('image', 'build', 'lammps', timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return image_index()['lammps']


def _campaign(tmp_path, name, command_prefix='', mpi='[host, bundled]'):
    path = tmp_path / f'{name}.yaml'
    path.write_text(f'''
system: local
checks: [app]
params: {{runtime: charliecloud, mpi: {mpi}}}
app:
  name: {name}
  image: lammps
  command: "{command_prefix}lmp -in in.lj -var scale {{scale}} -var len 8 -var steps 100 -log none -nocite"
  inputs: [{LJ}]
  ranks_per_node: 2
  fom: {{name: tau_per_day, regex: '^Performance: ([0-9.eE+-]+) tau/day', unit: tau/day, better: higher}}
  sanity: '^Loop time of [0-9.]+ on 2 procs'
''')
    return path


def test_lammps_in_its_image_loads_the_mpi_each_variant_asked_for(lammps_image, tmp_path):
    proc = hpcval('run', '--campaign', _campaign(tmp_path, 'lammps_ch'), runs=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    got = {tc['mpi']: tc for tc in run_cases(tmp_path / 'lammps_ch' / 'latest')}
    assert set(got) == {'host', 'bundled'}
    for tc in got.values():
        assert tc['result'] == 'pass', tc['fail_reason']
        assert tc['image'] == 'lammps:current' and tc['image_digest'] == lammps_image['formats']['dir']['digest']
        assert 'Open MPI' in tc['mpi_library'] and tc['ranks'] == 2
    # every rank's library, from the running program's memory map
    assert all(p.startswith('/opt/hostmpi/lib/libmpi.so') for p in got['host']['mpi_library_path'].split(','))
    assert all(p.startswith('/usr/lib/') for p in got['bundled']['mpi_library_path'].split(','))


def test_a_program_that_falls_back_to_the_image_mpi_fails_its_host_case(lammps_image, tmp_path):
    path = _campaign(tmp_path, 'lammps_fallback', command_prefix='env LD_LIBRARY_PATH= ', mpi='host')
    proc = hpcval('run', '--campaign', path, runs=tmp_path, timeout=900)
    assert proc.returncode == 1, proc.stdout[-4000:]
    [tc] = run_cases(tmp_path / 'lammps_fallback' / 'latest')
    assert tc['result'] == 'fail' and tc['fail_phase'] == 'sanity'
    assert 'mpi=host asked for the injected host MPI under /opt/hostmpi, but the program loaded /usr/lib/' \
        in tc['fail_reason']
