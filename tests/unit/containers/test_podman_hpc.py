"""podman-hpc's site config, the job environment and the missing-tool errors, without podman."""
import os
import re
from pathlib import Path

import pytest
import yaml

from hpcval.containers import podman, podman_hpc, store
from hpcval.containers.errors import ImageError

#: podman-hpc 1.2.2's template pattern (siteconfig._apply_template)
TEMPLATE = re.compile(r'{{ env\.[A-Za-z0-9]+ }}')
#: the keys podman-hpc 1.2.2 accepts (it refuses the file with any other)
KEYS = {'podman_bin', 'mount_program', 'modules_dir', 'shared_run_exec_args', 'shared_run_command', 'graph_root',
        'run_root', 'additional_stores', 'hooks_dir', 'localid_var', 'tasks_per_node_var', 'ntasks_pattern',
        'config_home', 'mksquashfs_bin', 'wait_timeout', 'wait_poll_interval', 'use_default_args',
        'shared_run_args_template', 'graph_root_template', 'run_root_template', 'additional_stores_template',
        'config_home_template'}


def test_root_is_beside_the_podman_storage(tmp_path):
    folder = tmp_path / '.cache' / 'images'
    assert podman_hpc.podman_hpc_root(folder) == tmp_path / '.cache' / 'podman-hpc'
    assert podman_hpc.podman_hpc_root(folder).parent == podman.podman_root(folder).parent


def test_site_config_keeps_node_state_per_node_and_the_squash_tool(tmp_path):
    root = tmp_path / 'podman-hpc'
    podman_hpc.write_conf(root)
    conf = yaml.safe_load((root / 'podman_hpc.yaml').read_text())
    assert set(conf) <= KEYS
    for key in ('graph_root_template', 'run_root_template', 'config_home_template'):
        # one folder per node, named by a variable podman-hpc's pattern expands
        # ({{ env.SLURMD_NODENAME }} would stay literal: no "_" in its pattern)
        assert TEMPLATE.findall(conf[key]) == ['{{ env.HPCVALNODE }}'], conf[key]
        assert conf[key].startswith(f'{podman_hpc.nodes_dir(root)}/')
    # podman refuses a run root over 50 characters (with a mount program), whatever the checkout
    assert len(conf['run_root_template'].replace('{{ env.HPCVALNODE }}', 'node12')) <= 50
    assert conf['mksquashfs_bin'] == str(root.resolve() / 'bin' / 'mksquashfs.static')
    assert conf['mount_program'].endswith('/fuse-overlayfs-wrap')
    assert conf['localid_var'] == 'OMPI_COMM_WORLD_LOCAL_RANK'
    assert 'OMPI_*' in conf['shared_run_exec_args'] and 'PMIX_*' in conf['shared_run_exec_args']
    # no hook and no module: empty folders podman-hpc may still be pointed at
    assert (root / 'hooks.d').is_dir() and not any((root / 'hooks.d').iterdir())
    assert (root / 'modules.d').is_dir() and not any((root / 'modules.d').iterdir())


def test_podman_hpc_itself_reads_the_site_config_per_node(tmp_path, monkeypatch):
    siteconfig = pytest.importorskip('podman_hpc.siteconfig', reason='podman-hpc not installed (requirements.txt)')
    root = tmp_path / 'podman-hpc'
    podman_hpc.write_conf(root)
    monkeypatch.setenv('PATH', f'{podman_hpc._real().parent}:{os.environ["PATH"]}')
    if not (podman_hpc._real().parent / 'fuse-overlayfs-wrap').exists() or not podman_hpc.shutil.which('podman'):
        pytest.skip('podman or fuse-overlayfs-wrap missing: SiteConfig looks both up')
    for k, v in podman_hpc.job_env(root).items():
        if k != 'PATH':
            monkeypatch.setenv(k, v)
    monkeypatch.setenv('HPCVALNODE', 'node7')
    monkeypatch.setattr(siteconfig.SiteConfig, 'squash_dir', str(podman_hpc.squash_dir(root)))
    conf = siteconfig.SiteConfig()
    node = podman_hpc.nodes_dir(root) / 'node7'
    assert (conf.graph_root, conf.run_root) == (str(node / 'storage'), str(node / 'run'))
    assert '--root' in conf.default_args and str(node / 'storage') in conf.default_args
    assert f'additionalimagestore={podman_hpc.squash_dir(root)}' in conf.default_run_args
    assert conf.hooks_dir == str(root.resolve() / 'hooks.d')


def test_job_env_names_the_wrapper_config_store_and_user(tmp_path, monkeypatch):
    monkeypatch.delenv('USER', raising=False)
    root = tmp_path / 'podman-hpc'
    env = podman_hpc.job_env(root)
    assert set(env) == {'PATH', 'PODMANHPC_CONFIG_FILE', 'SQUASH_DIR', 'USER'}
    assert env['PATH'].split(':')[0] == str(root.resolve() / 'bin')
    assert env['PATH'].endswith(':$PATH')                 # the job's shell expands it
    assert env['PODMANHPC_CONFIG_FILE'] == str(root.resolve() / 'podman_hpc.yaml')
    assert env['SQUASH_DIR'] == str(root.resolve() / 'squash')
    assert env['USER']                                     # podman-hpc exits without it and a tty
    srun = podman_hpc.job_env(root, launcher='srun')
    assert srun['PODMANHPC_LOCALID_VAR'] == 'SLURM_LOCALID'          # shared-run's rank 0 per node
    assert srun['PODMANHPC_TASKS_PER_NODE_VAR'] == 'SLURM_STEP_TASKS_PER_NODE'
    full = podman_hpc.expanded(env, {'PATH': '/usr/bin'})
    assert full['PATH'].endswith(':/usr/bin') and '$PATH' not in full['PATH']


def test_node_state_differs_per_root_and_node(tmp_path):
    a, b = podman_hpc.nodes_dir(tmp_path / 'a'), podman_hpc.nodes_dir(tmp_path / 'b')
    assert a != b and a.parent == b.parent == Path('/tmp')
    assert podman_hpc.node_dir(tmp_path / 'a', 'node1') == a / 'node1'


def test_wrapper_and_node_templates(tmp_path):
    root = tmp_path / 'podman-hpc'
    podman_hpc.write_conf(root)
    text = podman_hpc.command(root).read_text()
    assert os.access(podman_hpc.command(root), os.X_OK)
    assert 'node=${SLURMD_NODENAME:-$(uname -n)}' in text
    assert 'export HPCVALNODE="$node" CONTAINERS_STORAGE_CONF="$dir/storage.conf"' in text
    assert text.rstrip().endswith(f'exec {podman_hpc._real()} "$@"')
    containers = (root / 'containers.conf.in').read_text()
    assert 'tmp_dir = "@NODE_DIR@/run/libpod"' in containers and 'netns = "host"' in containers
    assert 'default_ulimits' in containers
    assert 'graphroot = "@NODE_DIR@/storage"' in (root / 'storage.conf.in').read_text()


def test_check_names_a_missing_podman_hpc(monkeypatch):
    monkeypatch.setattr(podman_hpc, 'executable', lambda: None)
    with pytest.raises(ImageError, match=r'missing podman-hpc: .*pip install podman-hpc==1\.2\.2'):
        podman_hpc.check()


def test_check_names_missing_host_packages(tmp_path, monkeypatch):
    fake = tmp_path / 'venv' / 'bin'
    fake.mkdir(parents=True)
    for f in ('podman-hpc', 'fuse-overlayfs-wrap'):
        (fake / f).write_text('')
    monkeypatch.setattr(podman_hpc, 'executable', lambda: fake / 'podman-hpc')
    monkeypatch.setattr(podman_hpc, '_syspath', lambda: str(tmp_path / 'empty'))
    with pytest.raises(ImageError) as err:
        podman_hpc.check()
    assert str(err.value) == ('podman-hpc needs podman, fuse-overlayfs, squashfuse, inotify-tools: '
                              'apt-get install podman fuse-overlayfs squashfuse inotify-tools')


def test_check_names_the_static_mksquashfs_or_its_build_packages(tmp_path, monkeypatch):
    fake = tmp_path / 'bin'
    fake.mkdir()
    for f in ('podman-hpc', 'fuse-overlayfs-wrap', 'podman', 'fuse-overlayfs', 'squashfuse_ll', 'inotifywait'):
        (fake / f).write_text('')
        (fake / f).chmod(0o755)
    monkeypatch.setattr(podman_hpc, 'executable', lambda: fake / 'podman-hpc')
    monkeypatch.setattr(podman_hpc, '_syspath', lambda: str(fake))
    monkeypatch.setattr(podman_hpc.os.path, 'exists', lambda p: True if p == '/dev/fuse' else os.path.lexists(p))
    root = tmp_path / 'podman-hpc'
    with pytest.raises(ImageError, match=r'static mksquashfs podman-hpc migrate runs: '
                                         r'scripts/static-mksquashfs\.sh .*/bin/mksquashfs\.static'):
        podman_hpc.check(root, need_mksquashfs=True)
    monkeypatch.setattr(podman_hpc, '_installed', lambda pkg: pkg not in ('liblz4-dev', 'dpkg-dev'))
    with pytest.raises(ImageError, match=r'needs liblz4-dev, dpkg-dev: apt-get install liblz4-dev dpkg-dev$'):
        podman_hpc.check(root)
    monkeypatch.setattr(podman_hpc, '_installed', lambda pkg: True)
    podman_hpc.check(root)          # built on first use: nothing missing


def _index(folder, podman_rec=None, hpc_rec=None):
    idx = store.Index(folder)
    entry = idx.entry('openmpi')
    if podman_rec:
        entry['podman'] = podman_rec
    if hpc_rec:
        entry['podman_hpc'] = hpc_rec
    idx.save()


def test_recorded_says_how_to_migrate(tmp_path):
    folder = tmp_path / '.cache' / 'images'
    _index(folder, podman_rec={'digest': 'sha256:aa', 'test': {'status': 'passed'}})
    with pytest.raises(ImageError, match=r'openmpi:current not migrated to podman-hpc: run '
                                         r'`hpcval image build openmpi --builder podman-hpc`'):
        podman_hpc.recorded('openmpi', folder)


def test_recorded_refuses_a_stale_or_vanished_squash(tmp_path):
    folder = tmp_path / '.cache' / 'images'
    root = podman_hpc.podman_hpc_root(folder)
    rec = {'image': 'localhost/hpcval/openmpi:current', 'digest': 'sha256:aa'}
    _index(folder, podman_rec={'digest': 'sha256:bb'}, hpc_rec=rec)
    with pytest.raises(ImageError, match='podman build changed since its podman-hpc migration'):
        podman_hpc.recorded('openmpi', folder)
    _index(folder, podman_rec={'digest': 'sha256:aa'}, hpc_rec=rec)
    with pytest.raises(ImageError, match='its squash file is gone'):
        podman_hpc.recorded('openmpi', folder)
    # the squash store as podman-hpc migrate leaves it: images.json, the top layer's link, the file
    sq = podman_hpc.squash_dir(root)
    (sq / 'overlay-images').mkdir(parents=True)
    (sq / 'overlay-images' / 'images.json').write_text('[{"id": "aa", "layer": "L1"}]')
    (sq / 'overlay' / 'L1').mkdir(parents=True)
    (sq / 'overlay' / 'L1' / 'link').write_text('ABC')
    (sq / 'overlay' / 'l').mkdir()
    (sq / 'overlay' / 'l' / 'ABC.squash').write_bytes(b'x' * 10)
    assert podman_hpc.squashed(root, 'sha256:aa') == (sq / 'overlay' / 'l' / 'ABC.squash', 10)
    assert podman_hpc.recorded('openmpi', folder) == ('localhost/hpcval/openmpi:current', 'sha256:aa')
