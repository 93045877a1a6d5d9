"""podman-hpc 1.2.2 (NERSC's podman wrapper) as a runtime: podman builds migrated to a squashed store.

``hpcval image build NAME --builder podman`` leaves ``localhost/hpcval/NAME:TAG``
in the project's podman storage (hpcval/containers/podman.py).  ``migrate``
takes it from there into podman-hpc's *squash store*: one SquashFS file per
image (lz4) plus the image's records, an overlay store that every node uses
read-only (``additionalimagestore``) and mounts with squashfuse when a
container starts.  That is how podman-hpc runs an image on many nodes from a
shared file system without each node pulling it.

Everything lives in the project, beside ``.cache/podman`` (``podman_hpc_root``)::

    podman_hpc.yaml        the site config (PODMANHPC_CONFIG_FILE): nothing under /etc/podman_hpc
    storage.conf.in        each node's podman configuration, @NODE_DIR@ filled in by bin/podman-hpc
    containers.conf.in
    bin/podman-hpc         the command jobs run: this node's state, then exec .venv/bin/podman-hpc
    bin/mksquashfs.static  built on first use by scripts/static-mksquashfs.sh
    squash/                SQUASH_DIR, shared by the nodes (read-only for them)

and each node's podman state (graph root, run root, libpod tmp, config home,
its storage.conf and containers.conf) in ``/tmp/hpcval-phpc-UID-HASH/NODE``
(``nodes_dir``): node-local, and short (podman refuses a run root longer than 50
characters once a mount program is set).  It holds containers only while they
run, and an image only while it is migrated: /tmp may be cleared.
    hooks.d/ modules.d/    empty: no podman-hpc hook or module is used (see below)

Per-node state: nodes of the virtual cluster share one file system but have
their own mount and UTS namespaces, so one podman graph/run root for all of
them would be one container database whose mounts each node sees only half
of.  podman-hpc's templates expand only ``{{ env.NAME }}`` with NAME of letters
and digits (``SLURMD_NODENAME`` does not match its pattern and stays
literal), and nothing per node is in a job's environment under mpirun, so the
wrapper exports ``HPCVALNODE=${SLURMD_NODENAME:-$(uname -n)}`` and points
podman at that node's storage.conf and containers.conf (podman-hpc passes
``--root``/``--runroot`` itself, but its migrate's ``podman run`` does not, and
the libpod tmp dir is only in containers.conf).  On a real cluster /tmp is
node-local disk, as podman-hpc's default ``/tmp/{uid}_hpc`` assumes.

No modules and no hook: the checks' Podman platform emits the host
namespaces, ``-e`` patterns and binds itself (one command line for podman and
podman-hpc), so podman-hpc's prestart hook (which would only run ldconfig in
every container) is left out; ``hooks_dir`` is an empty folder because
podman-hpc always passes ``--hooks-dir``.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from hpcval.containers import podman, store
from hpcval.containers.errors import ImageError
from hpcval.paths import ROOT as REPO

VERSION = '1.2.2'
#: the script that builds the static mksquashfs podman-hpc runs inside an image
MKSQUASHFS_SCRIPT = REPO / 'scripts' / 'static-mksquashfs.sh'
#: the environment variable the wrapper sets and the site config's templates read
NODE_VAR = 'HPCVALNODE'
#: host programs podman-hpc runs, with the Debian package that has each
#: the command that builds and migrates an image (named in errors)
MIGRATE = 'hpcval image build {name} --builder podman-hpc{tag}'
HOST_TOOLS = {'podman': 'podman', 'fuse-overlayfs': 'fuse-overlayfs', 'squashfuse_ll': 'squashfuse',
              'inotifywait': 'inotify-tools'}


def podman_hpc_root(folder):
    '''podman-hpc's folder of an image folder: ``.cache/podman-hpc`` beside ``.cache/podman``.'''
    return podman.podman_root(folder).parent / 'podman-hpc'


def executable():
    '''The real podman-hpc (pip's console script): this interpreter's environment first
    (``.venv/bin``, where requirements.txt puts it), else PATH; None when missing.'''
    here = Path(sys.prefix) / 'bin' / 'podman-hpc'
    if here.is_file():
        return here
    found = shutil.which('podman-hpc')
    return Path(found) if found else None


def _real():
    '''The real podman-hpc, or where requirements.txt will put it.'''
    return executable() or Path(sys.prefix) / 'bin' / 'podman-hpc'


def command(root):
    '''The ``podman-hpc`` a job runs: the wrapper in ``ROOT/bin`` (absolute path).'''
    return Path(root) / 'bin' / 'podman-hpc'


def mksquashfs(root):
    return Path(root) / 'bin' / 'mksquashfs.static'


def squash_dir(root):
    return Path(root) / 'squash'


def node_name():
    '''What the wrapper calls this node: Slurm's name for it, else the host name (each
    virtual-cluster node has its own UTS namespace).'''
    return os.environ.get('SLURMD_NODENAME') or os.uname().nodename


def nodes_dir(root):
    '''Where the nodes' podman state goes: node-local /tmp (podman-hpc's own default is
    ``/tmp/{uid}_hpc``), one folder per podman-hpc root (its hash) and per node.  Short on
    purpose: podman refuses a runroot longer than 50 characters with fuse-overlayfs.'''
    tag = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:8]
    return Path(f'/tmp/hpcval-phpc-{os.getuid()}-{tag}')


def node_dir(root, node=None):
    return nodes_dir(root) / (node or node_name())


def site_config(root):
    '''The text of podman_hpc.yaml (podman-hpc 1.2.2 refuses keys it does not know).'''
    root = Path(root).resolve()
    node = f'{nodes_dir(root)}/{{{{ env.{NODE_VAR} }}}}'
    return (f'# written by hpcval (hpcval/containers/podman_hpc.py) for podman-hpc {VERSION}\n'
            f'podman_bin: "{shutil.which("podman") or "/usr/bin/podman"}"\n'
            '# mounts each squashed layer with squashfuse_ll under fuse-overlayfs (pip installs it beside podman-hpc)\n'
            f'mount_program: "{_real().parent / "fuse-overlayfs-wrap"}"\n'
            '# node-local podman state: the wrapper bin/podman-hpc sets HPCVALNODE\n'
            f'graph_root_template: "{node}/storage"\n'
            f'run_root_template: "{node}/run"\n'
            f'config_home_template: "{node}/config"\n'
            '# migrate runs it inside the image: static, and taking -xattrs-exclude\n'
            f'mksquashfs_bin: "{mksquashfs(root)}"\n'
            '# no hook, no modules: the checks emit their flags and binds themselves\n'
            f'hooks_dir: "{root}/hooks.d"\n'
            f'modules_dir: "{root}/modules.d"\n'
            '# shared-run under Open MPI\'s mpirun (under srun: SLURM_LOCALID, SLURM_STEP_TASKS_PER_NODE)\n'
            'localid_var: "OMPI_COMM_WORLD_LOCAL_RANK"\n'
            'tasks_per_node_var: "OMPI_COMM_WORLD_LOCAL_SIZE"\n'
            '# what each rank\'s `podman exec` into the shared container passes on\n'
            'shared_run_exec_args: ["-e", "OMPI_*", "-e", "PMIX_*", "-e", "SLURM_*", "-e", "PMI_*"]\n')


def node_confs(root):
    '''(storage.conf.in, containers.conf.in): podman.py's settings (limits this VM allows,
    host network, cgroupfs, file events) with @NODE_DIR@ for the node's folder.'''
    limits = ', '.join(f'"{u}"' for u in podman._ulimits())
    storage = ('# written by hpcval (hpcval/containers/podman_hpc.py); bin/podman-hpc fills in @NODE_DIR@\n'
               '[storage]\ndriver = "overlay"\n'
               'graphroot = "@NODE_DIR@/storage"\nrunroot = "@NODE_DIR@/run"\n')
    containers = ('# written by hpcval (hpcval/containers/podman_hpc.py); bin/podman-hpc fills in @NODE_DIR@\n'
                  '[containers]\n'
                  '# the limits podman would raise need CAP_SYS_RESOURCE: keep the current ones\n'
                  f'default_ulimits = [{limits}]\n'
                  '# no CNI bridge, iptables chains or ip_forward change (migrate\'s podman run too)\n'
                  'netns = "host"\n'
                  '[engine]\n'
                  'cgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                  'events_logfile_path = "@NODE_DIR@/run/events.log"\n'
                  'tmp_dir = "@NODE_DIR@/run/libpod"\n'
                  'image_copy_tmp_dir = "@NODE_DIR@/tmp"\n')
    return storage, containers


def wrapper(root):
    '''The text of bin/podman-hpc.'''
    root = Path(root).resolve()
    real = _real()
    return f'''#!/bin/sh
# written by hpcval (hpcval/containers/podman_hpc.py): podman-hpc {VERSION} with this node's own
# podman state in {nodes_dir(root)}/NODE, the project's site config and squash store
root={root}
node=${{SLURMD_NODENAME:-$(uname -n)}}
dir={nodes_dir(root)}/$node
if [ ! -f "$dir/containers.conf" ] || [ "$root/containers.conf.in" -nt "$dir/containers.conf" ]; then
    mkdir -p "$dir/storage" "$dir/run" "$dir/tmp" "$dir/config"
    for f in storage.conf containers.conf; do
        sed "s|@NODE_DIR@|$dir|g" "$root/$f.in" > "$dir/$f.$$" && mv -f "$dir/$f.$$" "$dir/$f"
    done
fi
export {NODE_VAR}="$node" CONTAINERS_STORAGE_CONF="$dir/storage.conf" CONTAINERS_CONF="$dir/containers.conf"
export PODMANHPC_CONFIG_FILE="${{PODMANHPC_CONFIG_FILE:-$root/podman_hpc.yaml}}"
export SQUASH_DIR="${{SQUASH_DIR:-$root/squash}}" USER="${{USER:-$(id -un)}}"
export PATH="{real.parent}:$PATH"
exec {real} "$@"
'''


def _write(path, text, mode=None):
    '''Write only what changed (the wrapper compares the templates' times).'''
    path = Path(path)
    if not path.exists() or path.read_text() != text:
        tmp = path.with_name(f'.{path.name}.{os.getpid()}')
        tmp.write_text(text)
        if mode:
            tmp.chmod(mode)
        os.replace(tmp, path)


def write_conf(root):
    '''(Re)write the site config, node templates, wrapper and empty folders; return job_env.'''
    root = Path(root)
    for sub in ('bin', 'hooks.d', 'modules.d'):
        (root / sub).mkdir(parents=True, exist_ok=True)
    _write(root / 'podman_hpc.yaml', site_config(root))
    storage, containers = node_confs(root)
    _write(root / 'storage.conf.in', storage)
    _write(root / 'containers.conf.in', containers)
    _write(command(root), wrapper(root), 0o755)
    return job_env(root)


def job_env(root, launcher='mpirun'):
    '''What a job's environment needs for ``podman-hpc run|shared-run IMAGE ...`` to work
    without a terminal.  The wrapper sets the same defaults; here they are visible in the
    job script.  None of them is for the container: do not pass them in with ``-e``.

    - PATH: ``ROOT/bin`` first, so ``podman-hpc`` is the wrapper (node-local state); then
      the real one's folder (``.venv/bin``): podman-hpc looks up ``fuse-overlayfs-wrap``
      on PATH before it reads its config and exits without it.  ``$PATH`` is left for the
      job's shell to expand (``expanded`` for subprocesses).
    - PODMANHPC_CONFIG_FILE: the project's site config instead of /etc/podman_hpc/podman_hpc.yaml
      (pip puts the shipped one under .venv/etc, where podman-hpc does not look).
    - SQUASH_DIR: the squash store; podman-hpc reads it only from the environment (it is
      no config key), default ``$SCRATCH/storage`` or ``/tmp/storage``.
    - USER: podman-hpc exits with ``Error: 'USER'... Exiting`` when ``os.getlogin()``
      fails (no terminal: batch jobs, ReFrame, mpirun's ranks) and USER is unset.
    - ``launcher='srun'``: PODMANHPC_LOCALID_VAR, PODMANHPC_TASKS_PER_NODE_VAR: shared-run
      starts the node's container from local rank 0 and waits for as many ranks as the
      node has; the site config names Open MPI's mpirun variables, srun sets Slurm's.
    '''
    root = Path(root).resolve()
    real = _real()
    return {'PATH': f'{root / "bin"}:{real.parent}:$PATH',
            'PODMANHPC_CONFIG_FILE': str(root / 'podman_hpc.yaml'),
            'SQUASH_DIR': str(squash_dir(root)),
            'USER': os.environ.get('USER') or _user(),
            **({'PODMANHPC_LOCALID_VAR': 'SLURM_LOCALID', 'PODMANHPC_TASKS_PER_NODE_VAR': 'SLURM_STEP_TASKS_PER_NODE'}
               if launcher == 'srun' else {})}


def _user():
    import pwd
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def expanded(env, base=None):
    '''``base`` (os.environ) updated with ``env``, ``$PATH`` expanded against base.'''
    out = dict(os.environ if base is None else base)
    for k, v in env.items():
        out[k] = v.replace('$PATH', out.get('PATH', '')) if k == 'PATH' else v
    return out


def check(root=None, need_mksquashfs=False):
    '''The host side of podman-hpc, or a one-line ImageError naming what is missing and the
    command that fixes it.  The static mksquashfs is built on first use (``migrate``):
    here only its build's prerequisites are checked, unless ``need_mksquashfs``.'''
    if executable() is None:
        raise ImageError(f'missing podman-hpc: {Path(sys.prefix) / "bin" / "pip"} install podman-hpc=={VERSION} '
                         '(in requirements.txt: make setup)')
    if not (executable().parent / 'fuse-overlayfs-wrap').is_file():
        raise ImageError(f'missing fuse-overlayfs-wrap beside {executable()}: reinstall podman-hpc=={VERSION}')
    missing = [pkg for tool, pkg in HOST_TOOLS.items() if not shutil.which(tool, path=_syspath())]
    if missing:
        raise ImageError(f'podman-hpc needs {", ".join(missing)}: apt-get install {" ".join(missing)}')
    if not os.path.exists('/dev/fuse'):
        raise ImageError('podman-hpc needs /dev/fuse (squashfuse, fuse-overlayfs): modprobe fuse')
    if root is None:
        return
    sq = mksquashfs(root)
    if need_mksquashfs and not os.access(sq, os.X_OK):
        raise ImageError(f'missing the static mksquashfs podman-hpc migrate runs: '
                         f'{MKSQUASHFS_SCRIPT.relative_to(REPO)} {sq}')
    if not os.access(sq, os.X_OK):
        build = [p for p in ('gcc', 'make', 'libc6-dev', 'zlib1g-dev', 'liblz4-dev', 'dpkg-dev')
                 if not _installed(p)]
        if build:
            raise ImageError(f'building the static mksquashfs for podman-hpc needs {", ".join(build)}: '
                             f'apt-get install {" ".join(build)}')


def _syspath():
    return os.environ.get('PATH', '') + ':/usr/sbin:/usr/bin:/sbin:/bin'


def _installed(pkg):
    proc = subprocess.run(['dpkg-query', '-W', '-f=${Status}', pkg], capture_output=True, text=True)
    return proc.returncode == 0 and 'install ok installed' in proc.stdout


def ensure_mksquashfs(root, log):
    '''The static mksquashfs, built by scripts/static-mksquashfs.sh when missing (about 5 s).'''
    sq = mksquashfs(root)
    if os.access(sq, os.X_OK):
        return sq
    with open(log, 'a') as fp:
        fp.write(f'$ {MKSQUASHFS_SCRIPT} {sq}\n')
        fp.flush()
        proc = subprocess.run([str(MKSQUASHFS_SCRIPT), str(sq)], stdout=fp, stderr=subprocess.STDOUT,
                              timeout=600)
    if proc.returncode or not os.access(sq, os.X_OK):
        raise ImageError(f'building the static mksquashfs failed ({MKSQUASHFS_SCRIPT.relative_to(REPO)} '
                         f'exited {proc.returncode}): see {log}')
    return sq


class PodmanHpc:
    '''podman-hpc commands through the wrapper, with the job environment.'''

    def __init__(self, root):
        self.root = Path(root)
        self.env = expanded(job_env(self.root))
        self.env.pop('VIRTUAL_ENV', None)
        self.cmd = str(command(self.root))

    def run(self, args, log, timeout=1800, stdin=None):
        '''Run ``podman-hpc ARGS`` (or a command given whole when args[0] is absolute);
        output appended to log; return (rc, output).'''
        args = [str(a) for a in args]
        if not args[0].startswith('/'):
            args = [self.cmd, *args]
        with open(log, 'a') as fp:
            fp.write(f'$ {" ".join(args)}\n')
            fp.flush()
            proc = subprocess.run(args, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, env=self.env, timeout=timeout)
            fp.write(proc.stdout)
        return proc.returncode, proc.stdout

    def images(self):
        '''{image id: read-only} that podman-hpc lists: its graph root's copy (False) and the
        squash store's (True); an image in both counts as read-only.'''
        proc = subprocess.run([self.cmd, 'images', '--no-trunc', '--format', '{{.ID}} {{.ReadOnly}}'],
                              capture_output=True, text=True, env=self.env, timeout=120)
        if proc.returncode:
            raise ImageError(f'podman-hpc images failed: {(proc.stdout + proc.stderr).strip()[-300:]}')
        out = {}
        for line in proc.stdout.split('\n'):
            if line.strip():
                iid, ro = line.split()[:2]
                iid = iid if iid.startswith('sha256:') else f'sha256:{iid}'
                out[iid] = out.get(iid, False) or ro == 'true'
        return out


def squashed(root, digest):
    '''(squash file, its size) of an image id in the squash store, or (None, 0): the
    store's images.json names the image, its top layer's link names the file.'''
    store_dir = squash_dir(root)
    try:
        images = json.loads((store_dir / 'overlay-images' / 'images.json').read_text())
    except (OSError, ValueError):
        return None, 0
    want = digest.split(':', 1)[-1]
    for img in images:
        if img.get('id') == want:
            try:
                link = (store_dir / 'overlay' / img['layer'] / 'link').read_text().strip()
            except (OSError, KeyError):
                return None, 0
            sq = store_dir / 'overlay' / 'l' / f'{link}.squash'
            return (sq, sq.stat().st_size) if sq.is_file() else (None, 0)
    return None, 0


def migrate(pipe_folder, name, tag=store.DEFAULT_TAG, log=None, root=None):
    '''The podman build ``localhost/hpcval/NAME:TAG`` (project podman storage) into
    podman-hpc's squash store; recorded as the index entry's ``podman_hpc``.  Returns
    (image, digest, seconds of each step, {} when it was squashed before: then only checked).
    ``root``: another podman-hpc folder (tests), then nothing is recorded.'''
    folder = Path(pipe_folder)
    record = root is None
    root = Path(root) if root else podman_hpc_root(folder)
    image, digest = podman.recorded(store.ref(name, tag), folder)
    check(root)
    write_conf(root)
    log = Path(log or root / f'migrate-{store.stem(name, tag)}.log')
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text('')
    ensure_mksquashfs(root, log)
    phpc = PodmanHpc(root)
    seconds = {}
    t_all = time.monotonic()
    squash, size = squashed(root, digest)
    if squash is None:
        # podman-hpc migrates from its own graph root: copy the image there, store to store
        # (no archive file; the layers are re-applied, not recompressed)
        pm = podman.Podman(podman.podman_root(folder))
        node = node_dir(root)
        for sub in ('storage', 'run'):
            (node / sub).mkdir(parents=True, exist_ok=True)
        dest = f'containers-storage:[overlay@{node / "storage"}+{node / "run"}]{image}'
        t0 = time.monotonic()
        rc, out = pm.run(['podman', 'push', '--quiet', image, dest], log)
        seconds['copy'] = round(time.monotonic() - t0, 1)
        if rc:
            raise ImageError(f'copying {image} into podman-hpc\'s graph root failed: {out.strip()[-300:]} (log: {log})')
        t0 = time.monotonic()
        rc, out = phpc.run(['migrate', image], log)
        seconds['migrate'] = round(time.monotonic() - t0, 1)
        squash, size = squashed(root, digest)
        # migrate exits 0 whatever happened: its log lines say why
        if rc or squash is None:
            raise ImageError(f'podman-hpc migrate {image} made no squash file: '
                             f'{out.strip().splitlines()[-1] if out.strip() else f"exit {rc}"} (log: {log})')
        # the graph root's copy served only the migration: the squash store serves the nodes
        t0 = time.monotonic()
        phpc.run(['rmi', image], log)
        seconds['rmi'] = round(time.monotonic() - t0, 1)
    if phpc.images().get(digest) is not True:
        raise ImageError(f'podman-hpc images does not list {image} ({digest[:19]}) read-only after migrate '
                         f'(log: {log})')
    if not record:
        seconds['total'] = round(time.monotonic() - t_all, 1)
        return image, digest, seconds
    index = store.Index(folder)
    entry = index.entry(store.key(name, tag))
    old = entry.get('podman_hpc') or {}
    if not seconds and old.get('digest') == digest and old.get('squash') == str(squash):
        # squashed before: the record keeps when and how long that took
        rec = {**old, 'checked': store.now()}
    else:
        seconds['total'] = round(time.monotonic() - t_all, 1)
        rec = {'image': image, 'digest': digest, 'squash': str(squash), 'bytes': size, 'seconds': seconds,
               'migrated': store.now(), 'podman_hpc': VERSION}
    entry['podman_hpc'] = rec
    index.save()
    return image, digest, seconds          # {} when it was squashed before


def recorded(ref, folder):
    '''(image, digest) of ``NAME[:TAG]`` migrated to podman-hpc's squash store and still
    there, or ImageError with the command that migrates it.'''
    name, tag = store.parse_ref(ref)
    rec = (store.recorded_images(folder).get(store.key(name, tag)) or {}).get('podman_hpc') or {}
    built = (store.recorded_images(folder).get(store.key(name, tag)) or {}).get('podman') or {}
    how = MIGRATE.format(name=name, tag=f' --tag {tag}' if tag != store.DEFAULT_TAG else '')
    if not rec.get('digest'):
        raise ImageError(f'image {store.ref(name, tag)} not migrated to podman-hpc: run `{how}`')
    if built.get('digest') and built['digest'] != rec['digest']:
        raise ImageError(f'image {store.ref(name, tag)}: the podman build changed since its podman-hpc '
                         f'migration: run `{how}` again')
    if squashed(podman_hpc_root(folder), rec['digest'])[0] is None:
        raise ImageError(f'image {store.ref(name, tag)}: its squash file is gone from '
                         f'{squash_dir(podman_hpc_root(folder))}: run `{how}` again')
    return rec['image'], rec['digest']
