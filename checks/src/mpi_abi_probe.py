#!/usr/bin/env python3
"""What MPI a program started here would load, and whether it initialises.

Standard library only, so it runs on the host and in any image with a
python3.  It finds the MPI library the way a program linked with ``-lmpi``
does (the soname in the dynamic linker's cache, then dlopen, which looks in
LD_LIBRARY_PATH first: an injected host library wins only when its soname
is the one asked for), asks it ``MPI_Get_library_version`` (callable before
MPI_Init since MPI 3.0), and with ``--init`` initialises and finalises MPI,
so that ranks started by a launcher must form a world.

Prints ``# MPI soname:``, ``# MPI Library:`` and ``# MPI Library Path:``;
exit 2 when no MPI library is found.
"""
import ctypes
import ctypes.util
import os
import re
import subprocess
import sys

MAX_LIBRARY_VERSION = 8192      # MPI_MAX_LIBRARY_VERSION_STRING is 256 (Open MPI) to 8192 (MPICH)


def soname():
    '''The soname of libmpi a program would ask for, e.g. libmpi.so.40 (Open MPI), libmpi.so.12 (MPICH ABI).'''
    return os.environ.get('HPCVAL_MPI_SONAME') or ctypes.util.find_library('mpi')


def loaded_path(name):
    with open('/proc/self/maps') as fp:
        for line in fp:
            path = line.split()[-1]
            if re.search(r'/lib(mpi|mpich)\.so[.0-9]*$', path):
                return os.path.realpath(path)
    return 'unknown'


def main(argv):
    name = soname()
    if not name:
        print('# MPI soname: none')
        print('error: no MPI library (libmpi.so.*) in the dynamic linker cache', file=sys.stderr)
        return 2
    lib = ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
    buf = ctypes.create_string_buffer(MAX_LIBRARY_VERSION)
    size = ctypes.c_int(0)
    lib.MPI_Get_library_version(buf, ctypes.byref(size))
    version = buf.value.decode(errors='replace').strip().splitlines()
    rank, world = 0, None
    if '--init' in argv:
        if lib.MPI_Init(None, None) != 0:
            print('error: MPI_Init failed', file=sys.stderr)
            return 1
        comm = world_handle(lib, version[0] if version else '')
        n, r = ctypes.c_int(0), ctypes.c_int(0)
        lib.MPI_Comm_size(comm, ctypes.byref(n))
        lib.MPI_Comm_rank(comm, ctypes.byref(r))
        rank, world = r.value, n.value
        lib.MPI_Finalize()
    if rank == 0:
        print(f'# MPI soname: {name}')
        print(f'# MPI Library: {version[0].strip() if version else "unknown"}')
        print(f'# MPI Library Path: {loaded_path(name)}')
        if world is not None:
            # ranks the launcher started that did not join give a smaller world
            print(f'# MPI World: {world}')
        if '--own' not in argv:
            print_own()
    return 0


def print_own():
    '''The MPI this system would load without an injected one (LD_LIBRARY_PATH
    unset): in an image, the image's own, to compare with the host's.'''
    env = {k: v for k, v in os.environ.items() if k != 'LD_LIBRARY_PATH'}
    out = subprocess.run([sys.executable, os.path.abspath(__file__), '--own'], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    for line in out.splitlines():
        if line.startswith(('# MPI soname:', '# MPI Library:')):
            print(line.replace('# MPI', '# Own MPI', 1))


def world_handle(lib, version):
    '''MPI_COMM_WORLD: a pointer to a symbol in Open MPI, a constant in the MPICH ABI.'''
    if version.startswith('Open MPI'):
        return ctypes.c_void_p(ctypes.addressof(ctypes.c_char.in_dll(lib, 'ompi_mpi_comm_world')))
    return ctypes.c_int(0x44000000)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
