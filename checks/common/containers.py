"""Charliecloud as a ReFrame container platform, and the runtime x MPI variants.

ReFrame ships Docker, Sarus, Shifter, Singularity and Apptainer platforms but
not Charliecloud.  ``Charliecloud`` below is registered in
``reframe.core.containers`` so that ``container_platform = 'Charliecloud'``
in a check and ``{'type': 'Charliecloud'}`` in a partition's
``container_platforms`` both find it by name.

ReFrame puts the partition's launcher in front of the container command, so
``mpirun -np 2 ch-run ... IMAGE -- app`` is the hybrid model out of the box:
``mpi='bundled'`` uses the image's own MPI library; ``mpi='host'`` binds the
host MPI library into the image and puts it first on the library path (the
bind model).  The program reports the file its MPI library was loaded from,
and sanity fails when that is not the one the variant asked for.
"""
import os
import re
import shlex

from common import Plugin
from hpcval.containers import store
import reframe.core.containers as _containers
import reframe.utility.typecheck as typ
from reframe.core.builtins import parameter, run_after, run_before, variable
from reframe.core.containers import ContainerPlatform

RUNTIMES = ('bare', 'charliecloud', 'podman', 'podman-hpc', 'apptainer', 'singularity', 'sarus')
#: the ReFrame container platform of each runtime ('podman-hpc'.capitalize() is no class name)
PLATFORMS = {'charliecloud': 'Charliecloud', 'podman': 'Podman', 'podman-hpc': 'Podman',
             'apptainer': 'Apptainer', 'singularity': 'Singularity', 'sarus': 'Sarus'}
#: what the host's MPI launcher and the job hand a rank in its container (podman passes
#: nothing unless asked): the launcher's wire-up, the scheduler's, hpcval's own settings
PODMAN_PASS_ENV = ['OMPI_*', 'PMIX_*', 'PMI_*', 'SLURM_*', 'HPCVAL_*', 'OMP_*']
#: the command a podman-hpc shared-run container runs, written into the stage directory
SHARED_RUN_SCRIPT = 'hpcval_rank.sh'
#: where the host MPI is bound inside every hpcval image (created by the base recipe)
HOST_MPI_MOUNT = '/opt/hostmpi'


class Charliecloud(ContainerPlatform):
    '''``ch-run`` as a ReFrame container platform (Charliecloud 0.31 flags).'''

    #: apply the image's Dockerfile ENV (``--set-env``); without it the host
    #: environment alone reaches the program
    set_image_env = variable(typ.Bool, value=True)
    #: extra VAR=VALUE pairs applied after the image's ENV (``--set-env=VAR=VALUE``)
    env_vars = variable(typ.Dict[str, str], value={})
    #: ranks on a node share one container (``--join``): cross-memory attach
    #: between ranks fails across sibling user namespaces without it
    join = variable(typ.Bool, value=True)
    #: a private RAM-backed /tmp (``-t``)
    private_tmp = variable(typ.Bool, value=False)

    def emit_prepare_commands(self, stagedir):
        return []      # images are built and converted by `hpcval image build`, not pulled

    def launch_command(self, stagedir):
        super().launch_command(stagedir)
        opts = []
        if self.set_image_env:
            opts.append('--set-env')
        for key, value in self.env_vars.items():
            opts.append(f"--set-env='{key}={value}'")
        if self.join:
            opts.append('--join')
        if self.private_tmp:
            opts.append('-t')
        mounts = list(self.mount_points)
        if self.mount_stagedir:
            mounts.append((stagedir, self.mount_stagedir))
        # quoted for the shell: a bind source may be a -S value (SmallfileIO.target_path)
        opts += [f'-b {shlex.quote(src)}:{shlex.quote(dst)}' for src, dst in mounts]
        if self.workdir:
            opts.append(f'-c {self.workdir}')
        opts += self.options
        command = f' -- {self.command}' if self.command else ''
        return f'ch-run {" ".join(opts)} {self.image}{command}'


class Podman(ContainerPlatform):
    '''``podman run`` (or ``podman-hpc run|shared-run``) as a ReFrame container platform.

    One container per rank, started by the host's launcher (the hybrid model).
    Ranks in sibling containers share memory only in the host's IPC and PID
    namespaces (vader's segments in /dev/shm, named by pid: without them a rank
    segfaults or falls back to TCP), and reach the launcher's PMIx server only in
    its network namespace; the PMIx session directory is in /tmp, bound too.
    '''

    #: ``podman`` or ``podman-hpc`` (NERSC's wrapper: squashed images, site modules)
    command_name = variable(str, value='podman')
    #: ``run`` (a container per rank, removed after) or podman-hpc's ``shared-run``
    #: (one container per node, the ranks exec'd into it)
    subcommand = variable(str, value='run')
    #: ``--network host --ipc host --pid host``
    host_namespaces = variable(typ.Bool, value=True)
    #: host variables passed by name or pattern (``-e 'OMPI_*'``)
    pass_env = variable(typ.List[str], value=list(PODMAN_PASS_ENV))
    #: VAR=VALUE set in the container, over the image's ENV
    env_vars = variable(typ.Dict[str, str], value={})
    #: bind destinations mounted read-only (``:ro``): the injected host MPI is not the container's
    read_only = variable(typ.List[str], value=[HOST_MPI_MOUNT])

    def emit_prepare_commands(self, stagedir):
        return []      # images are built by `hpcval image build --builder podman`, not pulled

    def launch_command(self, stagedir):
        super().launch_command(stagedir)
        opts = ['--rm'] if self.subcommand == 'run' else []
        if self.host_namespaces:
            opts += ['--network host', '--ipc host', '--pid host']
        opts += [f'-e {shlex.quote(p)}' for p in self.pass_env]
        opts += [f'-e {shlex.quote(f"{k}={v}")}' for k, v in self.env_vars.items()]
        mounts = list(self.mount_points)
        if self.mount_stagedir:
            mounts.append((stagedir, self.mount_stagedir))
        opts += [f'-v {shlex.quote(src)}:{shlex.quote(dst)}' + (':ro' if self._ro(dst) else '')
                 for src, dst in mounts]
        if self.workdir:
            opts.append(f'-w {self.workdir}')
        opts += self.options
        command = f' {self.command}' if self.command else ''
        return f'{self.command_name} {self.subcommand} {" ".join(opts)} {self.image}{command}'

    def _ro(self, dst):
        return any(dst == d or dst.startswith(d.rstrip('/') + '/') for d in self.read_only)


# ContainerPlatform.create() looks platforms up in that module by name.
_containers.Charliecloud = Charliecloud
_containers.Podman = Podman


def image_folder(partition=None):
    extras = partition.extras if partition else {}
    return str(store.image_folder(extras.get('image_folder')))


def find_image(name, fmt='dir', folder=None):
    '''(path, digest) of a converted image (``NAME[:TAG]``) that passed its
    test, or raise with the command that builds it.'''
    folder = folder or image_folder()
    try:
        base, tag = store.parse_ref(name)
    except store.ImageError as err:
        raise ImageNotBuilt(str(err)) from None
    entry = store.recorded_images(folder).get(store.key(base, tag)) or {}
    out = entry.get('formats', {}).get(fmt)
    path = os.path.join(folder, out['path']) if out else None
    if not path or not os.path.exists(path) or entry.get('test', {}).get('status') != 'passed':
        how = (f'hpcval image build {base}' + (f' --tag {tag}' if tag != store.DEFAULT_TAG else '')
               if not entry.get('source') else f'hpcval image import {store.ref(base, tag)} SOURCE')
        state = 'failed its smoke test' if entry.get('test', {}).get('status') == 'failed' else 'not built'
        raise ImageNotBuilt(f'image {store.ref(base, tag)} {state} in {fmt} format: run `{how}`')
    return path, out['digest']


def stored_entry(ref, folder):
    '''The index entry of ``NAME[:TAG]`` ({} when none).'''
    return store.recorded_images(folder).get(store.key(*store.parse_ref(ref))) or {}


def image_env(ref, folder):
    '''The image's ENV (what ``ch-run --set-env`` applies), read from its directory format.'''
    out = (stored_entry(ref, folder).get('formats') or {}).get('dir') or {}
    env = {}
    try:
        with open(os.path.join(folder, out.get('path', ''), 'ch', 'environment')) as fp:
            for line in fp:
                k, _, v = line.rstrip('\n').partition('=')
                env[k] = v.strip('"')
    except OSError:
        pass
    return env


def image_ref(test, default_name):
    '''NAME:TAG a check runs in: its ``image`` parameter, else ``default_name`` at the default tag.'''
    return store.ref(*store.parse_ref(test.image or default_name))


class ImageNotBuilt(Exception):
    pass


class ContainerMixin(Plugin):
    '''``runtime`` x ``mpi`` variants for a check whose program lives in an image.

    The check sets ``container_image`` (a recipe name) and
    ``container_command``; everything else comes from the partition:
    ``container_platforms`` (env for the runtime), ``extras['host_mpi']``
    (``lib_dir``: a host MPI prefix's lib folder to bind, or ``libs``: globs of
    its files to gather into the stage directory; ``plugins``: its component
    folder; ``env``: what makes the injected MPI load its own components),
    ``extras['charliecloud']`` (``binds``, ``image_format``) or, for the other
    runtimes, ``extras['images']`` and ``extras['binds']``.
    '''
    runtime = parameter(['bare'], type=str, loggable=True)
    mpi = parameter(['host'], type=str, loggable=True)
    #: NAME[:TAG] of the image to run in (``-P image=openmpi:current,openmpi:candidate``
    #: puts two images in one session); empty: ``container_image``, tag current.
    #: A bare case runs once, with the first value, and records none.
    image = parameter([''], type=str, loggable=True)
    image_format = variable(str, value='', loggable=True)
    #: images whose host-MPI functional check failed (``hpcval validate-image``):
    #: their mpi=host cases are skipped with that reason, not failed again
    no_host_mpi = variable(typ.List[str], value=[])
    #: the MPI the image declares (``HPCVAL_MPI_FAMILY`` in its ENV) when it is not the
    #: launcher's: its bundled-MPI cases start the image's own launcher inside it
    image_mpi_family = variable(str, value='', loggable=True)
    own_launcher = variable(bool, value=False, loggable=True)
    container_image = variable(str, value='')
    container_command = variable(str, value='')
    #: file the MPI library was loaded from, as the program reported it
    mpi_library_path = variable(str, value='', loggable=True)

    @run_after('init')
    def check_variant(self):
        if self.runtime not in RUNTIMES:
            raise ValueError(f'runtime must be one of {", ".join(RUNTIMES)}, not {self.runtime!r}')
        if self.mpi not in ('host', 'bundled'):
            raise ValueError(f'mpi must be host or bundled, not {self.mpi!r}')
        self.skip_if(self.runtime == 'bare' and self.mpi == 'bundled',
                     'a bare run has no bundled MPI: it always uses the host MPI')
        images = type(self).param_space['image']
        self.skip_if(self.runtime == 'bare' and self.image != images[0],
                     'a bare run uses no image: it runs once, with the first image value')
        if self.runtime == 'bare':
            self.image = ''

    def setup_container(self):
        '''Point the check at its image; call from a run_after('setup') hook.
        Raises before submission when the image is not built.'''
        if self.runtime == 'bare':
            return
        part = self.current_partition
        spec = part.extras.get('host_mpi', {})
        try:
            self.image = image_ref(self, self.container_image)
        except store.ImageError as err:
            raise ImageNotBuilt(str(err)) from None
        if self.runtime == 'charliecloud':
            extras = part.extras.get('charliecloud', {})
            self.image_format = extras.get('image_format', 'dir')
            path, self.image_digest = find_image(self.image, self.image_format, image_folder(part))
            binds = extras.get('binds', [])
        elif self.runtime in ('podman', 'podman-hpc') and 'images' not in part.extras:
            path, binds = self._podman_image(part)
        else:
            # Apptainer/Singularity/Sarus sites name their images in the partition
            images = part.extras.get('images', {})
            name = self.image if self.image in images else self.image.split(':')[0]
            if name not in images:
                raise ImageNotBuilt(f'image {self.image} not configured for {self.runtime} '
                                    f"in partition {part.fullname}: add it to extras['images']")
            path = images[name]
            self.image_format = self.runtime
            self.image_digest = part.extras.get('image_digests', {}).get(path, '')
            binds = part.extras.get('binds', [])
        self.container_platform = PLATFORMS[self.runtime]
        cp = self.container_platform
        if self.runtime == 'podman-hpc':
            cp.command_name = 'podman-hpc'
            # one container per node: podman-hpc's squashfuse mount is then made once; with a
            # container per rank the mounts stack and one left busy is never unmounted
            cp.subcommand = part.extras.get('podman', {}).get('subcommand', 'shared-run')
        cp.image = path
        cp.command = self.container_command
        if self.mpi == 'host' and self.image in self.no_host_mpi:
            self.skip(f'{self.image} failed the host-MPI functional check: its mpi=host cases cannot run')
        if self.runtime == 'charliecloud' and self.mpi == 'bundled':
            self._own_launcher(image_folder(part))
        cp.mount_points = [tuple(b.split(':', 1)) if ':' in b else (b, b) for b in binds]
        if cp.name == 'Podman':
            # the launcher's PMIx session directory; a bind destination need not exist in podman
            cp.mount_points.append(('/tmp', '/tmp'))
            cp.options = list(part.extras.get('podman', {}).get('run_args', []))
        if self.mpi != 'host':
            return
        if self.runtime == 'sarus':
            # Sarus' MPI hook swaps the image's MPICH-ABI libraries for the host's
            cp.with_mpi = True
            return
        env = {'LD_LIBRARY_PATH': f'{HOST_MPI_MOUNT}/lib', **spec.get('env', {})}
        host_lib = spec.get('lib_dir')
        if not host_lib:
            # The MPI is mixed into the system library folder (Debian's Open
            # MPI): gather its own files into the stage directory to bind.
            host_lib = os.path.join(self.stagedir, 'hostmpi-lib')
            lib = shlex.quote(host_lib)         # the stage path; the site's globs stay globs
            self.prerun_cmds += [f'rm -rf {lib}', f'mkdir -p {lib}',
                                 f'cp -a {" ".join(spec.get("libs", []))} {lib}/',
                                 # mpi4py 4 dlopens the unversioned libmpi.so first: without
                                 # it here it silently finds the image's (sanity caught that)
                                 f'for f in {lib}/*.so.*; do b="${{f%%.so.*}}.so"; '
                                 f'[ -e "$b" ] || ln -s "$(basename "$f")" "$b"; done',
                                 f'sha256sum {lib}/libmpi.so* > hostmpi-lib.sha256']
        cp.mount_points.append((host_lib, f'{HOST_MPI_MOUNT}/lib'))
        if spec.get('plugins'):
            cp.mount_points.append((spec['plugins'], f'{HOST_MPI_MOUNT}/plugins'))
        if cp.name in ('Charliecloud', 'Podman'):
            cp.env_vars = env
        else:
            # Apptainer never imports the host's LD_LIBRARY_PATH: pass it explicitly
            cp.options = [f'--env {k}={v}' for k, v in env.items()]

    def _podman_image(self, part):
        '''(image, binds) of a podman build in the project's podman storage (``hpcval image
        build --builder podman``; podman-hpc: migrated to its squashed store); the job gets
        the storage's configuration in its environment.'''
        from hpcval.containers import podman
        from hpcval.containers.errors import ImageError
        folder = image_folder(part)
        try:
            image, self.image_digest = podman.recorded(self.image, folder)
        except ImageError as err:
            raise ImageNotBuilt(str(err)) from None
        self.image_format = self.runtime
        self.env_vars.update(podman.conf_env(podman.podman_root(folder)))
        if self.runtime == 'podman-hpc':
            from hpcval.containers import podman_hpc
            image, self.image_digest = podman_hpc.recorded(self.image, folder)
            self.env_vars.update(podman_hpc.job_env(podman_hpc.podman_hpc_root(folder),
                                                    launcher=part.launcher_type.registered_name))
            self.modules += part.extras.get('podman', {}).get('podman_hpc_modules', [])
        return image, part.extras.get('podman', {}).get('binds', [])

    @run_before('run')
    def pass_check_env(self):
        '''podman hands a container only what it is told: the check's own variables too.'''
        cp = self.container_platform
        if self.runtime in ('podman', 'podman-hpc') and cp.name == 'Podman':
            cp.pass_env = list(dict.fromkeys([*cp.pass_env, *(k for k in self.env_vars
                                                               if not self._runtime_side(k))]))
        if cp.name == 'Podman' and cp.subcommand == 'shared-run' and cp.command:
            # podman-hpc 1.2.2's shared-run reads the program's arguments as podman's own
            # (`lmp -in x` -> "-i n"): the program goes in a script, its arguments with it
            with open(os.path.join(self.stagedir, SHARED_RUN_SCRIPT), 'w') as fp:
                fp.write(f'# the command of each rank (checks/common/containers.py)\nexec {cp.command}\n')
            cp.command = f'sh {cp.workdir or "/rfm_workdir"}/{SHARED_RUN_SCRIPT}'
            self.keep_files = [*self.keep_files, SHARED_RUN_SCRIPT]

    @staticmethod
    def _runtime_side(var):
        '''A variable for podman itself, not for the program: the image's PATH stays its own.'''
        return var in ('PATH', 'USER', 'SQUASH_DIR') or var.startswith(('CONTAINERS_', 'PODMANHPC_'))

    def _own_launcher(self, folder):
        '''A bundled MPI of another family than the launcher's (an MPICH image under the
        host's Open MPI mpirun) would start singletons: on one node the image's own
        ``mpiexec`` starts the ranks inside the container instead.'''
        family = image_env(self.image, folder).get('HPCVAL_MPI_FAMILY', '')
        ours = self.current_environ.extras.get('mpi_family', '')
        if not family or not ours or family == ours:
            return
        self.image_mpi_family = family
        self.expected_mpi = '' if family == 'MPICH' else family
        self.skip_if(getattr(self, 'num_nodes', 1) > 1,
                     f'{self.image} bundles {family}; the launcher here starts {ours}: '
                     'its bundled-MPI cases run on one node, under its own mpiexec')
        # Hydra (MPICH's mpiexec) inside a Slurm job would start its ranks with srun,
        # which the image lacks: fork them here, on the job's node
        hydra = '-launcher fork -rmk user ' if 'MPICH' in family.upper() else ''
        self.container_platform.command = f'mpiexec {hydra}-n {self.num_tasks} {self.container_command}'
        self.container_platform.join = False      # one container, its launcher inside
        self.own_launcher = True

    @run_before('run')
    def launch_inside(self):
        if self.own_launcher:
            from reframe.core.backends import getlauncher
            self.job.launcher = getlauncher('local')()

    def container_problems(self, text):
        '''Sanity problems of the MPI variant: the library file must be the one asked for.'''
        m = re.search(r'^#\s*MPI Library Path:\s*(.*?)\s*$', text, re.M)
        paths = sorted({p for p in (m.group(1).split(',') if m else []) if p})
        self.mpi_library_path = ','.join(paths)
        if not paths:
            return ['the program did not report its MPI library path']
        injected = [p.startswith(HOST_MPI_MOUNT + '/') for p in paths]
        if self.runtime not in ('bare', 'sarus') and self.mpi == 'host' and not all(injected):
            return [f'mpi=host asked for the injected host MPI under {HOST_MPI_MOUNT}, '
                    f'but the program loaded {self.mpi_library_path}']
        if self.mpi == 'bundled' and any(injected):
            return [f'mpi=bundled asked for the image MPI, but the program loaded '
                    f'{self.mpi_library_path}']
        return []
