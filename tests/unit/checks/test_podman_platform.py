"""The Podman container platform: the hybrid-model command line and the runtime map."""
import shlex

import pytest
from reframe.core.containers import ContainerPlatform

from common.containers import PLATFORMS, RUNTIMES, Podman


def _cp(**kw):
    cp = Podman()
    cp.image = 'localhost/hpcval/openmpi:current'
    cp.command = '/opt/hpcval/bin/osu_mpi latency'
    for k, v in kw.items():
        setattr(cp, k, v)
    return cp


def test_registered_by_name_and_every_runtime_has_a_platform():
    cp = ContainerPlatform.create('Podman')
    assert isinstance(cp, Podman) and cp.name == 'Podman'
    assert set(PLATFORMS) == set(RUNTIMES) - {'bare'}
    assert PLATFORMS['podman-hpc'] == PLATFORMS['podman'] == 'Podman'


def test_ranks_share_the_hosts_namespaces_and_get_the_launchers_variables():
    cp = _cp(mount_points=[('/tmp', '/tmp'), ('/stage/hostmpi-lib', '/opt/hostmpi/lib')],
             env_vars={'LD_LIBRARY_PATH': '/opt/hostmpi/lib'})
    words = shlex.split(cp.launch_command('/stage/t1'))
    assert words[:3] == ['podman', 'run', '--rm']
    for flag in ('--network', '--ipc', '--pid'):
        assert words[words.index(flag) + 1] == 'host'
    passed = [words[i + 1] for i, w in enumerate(words) if w == '-e']
    assert {'OMPI_*', 'PMIX_*', 'SLURM_*', 'HPCVAL_*', 'LD_LIBRARY_PATH=/opt/hostmpi/lib'} <= set(passed)
    mounts = [words[i + 1] for i, w in enumerate(words) if w == '-v']
    # the injected MPI read-only, the session directory and the stage read-write
    assert mounts == ['/tmp:/tmp', '/stage/hostmpi-lib:/opt/hostmpi/lib:ro', '/stage/t1:/rfm_workdir']
    assert words[words.index('-w') + 1] == '/rfm_workdir'
    assert words[-3:] == ['localhost/hpcval/openmpi:current', '/opt/hpcval/bin/osu_mpi', 'latency']


def test_patterns_stay_quoted_for_the_job_shell():
    line = _cp().launch_command('/s')
    assert "-e 'OMPI_*'" in line and "-e 'PMIX_*'" in line


@pytest.mark.parametrize('dst, ro', [('/opt/hostmpi', True), ('/opt/hostmpi/plugins', True),
                                     ('/opt/hostmpix', False), ('/scratch', False)])
def test_read_only_is_by_destination_prefix(dst, ro):
    assert _cp()._ro(dst) is ro


def test_podman_hpc_shared_run_keeps_the_container():
    cp = _cp(command_name='podman-hpc', subcommand='shared-run', host_namespaces=False, pass_env=[],
             mount_stagedir=None, workdir=None, options=['--openmpi-pmix'])
    assert cp.launch_command('/s') == ('podman-hpc shared-run --openmpi-pmix '
                                       'localhost/hpcval/openmpi:current /opt/hpcval/bin/osu_mpi latency')
