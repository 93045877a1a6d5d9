"""Which files an input path stands for: regular files only, each read once."""
import os
import stat

from hpcval.errors import InputError


def regular_file(path):
    '''InputError unless ``path`` is a regular file (after links): a FIFO would block the
    read, a device (a link to /dev/zero) never end.'''
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        raise InputError(path, f'cannot read: {err.strerror}') from None
    if not stat.S_ISREG(mode):
        raise InputError(path, 'not a regular file (a FIFO, device or socket is not read)')


def distinct(files):
    '''``files`` in order, each real file once: the ``latest`` symlink of a run
    folder points at a run that is also found by its own name.'''
    seen, out = set(), []
    for f in files:
        real = f.resolve()
        if real not in seen:
            seen.add(real)
            out.append(f)
    return out
