"""Offline image pipeline: debootstrap -> ch-image import -> ch-image build ->
smoke test in ch-run -> ch-convert to a directory -> mksquashfs (zstd) to SquashFS.

No registry is needed: the base is a minimal Debian made by debootstrap, and
each recipe's ``RUN apt-get`` / ``pip`` reach the package registries from
inside the build.  Every stage is timed and recorded in the image index; a
stage that fails stops the chain for that image, which is then not converted.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from hpcval.containers import mirror as mirrors, recipes, store
from hpcval.containers.errors import ImageError

SUITE = 'bookworm'
FORMATS = ('dir', 'squash')
#: SquashFS compressor, as mksquashfs options.  ch-convert's own choice is
#: gzip, many times slower than zstd level 3 for a file only a little smaller
#: (benchmarks/RESULTS.md, "Image pipeline").  squashfuse
#: (which ch-run mounts with) and kernels >= 4.14 read zstd; a site whose
#: do not sets HPCVAL_SQUASH_COMP=gzip.
DEFAULT_SQUASH_COMP = 'zstd -Xcompression-level 3'
SITE_CA_DIR = Path('/usr/local/share/ca-certificates')
#: ch-image prints each instruction as " 12. RUN.F cmd" (12 = Dockerfile line;
#: "*" instead of "." when it came from the build cache).
_INSTRUCTION = re.compile(r'^\s*(\d+)[.*] (\w+)(?:\.F)? ?(.*)$')


class StageFailed(Exception):
    '''An image failed a stage (build or test): exit 1, reported by stage.'''
    def __init__(self, name, stage, message):
        super().__init__(f'{name}: {stage} failed: {message}')
        self.name, self.stage = name, stage


@dataclass
class Result:
    name: str
    stages: dict = field(default_factory=dict)     # stage -> seconds, or 'cached'


class Charliecloud:
    '''The Charliecloud commands, with the environment they need here.'''

    def __init__(self, storage):
        self.storage = Path(storage)
        self.env = dict(os.environ)
        self.env.setdefault('USER', 'root' if os.geteuid() == 0 else str(os.geteuid()))
        # ch-image is '#!/usr/bin/env python3' and needs Debian's python3-lark:
        # the system Python must come first, not a virtualenv's or pyenv's.
        self.env['PATH'] = '/usr/bin:/bin:' + self.env.get('PATH', '')
        self.env['CH_IMAGE_STORAGE'] = str(self.storage)
        # smoke tests run MPI: keep it on loopback
        self.env.update({'OMPI_MCA_btl_tcp_if_include': 'lo', 'OMPI_MCA_oob_tcp_if_include': 'lo'})
        self.env.pop('VIRTUAL_ENV', None)

    def check(self):
        missing = [t for t in ('ch-image', 'ch-run', 'ch-convert', 'debootstrap', 'mksquashfs')
                   if not shutil.which(t, path=self.env['PATH'] + ':/usr/sbin:/sbin')]
        if missing:
            raise ImageError(f'missing {", ".join(missing)}: apt-get install charliecloud '
                             f'charliecloud-builders debootstrap squashfs-tools squashfuse python3-lark')

    def image_dir(self, tag):
        # ch-image's storage path of a name: "/" -> "%", ":" (the tag) -> "+"
        return self.storage / 'img' / tag.replace('/', '%').replace(':', '+')

    def has(self, tag):
        return (self.image_dir(tag) / 'bin').is_dir()

    def run(self, args, log, timeout=1800):
        '''Run a command, its output appended to log; return (rc, output).'''
        with open(log, 'a') as fp:
            fp.write(f'$ {" ".join(map(str, args))}\n')
            fp.flush()
            proc = subprocess.run([str(a) for a in args], env=self.env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, errors='replace',
                                  timeout=timeout)
            fp.write(proc.stdout)
        return proc.returncode, proc.stdout


class Pipeline:
    def __init__(self, folder=None, storage=None, mirror=None, formats=FORMATS,
                 root=recipes.RECIPES, echo=print):
        self.folder = store.check_folder(folder or store.image_folder())
        self.storage = Path(storage or self.folder.parent / 'ch-image')
        self._mirror = mirror
        self.formats = tuple(formats)
        self.root = root
        self.echo = echo
        self.ch = Charliecloud(self.storage)
        self.logs = self.folder / 'logs'
        self.squash_comp = ' '.join(os.environ.get('HPCVAL_SQUASH_COMP', DEFAULT_SQUASH_COMP).split())
        if not re.fullmatch(r'[A-Za-z0-9][A-Za-z0-9 ._-]*', self.squash_comp):
            raise ImageError(f'HPCVAL_SQUASH_COMP={self.squash_comp!r}: expected mksquashfs '
                             f'compressor options such as "zstd -Xcompression-level 3" or "gzip"')

    # -- the whole chain -------------------------------------------------
    def build(self, name, rebuild=False, tag=store.DEFAULT_TAG):
        '''Build, test and convert ``name`` (a recipe name, or a path to one:
        recipes.locate) and the recipes it stands on; the image itself is
        stored as ``name:tag``, its bases under their current tag.  Returns
        [Result], the bootstrap first.'''
        name, root = recipes.locate(name) if self.root == recipes.RECIPES else (name, self.root)
        chain = recipes.chain(name, root)          # parse everything before any work
        self.ch.check()
        self.logs.mkdir(parents=True, exist_ok=True)
        results = [self.bootstrap(rebuild)]
        base_key = store.Index(self.folder).images.get(recipes.BOOTSTRAP, {}).get('key', '')
        for i, recipe in enumerate(chain):
            last = i == len(chain) - 1
            res, base_key = self._one(recipe, base_key, rebuild, tag if last else store.DEFAULT_TAG)
            results.append(res)
        return results

    def _one(self, recipe, base_key, rebuild, tag=store.DEFAULT_TAG):
        key = recipe.key(base_key)
        index = store.Index(self.folder)
        k = store.key(recipe.name, tag)
        entry = index.images.get(k, {})
        res = Result(store.ref(recipe.name, tag) if tag != store.DEFAULT_TAG else recipe.name)
        fresh = (not rebuild and entry.get('key') == key and self.ch.has(recipe.image_tag(tag))
                 and entry.get('test', {}).get('status') == 'passed'
                 and all(store.converted(recipe.name, f, self.folder, tag) for f in self.formats)
                 and ('squash' not in self.formats
                      or entry['formats']['squash'].get('compression') == self.squash_comp))
        if fresh:
            self.echo(f'[{res.name}] up to date ({key[:12]}): build, test and convert reused')
            res.stages = {'build': 'cached', 'test': 'cached', 'convert': 'cached'}
            return res, key
        res.stages['build'] = self._build(recipe, key, tag)
        res.stages['test'] = self.test(recipe.name, tag)
        res.stages['convert'] = self.convert(recipe.name, tag)
        return res, key

    def _recipe(self, name, tag):
        '''The recipe an image in the index was built from (it may live outside containers/).'''
        entry = store.Index(self.folder).images.get(store.key(name, tag), {})
        if entry.get('source'):
            raise ImageError(f'{store.ref(name, tag)} was imported, not built: it has no recipe')
        where = entry.get('recipe_dir')
        return recipes.load(name, Path(where).parent if where else self.root)

    # -- stages ----------------------------------------------------------
    def bootstrap(self, rebuild=False):
        tag = recipes.TAG_PREFIX + recipes.BOOTSTRAP
        res = Result(recipes.BOOTSTRAP)
        if self.ch.has(tag) and not rebuild:
            self.echo(f'[{recipes.BOOTSTRAP}] reusing {tag}')
            res.stages['bootstrap'] = 'cached'
            return res
        if os.geteuid() != 0:
            raise ImageError('debootstrap needs root: run `hpcval image build` as root once '
                             '(later builds reuse the imported base)')
        # ch-image creates its storage itself and refuses a folder it did not make
        self.storage.parent.mkdir(parents=True, exist_ok=True)
        store.ensure_free(self.storage.parent, 2 * 300 * 2**20, 'debootstrap and import a base')
        mirror, mirror_from = (self._mirror, 'argument') if self._mirror else mirrors.mirror(SUITE)
        log = self.logs / f'{recipes.BOOTSTRAP}.log'
        log.write_text('')
        t0 = time.monotonic()
        tree = Path(tempfile.mkdtemp(prefix='debootstrap.', dir=self.storage.parent))
        try:
            self.echo(f'[{recipes.BOOTSTRAP}] debootstrap --variant=minbase {SUITE} {mirror} (from {mirror_from})')
            rc, out = self.ch.run(['debootstrap', '--variant=minbase', SUITE, tree, mirror],
                                  log)
            if rc:
                raise StageFailed(recipes.BOOTSTRAP, 'debootstrap', _tail(out))
            # ch-run gives each container its own /dev; left in place, the
            # device nodes are copied as files by the import (/dev/zero
            # without end).  Empty it, then make sure none is left anywhere.
            for p in (tree / 'dev').iterdir():
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
            # A site's own trust anchors (an intercepting proxy's CA) go into
            # the base so that `RUN pip install` inside builds can verify TLS;
            # the base recipe's ca-certificates install picks them up.
            cas = sorted(SITE_CA_DIR.glob('*.crt')) if SITE_CA_DIR.is_dir() else []
            if cas:
                dest = tree / 'usr/local/share/ca-certificates'
                dest.mkdir(parents=True, exist_ok=True)
                for ca in cas:
                    shutil.copy(ca, dest / ca.name)
                self.echo(f'[{recipes.BOOTSTRAP}] site CA(s) added: {", ".join(c.name for c in cas)}')
            left = store.device_nodes(tree)
            if left:
                raise StageFailed(recipes.BOOTSTRAP, 'import',
                                  f'device nodes left in the tree: {", ".join(left[:3])}')
            store.ensure_free(self.storage.parent, 2 * store.tree_size(tree), 'import the base')
            self.echo(f'[{recipes.BOOTSTRAP}] ch-image import -> {tag}')
            rc, out = self.ch.run(['ch-image', 'import', tree, tag], log)
            if rc:
                raise StageFailed(recipes.BOOTSTRAP, 'import', _tail(out))
        finally:
            shutil.rmtree(tree, ignore_errors=True)
        res.stages['bootstrap'] = round(time.monotonic() - t0, 1)
        index = store.Index(self.folder)
        index.images[recipes.BOOTSTRAP] = {
            'tag': tag, 'key': f'{SUITE}@{store.now()}', 'mirror': mirror, 'mirror_from': mirror_from,
            'site_ca': [c.name for c in cas],
            'built': store.now(), 'seconds': {'bootstrap': res.stages['bootstrap']}}
        index.save()
        return res

    def _build(self, recipe, key, tag=store.DEFAULT_TAG):
        stem = store.stem(recipe.name, tag)
        log = self.logs / f'{stem}.build.log'
        log.write_text('')
        image_tag = recipe.image_tag(tag)
        self.echo(f'[{stem}] ch-image build -t {image_tag} -f {_rel(recipe.path)}')
        t0 = time.monotonic()
        base = recipes.TAG_PREFIX + recipe.base
        rc, out = self.ch.run(['ch-image', 'build', '--force', '-t', image_tag,
                               '--build-arg', f'BASE={base}', '-f', recipe.path, recipes.CONTEXT], log)
        seconds = round(time.monotonic() - t0, 1)
        index = store.Index(self.folder)
        entry = index.entry(store.key(recipe.name, tag))
        for stale in ('source', 'imported'):
            entry.pop(stale, None)
        entry.update({'tag': image_tag, 'recipe': _rel(recipe.path), 'base': recipe.base,
                      'recipe_dir': str(recipe.path.parent.resolve()), 'built': store.now()})
        entry.setdefault('seconds', {})['build'] = seconds
        entry.pop('formats', None)        # conversions of an earlier build no longer describe it
        if rc:
            where = failing_instruction(out, recipe.path)
            entry.update({'key': None, 'build': {'status': 'failed', 'error': where}})
            entry.pop('test', None)
            index.save()
            raise StageFailed(recipe.name, 'build', f'{where} (log: {_rel(log)})')
        entry.update({'key': key, 'build': {'status': 'passed'}, 'test': {'status': 'pending'}})
        index.save()
        return seconds

    def test(self, name, tag=store.DEFAULT_TAG):
        recipe = self._recipe(name, tag)
        if not self.ch.has(recipe.image_tag(tag)):
            raise ImageError(f'image {store.ref(name, tag)} not built: run `hpcval image build {name}'
                             + (f' --tag {tag}`' if tag != store.DEFAULT_TAG else '`'))
        return self.smoke(name, tag, recipe.image_tag(tag), recipe.test, '; not converted')

    def smoke(self, name, tag, image, command, note=''):
        '''Run ``command`` in ``image`` (a ch-image name or an image directory),
        record the result in the index; StageFailed when it fails.'''
        stem = store.stem(name, tag)
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f'{stem}.test.log'
        log.write_text('')
        self.echo(f'[{stem}] test: {command}')
        t0 = time.monotonic()
        # The image's ENV applies (--set-env); MPI stays on loopback.
        try:
            rc, out = self.ch.run(['ch-run', '--set-env', image, '--', 'sh', '-c', command], log, timeout=600)
        except subprocess.TimeoutExpired:
            rc, out = 124, 'timed out after 600 s'
        seconds = round(time.monotonic() - t0, 1)
        index = store.Index(self.folder)
        entry = index.entry(store.key(name, tag))
        entry.setdefault('seconds', {})['test'] = seconds
        entry['test'] = {'status': 'passed' if rc == 0 else 'failed', 'command': command,
                         'rc': rc, 'at': store.now(), 'output_tail': _tail(out, 6)}
        index.save()
        if rc:
            raise StageFailed(store.ref(name, tag), 'test', f'`{command}` exited {rc}: {_tail(out, 1)} '
                                                            f'(log: {_rel(log)}){note}')
        return seconds

    def _export_dir(self, name, image_tag, out, log):
        '''ch-convert the built image to a directory image at ``out``: it
        drops the build cache's metadata and adds the mount points ch-run needs.'''
        rc, text = self.ch.run(['ch-convert', '-i', 'ch-image', '-o', 'dir', image_tag, out], log)
        if rc:
            raise StageFailed(name, 'convert', f'{_tail(text, 1)} (log: {_rel(log)})')

    def squash(self, name, source, out, log):
        '''Pack a directory image into SquashFS with ch-convert's own mksquashfs
        options (64 KiB blocks, all files root's, zeroed time stamp) and our
        compressor (DEFAULT_SQUASH_COMP): ch-convert fixes gzip.'''
        rc, text = self.ch.run(['mksquashfs', source, out, '-b', '65536', '-noappend',
                                '-all-root', '-fstime', '0', '-no-progress',
                                '-comp', *self.squash_comp.split()], log)
        if rc:
            raise StageFailed(name, 'convert', f'mksquashfs: {_tail(text, 1)} (log: {_rel(log)})')

    def convert(self, name, tag=store.DEFAULT_TAG):
        recipe = self._recipe(name, tag)
        image_tag = recipe.image_tag(tag)
        ref = store.ref(name, tag)
        entry = store.Index(self.folder).images.get(store.key(name, tag), {})
        if not self.ch.has(image_tag):
            raise ImageError(f'image {ref} not built: run `hpcval image build {name}`')
        if entry.get('test', {}).get('status') != 'passed':
            raise ImageError(f'image {ref} has not passed its test: run `hpcval image test {ref}`')
        size = store.tree_size(self.ch.image_dir(image_tag))
        tmpdir = self.storage.parent / 'tmp'
        tmpdir.mkdir(parents=True, exist_ok=True)

        def export(out, log):
            self._export_dir(ref, image_tag, out, log)
        return self.store_formats(name, tag, size, export, tmpdir)

    def store_formats(self, name, tag, size, export, tmpdir):
        '''Write the image's formats into the folder and record them: ``export(out, log)``
        makes a directory image at ``out``; the SquashFS file is packed from it.'''
        stem, ref = store.stem(name, tag), store.ref(name, tag)
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f'{stem}.convert.log'
        log.write_text('')
        self.folder.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        formats = {}
        for fmt in sorted(self.formats, key=FORMATS.index):    # the directory first
            # ch-convert may need twice the image size in temporary space.
            store.ensure_free(self.folder, 2 * size, f'convert {ref} to {fmt}')
            final = self.folder / (stem if fmt == 'dir' else f'{stem}.sqfs')
            tmp = self.folder / (f'.{stem}.tmp' if fmt == 'dir' else f'.{stem}.tmp.sqfs')
            _remove(tmp)
            t1 = time.monotonic()
            source = None
            try:
                if fmt == 'dir':
                    self.echo(f'[{stem}] directory image -> {_rel(final)}')
                    export(tmp, log)
                else:
                    self.echo(f'[{stem}] mksquashfs -comp {self.squash_comp} -> {_rel(final)}')
                    source = final.with_name(stem) if 'dir' in formats else Path(tmpdir) / f'{stem}.export'
                    if 'dir' not in formats:
                        _remove(source)
                        export(source, log)
                    self.squash(ref, source, tmp, log)
            except StageFailed:
                _remove(tmp)
                raise
            finally:
                if source is not None and 'dir' not in formats:
                    _remove(source)
            _replace(tmp, final)
            digest = store.tree_digest(final) if fmt == 'dir' else store.file_digest(final)
            nbytes = store.tree_size(final) if fmt == 'dir' else final.stat().st_size
            formats[fmt] = {'path': final.name, 'digest': digest, 'bytes': nbytes,
                            'seconds': round(time.monotonic() - t1, 1)}
            if fmt == 'squash':
                formats[fmt]['compression'] = self.squash_comp
        seconds = round(time.monotonic() - t0, 1)
        index = store.Index(self.folder)
        entry = index.entry(store.key(name, tag))
        # formats not converted now (``--format``) keep their entries: they
        # come from the same build, since a build drops them all
        entry['formats'] = {**entry.get('formats', {}), **formats}
        entry['converted'] = store.now()
        entry.setdefault('seconds', {})['convert'] = seconds
        index.save()
        return seconds


def failing_instruction(output, dockerfile):
    '''"Dockerfile:LINE: INSTR args: error" for the instruction ch-image was
    running when it failed (the last one it printed).'''
    last = None
    for line in output.splitlines():
        m = _INSTRUCTION.match(line)
        if m:
            last = m
    errors = [ln for ln in output.splitlines() if ln.startswith('error:')]
    error = errors[-1][len('error:'):].strip() if errors else _tail(output, 1)
    if last is None:
        return f'{_rel(dockerfile)}: {error}'
    lineno, instr, args = last.groups()
    args = args if len(args) <= 80 else args[:77] + '...'
    return f'{_rel(dockerfile)}:{lineno}: {instr} {args}: {error}'


def _tail(text, n=3):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return ' | '.join(lines[-n:]) if lines else '(no output)'


def _rel(path):
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


_remove = store.remove_path


def _replace(tmp, final):
    '''Swap a finished conversion in; the old one is removed only after.'''
    if final.is_dir() and not final.is_symlink():
        old = final.with_name(f'.{final.name}.old')
        _remove(old)
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old)
    else:
        os.replace(tmp, final)
