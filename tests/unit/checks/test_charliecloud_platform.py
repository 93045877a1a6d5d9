"""The Charliecloud container platform and the MPI-variant proof."""
from types import SimpleNamespace

import pytest
from reframe.core.containers import ContainerPlatform

from common.containers import Charliecloud, ContainerMixin, ImageNotBuilt, find_image


def test_registered_by_name_like_the_builtin_platforms():
    cp = ContainerPlatform.create('Charliecloud')
    assert isinstance(cp, Charliecloud) and cp.name == 'Charliecloud'


def test_launch_command_binds_stage_applies_env_and_joins():
    cp = Charliecloud()
    cp.image = '/images/openmpi'
    cp.command = '/opt/hpcval/bin/osu_mpi latency'
    cp.mount_points = [('/host/lib', '/opt/hostmpi/lib')]
    cp.env_vars = {'LD_LIBRARY_PATH': '/opt/hostmpi/lib'}
    cmd = cp.launch_command('/stage/t1')
    assert cmd == ("ch-run --set-env --set-env='LD_LIBRARY_PATH=/opt/hostmpi/lib' --join "
                   '-b /host/lib:/opt/hostmpi/lib -b /stage/t1:/rfm_workdir -c /rfm_workdir '
                   '/images/openmpi -- /opt/hpcval/bin/osu_mpi latency')


def test_launch_command_options_can_be_turned_off():
    cp = Charliecloud()
    cp.image, cp.command = '/i', 'env'
    cp.set_image_env, cp.join, cp.private_tmp = False, False, True
    cp.mount_stagedir, cp.workdir = None, None
    assert cp.launch_command('/s') == 'ch-run -t /i -- env'


def _variant(runtime, mpi):
    return SimpleNamespace(runtime=runtime, mpi=mpi, mpi_library_path='')


HOST = '# MPI Library Path: /opt/hostmpi/lib/libmpi.so.40.30.4,/opt/hostmpi/lib/libmpi.so.40.30.4\n'
IMAGE = '# MPI Library Path: /usr/lib/x86_64-linux-gnu/libmpi.so.40.30.4\n'
MIXED = '# MPI Library Path: /opt/hostmpi/lib/libmpi.so.40,/usr/lib/libmpi.so.40\n'


@pytest.mark.parametrize('runtime, mpi, text, ok', [
    ('charliecloud', 'host', HOST, True),
    ('charliecloud', 'host', IMAGE, False),     # injection did not take: silent fallback
    ('charliecloud', 'host', MIXED, False),     # one rank fell back
    ('charliecloud', 'bundled', IMAGE, True),
    ('charliecloud', 'bundled', HOST, False),
    ('bare', 'host', IMAGE, True),
    ('bare', 'host', '# MPI Library: Open MPI\n', False),
])
def test_sanity_demands_the_mpi_the_variant_asked_for(runtime, mpi, text, ok):
    v = _variant(runtime, mpi)
    problems = ContainerMixin.container_problems(v, text)
    assert (problems == []) is ok, problems
    if 'Path' in text:
        assert v.mpi_library_path and ',' not in v.mpi_library_path or text is MIXED


def test_missing_image_names_the_command_that_builds_it(tmp_path):
    with pytest.raises(ImageNotBuilt,
                       match=r'image openmpi:current not built in dir format: run `hpcval image build openmpi`'):
        find_image('openmpi', 'dir', str(tmp_path))
