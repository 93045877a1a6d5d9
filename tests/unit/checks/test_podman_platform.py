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


def _check(tmp_path, runtime, subcommand):
    from types import SimpleNamespace

    from common.containers import ContainerMixin
    cp = _cp(command_name='podman-hpc' if runtime == 'podman-hpc' else 'podman', subcommand=subcommand,
             command='lmp -in in.lj -var steps 200')
    return SimpleNamespace(runtime=runtime, container_platform=cp, stagedir=str(tmp_path), keep_files=[],
                           env_vars={'OMP_NUM_THREADS': '1', 'PATH': '/x:$PATH', 'SQUASH_DIR': '/s',
                                     'PODMANHPC_CONFIG_FILE': '/c', 'CONTAINERS_CONF': '/cc'},
                           _runtime_side=ContainerMixin._runtime_side), ContainerMixin.pass_check_env


def test_the_checks_variables_are_passed_but_not_podmans_own(tmp_path):
    check, hook = _check(tmp_path, 'podman-hpc', 'run')
    hook(check)
    passed = check.container_platform.pass_env
    assert 'OMP_NUM_THREADS' in passed and 'OMPI_*' in passed
    # the image keeps its own PATH; podman-hpc's and podman's settings are not the program's
    assert not {'PATH', 'SQUASH_DIR', 'PODMANHPC_CONFIG_FILE', 'CONTAINERS_CONF'} & set(passed)
    assert check.container_platform.command == 'lmp -in in.lj -var steps 200'


def test_shared_run_gets_the_command_from_a_script(tmp_path):
    '''podman-hpc 1.2.2's shared-run would read "-in" as podman's "-i n".'''
    check, hook = _check(tmp_path, 'podman-hpc', 'shared-run')
    hook(check)
    assert check.container_platform.command == 'sh /rfm_workdir/hpcval_rank.sh'
    assert (tmp_path / 'hpcval_rank.sh').read_text().splitlines()[-1] == 'exec lmp -in in.lj -var steps 200'
    assert check.keep_files == ['hpcval_rank.sh']
    words = shlex.split(check.container_platform.launch_command(str(tmp_path)))
    assert words[:2] == ['podman-hpc', 'shared-run'] and '--rm' not in words
    assert not [w for w in words[words.index('localhost/hpcval/openmpi:current'):] if w.startswith('-')]
