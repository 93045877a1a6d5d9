"""The image folder: converted images, their digests, and index.json.

Layout (default ``.cache/images``, or ``$HPCVAL_IMAGES``)::

    index.json          one entry per image: key, stages, digests, sizes, times;
                        ``podman``: the same recipe built by podman (containers/podman.py)
    <name>/             directory image (ch-run IMAGE_DIR)
    <name>.sqfs         SquashFS image (ch-run mounts it itself)
    <name>@<tag>/       the same for a tag other than ``current``
    <name>@<tag>.sqfs

An image is named ``NAME[:TAG]``; the tag defaults to ``current``, the image
the checks run when nothing else is asked, so that an index written before
tags existed (keys ``NAME``) still reads the same.

index.json is rewritten atomically; a failed stage is recorded with its
output tail and the image is not converted.
"""
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
from pathlib import Path

from hpcval.containers.errors import ImageError
from hpcval.paths import ROOT

GIB = 1 << 30
#: Refuse to import or convert with less free space than this (GiB), or than
#: the step's own estimate, whichever is larger.
DEFAULT_MIN_FREE_GB = 4.0


#: the tag of an image named without one
DEFAULT_TAG = 'current'
#: a recipe or image name (ch-image and Docker accept it) and a Docker tag
_NAME = re.compile(r'[a-z0-9][a-z0-9._-]{0,62}')
_TAG = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}')


def parse_ref(text):
    '''``NAME[:TAG]`` -> (name, tag); ImageError naming the fault.'''
    name, _, tag = str(text).partition(':')
    tag = tag or DEFAULT_TAG
    if not _NAME.fullmatch(name):
        raise ImageError(f'{text!r}: an image is NAME[:TAG], NAME of lower-case letters, digits, '
                         f'".", "_" and "-" (e.g. openmpi:candidate)')
    if not _TAG.fullmatch(tag):
        raise ImageError(f'{text!r}: the tag {tag!r} is not a Docker tag (letters, digits, "_", "." and "-")')
    return name, tag


def ref(name, tag=DEFAULT_TAG):
    return f'{name}:{tag}'


def key(name, tag=DEFAULT_TAG):
    '''The image's entry in index.json: the bare name for the default tag.'''
    return name if tag == DEFAULT_TAG else f'{name}:{tag}'


def split_key(k):
    name, _, tag = k.partition(':')
    return name, tag or DEFAULT_TAG


def stem(name, tag=DEFAULT_TAG):
    '''File name of the image's formats in the folder (no ":": ch-run -b and shells).'''
    return name if tag == DEFAULT_TAG else f'{name}@{tag}'


def image_folder(default=None):
    '''``$HPCVAL_IMAGES`` when set and not empty, else ``default`` (a partition's
    ``image_folder``), else .cache/images in the repository.'''
    return Path(os.environ.get('HPCVAL_IMAGES') or default or ROOT / '.cache' / 'images')


def recorded_images(folder=None):
    '''The ``images`` of the folder's index.json as recorded, {} when there is
    no readable index: for readers that only look (run tags, the checks).'''
    try:
        images = json.loads((Path(folder or image_folder()) / 'index.json').read_text()).get('images', {})
    except (OSError, ValueError, AttributeError):
        return {}
    return images if isinstance(images, dict) else {}


def check_folder(folder):
    '''The image folder, if hpcval may write it: absent, empty, or holding its index.json
    (the rule of analysis.outdir, for the image store).'''
    folder = Path(folder)
    if folder.is_symlink() and not folder.is_dir():
        raise ImageError(f'{folder}: refused as image folder: a symbolic link to no folder')
    if folder.exists():
        if not folder.is_dir():
            raise ImageError(f'{folder}: refused as image folder: exists and is not a folder')
        if not (folder / 'index.json').is_file() and any(os.scandir(folder)):
            raise ImageError(f'{folder}: refused as image folder: not an hpcval image folder '
                             '(no index.json) and not empty')
    return folder


def min_free_bytes():
    text = os.environ.get('HPCVAL_MIN_FREE_GB', str(DEFAULT_MIN_FREE_GB))
    try:
        return float(text) * GIB
    except ValueError:
        raise ImageError(f'HPCVAL_MIN_FREE_GB={text!r} is not a number') from None


class Index:
    def __init__(self, folder):
        self.folder = Path(folder)
        self.path = self.folder / 'index.json'
        try:
            self.images = json.loads(self.path.read_text()).get('images', {})
        except FileNotFoundError:
            self.images = {}
        except (json.JSONDecodeError, AttributeError) as err:
            raise ImageError(f'{self.path}: not a valid image index: {err}') from None

    def entry(self, name):
        return self.images.setdefault(name, {})

    def save(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix='.index.', suffix='.json')
        with os.fdopen(fd, 'w') as fp:
            json.dump({'version': 1, 'images': self.images}, fp, indent=1, sort_keys=True)
            fp.write('\n')
        os.replace(tmp, self.path)


def converted(name, fmt='dir', folder=None, tag=DEFAULT_TAG):
    '''Path of a converted image that the index says passed its test, or None.'''
    folder = Path(folder or image_folder())
    entry = Index(folder).images.get(key(name, tag), {})
    out = entry.get('formats', {}).get(fmt)
    if not out or entry.get('test', {}).get('status') != 'passed':
        return None
    path = folder / out['path']
    return path if path.exists() else None


def file_digest(path):
    h = hashlib.sha256()
    with open(path, 'rb') as fp:
        for block in iter(lambda: fp.read(1 << 20), b''):
            h.update(block)
    return 'sha256:' + h.hexdigest()


def tree_digest(root):
    '''Content digest of a directory image: every path, its type, mode and
    content (links by target), in sorted order.  Timestamps are left out, so
    the same content gives the same digest.'''
    root = Path(root)
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for n in sorted(dirnames + filenames):
            p = Path(dirpath) / n
            st = p.lstat()
            rel = str(p.relative_to(root)).encode()
            h.update(rel + b'\0' + oct(st.st_mode).encode() + b'\0')
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(p).encode())
            elif stat.S_ISREG(st.st_mode):
                with open(p, 'rb') as fp:
                    for block in iter(lambda: fp.read(1 << 20), b''):
                        h.update(block)
            h.update(b'\n')
    return 'sha256:' + h.hexdigest()


def tree_size(root):
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for n in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, n)).st_size
            except OSError:
                pass
    return total


def device_nodes(root):
    '''Character or block devices under root.  ch-image import copies such a
    node as a regular file and reads it to the end: /dev/zero fills the disk.'''
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            mode = os.lstat(p).st_mode
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                found.append(p)
    return found


def ensure_free(path, need_bytes, what):
    '''Refuse a step before it starts when the disk cannot hold it.'''
    path = Path(path)
    probe = path
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    need = max(need_bytes, min_free_bytes())
    if free < need:
        raise ImageError(f'refusing to {what}: {free / GIB:.1f} GiB free on {probe}, need '
                         f'{need / GIB:.1f} GiB (set HPCVAL_MIN_FREE_GB to change the floor)')
    return free


def now():
    return time.strftime('%Y-%m-%dT%H:%M:%S%z')


def remove_path(path):
    '''A file, link or folder gone (a link is removed, never followed).'''
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
