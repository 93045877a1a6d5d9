"""The virtual cluster's modules: Lmod and the project's module tree config/modules
(Lua modulefiles NAME/VERSION.lua), as config/vcluster.py uses them (no cluster needed)."""
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hpcval.cluster import vcluster
from hpcval.cluster.errors import ClusterError

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
import config.vcluster as site        # noqa: E402

TREE = Path(site.MODULES)
needs_lmod = pytest.mark.skipif(not site.HAVE_LMOD, reason='Lmod missing: `make setup` as root installs lmod')


def modules_in_tree(tree=TREE):
    return sorted(f'{p.parent.name}/{p.stem}' for p in tree.glob('*/*.lua'))


def shell(script, tree=TREE):
    '''A bash script run as a batch job's is: no login shell, no `module` until
    the partition's prepare_cmds define it.'''
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('LMOD', '__LMOD', '_ModuleTable', 'BASH_FUNC_'))
           and k not in ('MODULEPATH', 'LOADEDMODULES', '_LMFILES_', 'BASH_ENV')}
    prepare = f'. {site.LMOD_INIT}\nmodule use {tree}\n'
    return subprocess.run(['bash', '-c', prepare + script], capture_output=True, text=True, env=env, timeout=60)


def said(proc):
    '''What Lmod said on stderr, its line wrapping undone.'''
    return ' '.join(proc.stderr.split())


def upstream(package):
    '''The upstream part of an installed Debian package's version ([epoch:]UPSTREAM[-revision]).'''
    out = subprocess.run(['dpkg-query', '-W', '-f=${Version}', package], capture_output=True, text=True)
    assert out.returncode == 0, f'{package} not installed'
    return re.sub(r'-[^-]*$', '', re.sub(r'^\d+:', '', out.stdout))


def test_the_tree_has_the_host_mpi_charliecloud_and_podman_hpc():
    assert [m.split('/')[0] for m in modules_in_tree()] == ['charliecloud', 'openmpi', 'podman-hpc']
    # config/vcluster.py names each by the one modulefile it finds: the version lives in the file name only
    assert [site.module(n) for n in ('charliecloud', 'openmpi', 'podman-hpc')] == modules_in_tree()


def test_the_versions_are_the_installed_ones():
    versions = dict(m.split('/') for m in modules_in_tree())
    assert versions['openmpi'] == upstream('openmpi-bin')
    assert versions['charliecloud'] == upstream('charliecloud-runtime')
    # and what the programs themselves say
    ompi = subprocess.run(['ompi_info', '--version'], capture_output=True, text=True).stdout
    assert f'Open MPI v{versions["openmpi"]}\n' in ompi
    ch = subprocess.run(['ch-run', '--version'], capture_output=True, text=True,
                        env=dict(os.environ, USER=os.environ.get('USER', 'root')))
    assert ch.returncode == 0 and ch.stderr.strip() == versions['charliecloud']        # ch-run says it on stderr
    try:
        assert importlib.metadata.version('podman-hpc') == versions['podman-hpc']
    except importlib.metadata.PackageNotFoundError:
        pass                # not installed: the module says so (test below), nothing to compare


@needs_lmod
def test_each_module_loads_in_a_batch_shell_and_lists():
    names = modules_in_tree()
    proc = shell(f'module -t avail 2>&1; echo ---; module load {" ".join(names)} || exit 9\n'
                 'module -t list 2>&1; echo ---\n'
                 'echo "openmpi=$HPCVAL_MODULE_OPENMPI charliecloud=$HPCVAL_MODULE_CHARLIECLOUD '
                 'podman-hpc=$HPCVAL_MODULE_PODMAN_HPC MPI_HOME=$MPI_HOME"\n'
                 'echo "LOADEDMODULES=$LOADEDMODULES"; echo "podman=$HPCVAL_PODMAN_HPC"')
    assert proc.returncode == 0, proc.stderr
    avail, listed, out = [part.strip().splitlines() for part in proc.stdout.split('---\n')]
    assert avail == [f'{TREE}:'] + [n for m in names for n in (m.split('/')[0] + '/', m)]
    assert listed == names
    versions = dict(m.split('/') for m in names)
    assert (f'openmpi={versions["openmpi"]} charliecloud={versions["charliecloud"]} '
            f'podman-hpc={versions["podman-hpc"]} MPI_HOME=/usr') in out
    assert f'LOADEDMODULES={":".join(names)}' in out
    podman = [ln for ln in out if ln.startswith('podman=')][0]
    try:
        importlib.metadata.version('podman-hpc')
        assert podman == f'podman={ROOT}/.venv/bin/podman-hpc'
    except importlib.metadata.PackageNotFoundError:
        # loads, but says it is not there: nothing may pretend that podman-hpc ran
        assert podman == 'podman=absent' and 'podman-hpc is not installed' in said(proc)


@needs_lmod
def test_a_module_that_does_not_exist_fails():
    proc = shell('module load openmpi/0.0.1 && echo loaded')
    assert proc.returncode != 0 and 'loaded' not in proc.stdout
    assert 'unknown' in said(proc) and 'openmpi/0.0.1' in said(proc)


@needs_lmod
def test_a_modulefile_named_after_another_version_refuses_to_load(tmp_path):
    tree = tmp_path / 'config' / 'modules'
    for name, fake in (('openmpi', '9.9.9'), ('charliecloud', '0.1')):
        (tree / name).mkdir(parents=True)
        shutil.copy(TREE / name / f'{site.module(name).split("/")[1]}.lua', tree / name / f'{fake}.lua')
        proc = shell(f'module load {name}/{fake} && echo loaded', tree=tree)
        assert proc.returncode != 0 and 'loaded' not in proc.stdout
        assert f'{name}/{fake}: the installed ' in said(proc) and f"', not {fake} (rename" in said(proc)


@needs_lmod
def test_podman_hpc_is_taken_from_the_venv_beside_the_tree(tmp_path):
    '''A checkout whose .venv holds podman-hpc 1.2.2 (its metadata folder; no install needed):
    the module puts that bin first and names the program; another version is refused.'''
    tree = tmp_path / 'config' / 'modules'
    version = site.module('podman-hpc').split('/')[1]
    (tree / 'podman-hpc').mkdir(parents=True)
    shutil.copy(TREE / 'podman-hpc' / f'{version}.lua', tree / 'podman-hpc')
    site_packages = tmp_path / '.venv' / 'lib' / 'python3.11' / 'site-packages'
    (site_packages / f'podman_hpc-{version}.dist-info').mkdir(parents=True)
    proc = shell('module load podman-hpc || exit 9; echo "$HPCVAL_PODMAN_HPC ${PATH%%:*}"', tree=tree)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [f'{tmp_path}/.venv/bin/podman-hpc', f'{tmp_path}/.venv/bin']
    (site_packages / f'podman_hpc-{version}.dist-info').rename(site_packages / 'podman_hpc-0.9.dist-info')
    proc = shell('module load podman-hpc && echo loaded', tree=tree)
    assert proc.returncode != 0 and 'the installed podman-hpc is 0.9, not ' + version in said(proc)


@needs_lmod
def test_reframe_lmod_backend_loads_and_refuses_what_the_job_scripts_load():
    '''What ReFrame itself does while it writes a job script (config/vcluster.py sets
    LMOD_CMD and MODULEPATH for it): load with Lmod's python mode, then emit the line.'''
    code = ('import os, config.vcluster as site\n'
            'from reframe.core.modules import ModulesSystem\n'
            'from reframe.core.exceptions import EnvironError\n'
            'ms = ModulesSystem.create("lmod")\n'
            'ms.load_module(site.module("openmpi"), force=True)\n'
            'print(ms.name, ms.version, os.environ["HPCVAL_MODULE_OPENMPI"],\n'
            '      ms.emit_load_commands(site.module("openmpi")))\n'
            'try:\n'
            '    ms.load_module("openmpi/0.0.1", force=True)\n'
            'except EnvironError as err:\n'
            '    print("refused:", str(err).splitlines()[0])\n')
    env = {k: v for k, v in os.environ.items() if k not in ('LMOD_CMD', 'MODULEPATH')}
    proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=dict(env, PYTHONPATH=str(ROOT)),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    first, refused = proc.stdout.splitlines()
    openmpi = site.module('openmpi')
    assert re.fullmatch(rf"lmod [\d.]+ {openmpi.split('/')[1]} \['module load {openmpi}'\]", first), first
    assert refused.startswith('refused: could not execute module operation: command ')
    assert refused.endswith(" openmpi/0.0.1' failed with exit code 1:"), refused


def test_the_site_config_loads_its_modules_in_every_job():
    conf = site.site_configuration
    [system] = conf['systems']
    [part] = system['partitions']
    [environ] = conf['environments']
    assert system['modules_system'] == ('lmod' if site.HAVE_LMOD else 'nomod')
    assert environ['modules'] == [site.module('openmpi')]
    platforms = {p['type']: p for p in part['container_platforms']}
    assert set(platforms) == {'Charliecloud', 'Podman'}
    assert platforms['Charliecloud']['modules'] == [site.module('charliecloud')]
    # Debian's podman is the system's; podman-hpc's module is loaded by its cases alone
    assert not platforms['Podman'].get('modules')
    assert part['extras']['podman']['podman_hpc_modules'] == [site.module('podman-hpc')]
    if site.HAVE_LMOD:
        # the batch shell is not a login shell: Lmod first, then the tree
        assert part['prepare_cmds'] == [f'. {site.LMOD_INIT}', f'module use {TREE}']
        assert str(TREE) in os.environ['MODULEPATH'].split(':') and os.environ['LMOD_CMD']


def test_module_wants_exactly_one_modulefile(tmp_path, monkeypatch):
    monkeypatch.setattr(site, 'MODULES', str(tmp_path))
    with pytest.raises(ValueError, match=r'openmpi: expected one modulefile, found \[\]'):
        site.module('openmpi')
    (tmp_path / 'openmpi').mkdir()
    (tmp_path / 'openmpi' / '4.1.4.lua').write_text('')
    assert site.module('openmpi') == 'openmpi/4.1.4'
    (tmp_path / 'openmpi' / '5.0.0.lua').write_text('')
    with pytest.raises(ValueError, match=r"found \['4.1.4', '5.0.0'\]"):
        site.module('openmpi')


def test_cluster_up_refuses_without_lmod(monkeypatch, tmp_path):
    monkeypatch.setattr(vcluster, '_require', lambda: None)
    monkeypatch.setattr(vcluster, 'LMOD_CMD', tmp_path / 'no-lmod')
    with pytest.raises(ClusterError, match=r'missing Lmod .*: apt-get install lmod'):
        vcluster.up(3, folder=tmp_path / 'vc')
    assert not (tmp_path / 'vc').exists()


def test_make_setup_installs_lmod():
    makefile = (ROOT / 'Makefile').read_text()
    pkgs = re.search(r'^SYS_PKGS\s*:=\s*((?:.*\\\n)*.*)$', makefile, re.M).group(1)
    assert 'lmod' in pkgs.replace('\\', ' ').split()
