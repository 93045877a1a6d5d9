"""Images from elsewhere: a Docker or OCI archive, a directory tree, a SquashFS file.

``docker save`` and ``podman save`` write a Docker archive (``manifest.json``
naming the layer tars, bottom first); ``podman save --format oci-archive``
and ``buildah push oci-archive:`` an OCI archive (``index.json`` -> manifest
-> layer blobs).  Layers are applied in order with the OCI whiteouts
(``.wh.NAME`` deletes NAME, ``.wh..wh..opq`` empties its folder), extracted
with tarfile's ``tar`` filter (no member outside the tree, no device nodes).
A tar that is neither is taken as a flat root file system.  Device nodes are
left out everywhere: ch-run gives each container its own /dev.

The tree then gets the mount points ch-run needs (those ch-convert 0.31's
``mount_points_ensure`` makes) and goes into the folder like a built image.
The source is only read.
"""
import json
import os
import posixpath
import shutil
import stat
import tarfile
import time
from pathlib import Path

from hpcval.containers.errors import ImageError
from hpcval.containers.store import remove_path

SQUASH_MAGIC = b'hsqs'
WHITEOUT = '.wh.'
OPAQUE = '.wh..wh..opq'
#: what ch-run binds over in every image (ch-convert 0.31, mount_points_ensure)
MOUNT_DIRS = ('bin', 'dev', 'etc', 'mnt', 'proc', 'usr', *(f'mnt/{i}' for i in range(10)))
MOUNT_FILES = ('etc/hosts', 'etc/resolv.conf')


def kind(source):
    '''What a source is: dir, squashfs, docker-archive, oci-archive or rootfs-tar.'''
    source = Path(source)
    if source.is_dir():
        return 'dir'
    if not source.is_file():
        raise ImageError(f'{source}: no such file or directory')
    with open(source, 'rb') as fp:
        if fp.read(4) == SQUASH_MAGIC:
            return 'squashfs'
    try:
        with tarfile.open(source) as tar:
            names = {posixpath.normpath(n) for n in tar.getnames()}
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ImageError(f'{source}: not a tar archive, a SquashFS file or a folder ({err})') from None
    if 'manifest.json' in names:
        return 'docker-archive'
    if 'index.json' in names and 'oci-layout' in names:
        return 'oci-archive'
    return 'rootfs-tar'


def _json(tar, name, source):
    try:
        return json.load(tar.extractfile(name))
    except (KeyError, AttributeError, ValueError, tarfile.TarError) as err:
        raise ImageError(f'{source}: {name} unreadable: {err}') from None


def layers(source, what):
    '''(layer member names, bottom first; the image config or {}) of an archive.'''
    with tarfile.open(source) as tar:
        if what == 'docker-archive':
            manifest = _json(tar, 'manifest.json', source)
            if not isinstance(manifest, list) or not manifest or not manifest[0].get('Layers'):
                raise ImageError(f'{source}: manifest.json names no layers')
            if len(manifest) > 1:
                raise ImageError(f'{source}: holds {len(manifest)} images; save one image per archive')
            config = _json(tar, manifest[0]['Config'], source) if manifest[0].get('Config') else {}
            return list(manifest[0]['Layers']), config
        index = _json(tar, 'index.json', source)
        found = index.get('manifests') or []
        if len(found) != 1:
            raise ImageError(f'{source}: index.json lists {len(found)} manifests; save one image per archive')
        manifest = _json(tar, _blob(found[0]), source)
        config = _json(tar, _blob(manifest['config']), source) if manifest.get('config') else {}
        return [_blob(d) for d in manifest.get('layers', [])], config


def _blob(descriptor):
    algo, _, hexd = str(descriptor.get('digest', '')).partition(':')
    return f'blobs/{algo}/{hexd}'


def extract_layers(source, what, dest):
    '''Apply an archive's layers into ``dest``; returns the image config (ENV etc.).'''
    names, config = layers(source, what)
    with tarfile.open(source) as outer:
        for name in names:
            try:
                inner = outer.extractfile(name)
            except KeyError:
                raise ImageError(f'{source}: layer {name} is missing') from None
            try:
                with tarfile.open(fileobj=inner, mode='r:*') as layer:
                    apply_layer(layer, dest)
            except tarfile.TarError as err:
                raise ImageError(f'{source}: layer {name}: {err}') from None
    return config


def apply_layer(layer, dest):
    '''One layer onto the tree: whiteouts first remove, then the members are written.'''
    dest = Path(dest)
    keep = []
    for m in layer.getmembers():
        path = posixpath.normpath(m.name.lstrip('/'))
        if path.startswith('..'):
            raise ImageError(f'layer member {m.name!r} points outside the image')
        base = posixpath.basename(path)
        parent = posixpath.dirname(path)
        if base == OPAQUE:
            _empty(dest / parent, dest)
        elif base.startswith(WHITEOUT):
            _remove(dest / parent / base[len(WHITEOUT):], dest)
        elif m.isdev() or path == 'dev' or path.startswith('dev/'):
            continue
        else:
            target = dest / path
            # a file where the layer puts a folder, or the other way round
            if target.is_symlink() or (target.exists() and target.is_dir() != m.isdir()):
                _remove(target, dest)
            keep.append(m)
    layer.extractall(dest, members=keep, filter='tar')


def _inside(path, dest):
    real = os.path.realpath(path)
    root = os.path.realpath(dest)
    if real != root and not real.startswith(root + os.sep):
        raise ImageError(f'a whiteout points outside the image: {path}')


def _remove(path, dest):
    path = Path(path)
    _inside(path.parent, dest)
    remove_path(path)


def _empty(folder, dest):
    if folder.is_dir() and not folder.is_symlink():
        _inside(folder, dest)
        for child in list(folder.iterdir()):
            _remove(child, dest)


def copy_tree(source, dest):
    '''A directory image copied as it is (links as links), device nodes left out.'''
    def skip(folder, names):
        return [n for n in names if stat.S_ISCHR(os.lstat(os.path.join(folder, n)).st_mode)
                or stat.S_ISBLK(os.lstat(os.path.join(folder, n)).st_mode)]
    shutil.copytree(source, dest, symlinks=True, ignore=skip)


def fix_mount_points(tree):
    '''Empty /dev and make the mount points ch-run binds over.'''
    tree = Path(tree)
    dev = tree / 'dev'
    if dev.is_dir() and not dev.is_symlink():
        for child in list(dev.iterdir()):
            _remove(child, tree)
    for d in MOUNT_DIRS:
        p = tree / d
        if not (p.exists() or p.is_symlink()):
            p.mkdir(parents=True)
    for f in MOUNT_FILES:
        p = tree / f
        if not (p.exists() or p.is_symlink()):
            p.touch()
    # folders hpcval must remove later (a replaced import) must be writable
    for dirpath, dirnames, _ in os.walk(tree):
        for n in dirnames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode) and not st.st_mode & stat.S_IWUSR:
                os.chmod(p, st.st_mode | stat.S_IWUSR | stat.S_IXUSR)


def config_env(config):
    '''The image config's ENV as {VAR: VALUE} (Docker and OCI keep it the same way).'''
    env = {}
    for item in (config.get('config') or {}).get('Env') or []:
        k, _, v = str(item).partition('=')
        if k:
            env[k] = v
    return env


def write_environment(tree, env):
    '''The config's ENV where ``ch-run --set-env`` reads an image's (ch/environment).'''
    if env:
        (Path(tree) / 'ch').mkdir(exist_ok=True)
        (Path(tree) / 'ch' / 'environment').write_text(''.join(f'{k}={v}\n' for k, v in env.items()))


def import_image(pipe, name, tag, source, test=None, replace=False):
    '''Import ``source`` as ``name:tag`` into the pipeline's folder, smoke-test it
    (``test``, else the recipe of that name's test, else that a shell runs) and
    record its source.  Returns (seconds, index entry).'''
    from hpcval.containers import recipes, store
    source = Path(source)
    what = kind(source)
    k, ref = store.key(name, tag), store.ref(name, tag)
    index = store.Index(pipe.folder)
    if k in index.images and not replace:
        raise ImageError(f'{ref} exists in {index.path}: `hpcval image rm {ref}` first, or --replace')
    size = store.tree_size(source) if what == 'dir' else source.stat().st_size
    pipe.ch.check()
    tmpdir = pipe.storage.parent / 'tmp'
    tmpdir.mkdir(parents=True, exist_ok=True)
    # the unpacked tree, the directory image and the SquashFS file
    store.ensure_free(tmpdir, 3 * size, f'import {source}')
    t0 = time.monotonic()
    pipe.echo(f'[{store.stem(name, tag)}] import {what} {source}')
    env = {}

    def export(out, log):
        nonlocal env
        if what == 'dir':
            left = store.device_nodes(source)
            if left:
                pipe.echo(f'[{store.stem(name, tag)}] {len(left)} device node(s) left out, e.g. {left[0]}')
            copy_tree(source, out)
        elif what == 'squashfs':
            rc, text = pipe.ch.run(['unsquashfs', '-no-progress', '-d', out, source], log)
            if rc:
                raise ImageError(f'{source}: unsquashfs failed: {text.strip().splitlines()[-1:]}')
        elif what == 'rootfs-tar':
            out.mkdir()
            with tarfile.open(source) as tar:
                apply_layer(tar, out)
            _flatten_single_root(out)
        else:
            out.mkdir()
            env = config_env(extract_layers(source, what, out))
            write_environment(out, env)
        fix_mount_points(out)

    entry = index.images.pop(k, None) if replace else None
    if entry is not None:
        index.save()
    pipe.store_formats(name, tag, size, export, tmpdir)
    index = store.Index(pipe.folder)
    entry = index.entry(k)
    entry.update({'tag': ref, 'imported': store.now(), 'source': {
        'kind': what, 'path': str(source.resolve()),
        'digest': store.tree_digest(source) if what == 'dir' else store.file_digest(source),
        'bytes': size}})
    if env:
        entry['env'] = sorted(env)
    index.save()
    command = test or _recipe_test(recipes, name) or 'true'
    try:
        pipe.smoke(name, tag, str(pipe.folder / store.stem(name, tag)), command)
    finally:
        seconds = round(time.monotonic() - t0, 1)
    return seconds, store.Index(pipe.folder).images[k]


def _recipe_test(recipes, name):
    try:
        return recipes.load(name).test
    except ImageError:
        return None


def _flatten_single_root(tree):
    '''A root file system tarred as one top folder (rootfs/bin, rootfs/etc ...) -> the tree itself.'''
    children = list(Path(tree).iterdir())
    if len(children) == 1 and children[0].is_dir() and not children[0].is_symlink() \
            and not (Path(tree) / 'bin').exists() and (children[0] / 'etc').is_dir():
        top = children[0]
        for child in list(top.iterdir()):
            child.rename(Path(tree) / child.name)
        top.rmdir()
