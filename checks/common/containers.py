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
from reframe.core.builtins import parameter, run_after, variable
from reframe.core.containers import ContainerPlatform

RUNTIMES = ('bare', 'charliecloud', 'apptainer', 'singularity', 'sarus')
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


# ContainerPlatform.create() looks platforms up in that module by name.
_containers.Charliecloud = Charliecloud


def image_folder(partition=None):
    extras = partition.extras if partition else {}
    return str(store.image_folder(extras.get('image_folder')))


def find_image(name, fmt='dir', folder=None):
    '''(path, digest) of a converted image that passed its test, or raise
    with the command that builds it.'''
    folder = folder or image_folder()
    entry = store.recorded_images(folder).get(name) or {}
    out = entry.get('formats', {}).get(fmt)
    path = os.path.join(folder, out['path']) if out else None
    if not path or not os.path.exists(path) or entry.get('test', {}).get('status') != 'passed':
        raise ImageNotBuilt(f'image {name} not built: run `hpcval image build {name}`')
    return path, out['digest']


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

    def setup_container(self):
        '''Point the check at its image; call from a run_after('setup') hook.
        Raises before submission when the image is not built.'''
        if self.runtime == 'bare':
            return
        part = self.current_partition
        spec = part.extras.get('host_mpi', {})
        if self.runtime == 'charliecloud':
            extras = part.extras.get('charliecloud', {})
            fmt = extras.get('image_format', 'dir')
            path, digest = find_image(self.container_image, fmt, image_folder(part))
            self.image, self.image_digest = f'{self.container_image} ({fmt})', digest
            binds = extras.get('binds', [])
        else:
            # Apptainer/Singularity/Sarus sites name their images in the partition
            images = part.extras.get('images', {})
            if self.container_image not in images:
                raise ImageNotBuilt(f'image {self.container_image} not configured for {self.runtime} '
                                    f"in partition {part.fullname}: add it to extras['images']")
            path = images[self.container_image]
            self.image, self.image_digest = path, part.extras.get('image_digests', {}).get(path, '')
            binds = part.extras.get('binds', [])
        self.container_platform = self.runtime.capitalize()
        cp = self.container_platform
        cp.image = path
        cp.command = self.container_command
        cp.mount_points = [tuple(b.split(':', 1)) if ':' in b else (b, b) for b in binds]
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
        if self.runtime == 'charliecloud':
            cp.env_vars = env
        else:
            # Apptainer never imports the host's LD_LIBRARY_PATH: pass it explicitly
            cp.options = [f'--env {k}={v}' for k, v in env.items()]

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
