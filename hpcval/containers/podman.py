"""Podman as a second builder: the same Dockerfiles, built by ``podman build``.

The chain is the Charliecloud pipeline's: the debootstrap tree (ch-image's
``hpcval/bootstrap``, made once by the pipeline) is ``podman import``-ed as
``localhost/hpcval/bootstrap:current``, then every recipe of the chain is
built with ``podman build --build-arg BASE=localhost/hpcval/<base>:current``
(``FROM $BASE`` reads the same in both builders), and the image is smoke
tested with its ``# hpcval-test`` line in ``podman run``.  The result goes
into the image index beside the Charliecloud formats, as the entry's
``podman`` record: ``{image, digest, built, seconds, test}``; a Charliecloud
rebuild does not drop it (they are two builds of one recipe).

Podman keeps its storage in the project (``.cache/podman`` beside the image
folder), through a generated ``storage.conf`` and ``containers.conf`` that
every podman command here and every job gets in its environment
(``job_env``).  Nothing is written under /etc/containers.  Two settings this
machine needs (benchmarks/RESULTS.md, "Podman"): root without
CAP_SYS_RESOURCE cannot raise rlimits, so the containers' limits are the
current ones (podman's defaults would raise them and runc fails with "error
setting rlimit"); and ``netns = "host"``: no CNI bridge, iptables chain or
ip_forward change on the host.
"""
import os
import re
import resource
import shutil
import subprocess
import time
from pathlib import Path

from hpcval.containers import recipes, store
from hpcval.containers.errors import ImageError

#: podman's name of a recipe's image; the tag is the hpcval tag
IMAGE_PREFIX = 'localhost/' + recipes.TAG_PREFIX
#: podman build prints each instruction as "STEP 3/8: RUN cmd"
_STEP = re.compile(r'^STEP (\d+/\d+): (.*)$', re.M)
#: the containers run no more processes than conmon itself may start
NPROC_CAP = 32768


def podman_root(folder):
    '''The podman storage of an image folder: ``.cache/podman`` beside ``.cache/images``.'''
    return Path(folder).resolve().parent / 'podman'


def image_name(name, tag=store.DEFAULT_TAG):
    return f'{IMAGE_PREFIX}{name}:{tag}'


def conf_env(root):
    '''What a podman command (a build here, a job's ``podman run``) needs in its environment.'''
    root = Path(root)
    return {'CONTAINERS_STORAGE_CONF': str(root / 'storage.conf'),
            'CONTAINERS_CONF': str(root / 'containers.conf')}


def _ulimits():
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    nproc = NPROC_CAP if nproc == resource.RLIM_INFINITY else min(nproc, NPROC_CAP)
    return [f'nofile={nofile}:{nofile}', f'nproc={nproc}:{nproc}']


def write_conf(root):
    '''(Re)write storage.conf and containers.conf under ``root``; return conf_env.'''
    root = Path(root)
    for sub in ('storage', 'run', 'tmp'):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / 'storage.conf').write_text(
        '# written by hpcval (hpcval/containers/podman.py): podman storage inside the project\n'
        '[storage]\ndriver = "overlay"\n'
        f'graphroot = "{root / "storage"}"\nrunroot = "{root / "run"}"\n')
    limits = ', '.join(f'"{u}"' for u in _ulimits())
    (root / 'containers.conf').write_text(
        '# written by hpcval (hpcval/containers/podman.py)\n'
        '[containers]\n'
        '# the limits podman would raise need CAP_SYS_RESOURCE: keep the current ones\n'
        f'default_ulimits = [{limits}]\n'
        '# no CNI bridge, iptables chains or ip_forward change on the host\n'
        'netns = "host"\n'
        '[engine]\n'
        '# no systemd here to manage cgroups or a journal\n'
        'cgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
        f'events_logfile_path = "{root / "run" / "events.log"}"\n'
        f'tmp_dir = "{root / "run" / "libpod"}"\n'
        f'image_copy_tmp_dir = "{root / "tmp"}"\n')
    return conf_env(root)


class Podman:
    '''The podman commands, with the project's storage and the environment they need.'''

    def __init__(self, root):
        self.root = Path(root)
        self.env = dict(os.environ)
        self.env.pop('VIRTUAL_ENV', None)
        self.env.update(conf_env(self.root))
        self.env['TMPDIR'] = str(self.root / 'tmp')       # import and build stage big files there
        # smoke tests run MPI: keep it on loopback
        self.env.update({'OMPI_MCA_btl_tcp_if_include': 'lo', 'OMPI_MCA_oob_tcp_if_include': 'lo'})

    def check(self):
        if not shutil.which('podman'):
            raise ImageError('missing podman: apt-get install podman (Debian 12: 4.3)')
        write_conf(self.root)

    def run(self, args, log, timeout=1800, stdin=None):
        '''Run a command, its output appended to log; return (rc, output).'''
        with open(log, 'a') as fp:
            fp.write(f'$ {" ".join(map(str, args))}\n')
            fp.flush()
            proc = subprocess.run(list(map(str, args)), stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, env=self.env, timeout=timeout)
            fp.write(proc.stdout)
        return proc.returncode, proc.stdout

    def inspect(self, image, what):
        '''A field of ``podman image inspect`` (a Go template), '' when there is no such image.'''
        proc = subprocess.run(['podman', 'image', 'inspect', '--format', what, image],
                              capture_output=True, text=True, env=self.env)
        return proc.stdout.strip() if proc.returncode == 0 else ''

    def image_id(self, image):
        '''``sha256:<id>`` of an image in the storage (its config's digest), '' when there is none.'''
        got = self.inspect(image, '{{.Id}}')
        return f'sha256:{got}' if got else ''

    def remove(self, image):
        '''Remove an image from the storage; False when it was not there.'''
        return subprocess.run(['podman', 'rmi', '--force', image], capture_output=True,
                              env=self.env).returncode == 0

    def import_tree(self, tree, image, log):
        '''``podman import`` a root file-system tree (ch-image's storage, ``ch/`` left out) with a PATH.'''
        env = ['--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']
        with open(log, 'a') as fp:
            fp.write(f'$ tar -C {tree} --exclude=./ch -c . | podman import {" ".join(env)} - {image}\n')
        tar = subprocess.Popen(['tar', '-C', str(tree), '--exclude=./ch', '-c', '.'],
                               stdout=subprocess.PIPE)
        try:
            rc, out = self.run(['podman', 'import', *env, '-', image], log, stdin=tar.stdout)
        finally:
            tar.stdout.close()
            tar.wait()
        return rc or tar.returncode, out


def build(pipe, name, tag=store.DEFAULT_TAG, rebuild=False):
    '''Build ``name`` and its bases with podman, smoke test each, record them in
    the index (``podman``).  ``pipe`` is the Charliecloud pipeline, whose
    debootstrap tree the chain starts from.  Returns [pipeline.Result].'''
    from hpcval.containers.pipeline import Result, StageFailed, _rel, _tail
    name, root = recipes.locate(name) if pipe.root == recipes.RECIPES else (name, pipe.root)
    chain = recipes.chain(name, root)
    pm = Podman(podman_root(pipe.folder))
    pipe.ch.check()
    pm.check()
    pipe.logs.mkdir(parents=True, exist_ok=True)
    results = [pipe.bootstrap(rebuild=False)]
    boot = image_name(recipes.BOOTSTRAP)
    res = Result(f'{recipes.BOOTSTRAP} (podman)')
    boot_key = store.Index(pipe.folder).images.get(recipes.BOOTSTRAP, {}).get('key', '')
    marker = pm.root / 'bootstrap.key'
    if rebuild or not pm.image_id(boot) or not marker.exists() or marker.read_text() != boot_key:
        log = pipe.logs / 'bootstrap.podman.log'
        log.write_text('')
        pipe.echo(f'[{recipes.BOOTSTRAP}] podman import -> {boot}')
        t0 = time.monotonic()
        rc, out = pm.import_tree(pipe.ch.image_dir(recipes.TAG_PREFIX + recipes.BOOTSTRAP), boot, log)
        if rc:
            raise StageFailed(recipes.BOOTSTRAP, 'import', f'podman import: {_tail(out)} (log: {_rel(log)})')
        marker.write_text(boot_key)
        res.stages['import'] = round(time.monotonic() - t0, 1)
    else:
        res.stages['import'] = 'cached'
    results.append(res)
    for i, recipe in enumerate(chain):
        this_tag = tag if i == len(chain) - 1 else store.DEFAULT_TAG
        ref, stem = store.ref(recipe.name, this_tag), store.stem(recipe.name, this_tag)
        image = image_name(recipe.name, this_tag)
        res = Result(f'{ref} (podman)')
        log = pipe.logs / f'{stem}.podman.log'
        log.write_text('')
        pipe.echo(f'[{stem}] podman build -t {image} -f {_rel(recipe.path)}')
        t0 = time.monotonic()
        rc, out = pm.run(['podman', 'build', '--network', 'host', '--pull=never',
                          *(['--no-cache'] if rebuild else []),
                          '--build-arg', f'BASE={image_name(recipe.base)}', '-t', image,
                          '-f', recipe.path, recipes.CONTEXT], log)
        res.stages['build'] = round(time.monotonic() - t0, 1)
        index = store.Index(pipe.folder)
        rec = {'image': image, 'recipe': _rel(recipe.path), 'built': store.now(),
               'seconds': {'build': res.stages['build']}}
        if rc:
            rec.update({'build': {'status': 'failed', 'error': failing_step(out, recipe.path)}})
            index.entry(store.key(recipe.name, this_tag))['podman'] = rec
            index.save()
            raise StageFailed(f'{ref} (podman)', 'build', f'{rec["build"]["error"]} (log: {_rel(log)})')
        size = pm.inspect(image, '{{.Size}}')
        rec.update({'build': {'status': 'passed'}, 'digest': pm.image_id(image),
                    'bytes': int(size) if size.isdigit() else None})
        pipe.echo(f'[{stem}] podman test: {recipe.test}')
        t0 = time.monotonic()
        try:
            rc, out = pm.run(['podman', 'run', '--rm', '--network', 'host',
                              '-e', 'OMPI_MCA_btl_tcp_if_include=lo', '-e', 'OMPI_MCA_oob_tcp_if_include=lo',
                              image, 'sh', '-c', recipe.test], log, timeout=600)
        except subprocess.TimeoutExpired:
            rc, out = 124, 'timed out after 600 s'
        res.stages['test'] = rec['seconds']['test'] = round(time.monotonic() - t0, 1)
        rec['test'] = {'status': 'passed' if rc == 0 else 'failed', 'command': recipe.test, 'rc': rc,
                       'at': store.now(), 'output_tail': _tail(out, 6)}
        index = store.Index(pipe.folder)
        index.entry(store.key(recipe.name, this_tag))['podman'] = rec
        index.save()
        results.append(res)
        if rc:
            raise StageFailed(f'{ref} (podman)', 'test', f'`{recipe.test}` exited {rc}: {_tail(out, 1)} '
                                                         f'(log: {_rel(log)})')
    return results


def failing_step(output, dockerfile):
    '''"Dockerfile: STEP n/m: INSTR args: error" for the step podman was running when it failed.'''
    from hpcval.containers.pipeline import _rel, _tail
    steps = _STEP.findall(output)
    errors = [ln for ln in output.splitlines() if ln.startswith('Error:')]
    error = errors[-1][len('Error:'):].strip() if errors else _tail(output, 1)
    if not steps:
        return f'{_rel(dockerfile)}: {error}'
    where, what = steps[-1]
    what = what if len(what) <= 80 else what[:77] + '...'
    return f'{_rel(dockerfile)}: STEP {where}: {what}: {error}'


def recorded(ref, folder):
    '''(podman image name, digest) of ``NAME[:TAG]`` built by podman and tested, or ImageError
    with the command that builds it.'''
    name, tag = store.parse_ref(ref)
    rec = (store.recorded_images(folder).get(store.key(name, tag)) or {}).get('podman') or {}
    if rec.get('test', {}).get('status') != 'passed' or not rec.get('digest'):
        state = 'failed its podman smoke test' if rec.get('test', {}).get('status') == 'failed' else \
            'not built with podman'
        how = f'hpcval image build {name} --builder podman' + (f' --tag {tag}' if tag != store.DEFAULT_TAG else '')
        raise ImageError(f'image {store.ref(name, tag)} {state}: run `{how}`')
    return rec['image'], rec['digest']
