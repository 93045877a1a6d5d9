#!/usr/bin/env python3
"""Start one rank of a foreign application and prove which MPI library it loaded.

    app_launch.py -- COMMAND [ARGS...]

The launcher (srun, mpirun) starts this once per rank, in place of the
application; it starts COMMAND as its child, in the same environment and
working directory, and reads the memory map of the running program
(/proc/PID/maps, then of its children when COMMAND is a script) until a
``libmpi.so*`` (or ``libmpich.so*``) shows up: the file the dynamic linker
really mapped, whatever LD_LIBRARY_PATH, RUNPATH or the image said.  A
binary that prints no ``# MPI Library:`` line of its own is still proven.

Every rank prints ``# Rank R on HOST MPI Library Path: FILE`` (``none`` when
the program ended without one mapped) and, when the program ends,
``# Rank R exit status: N``; rank 0 also prints the usual provenance lines,
``# MPI Library Path: FILE`` and ``# MPI Library: VERSION`` (asked of that
same file with MPI_Get_library_version, callable before MPI_Init since MPI
3.0), and ``# BLAS Library Path: FILE`` when a BLAS was mapped by then.
The exit status is the program's (128 + N when signal N ended it).

Standard library only, so it runs on the host and in any image with python3.
"""
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import time

#: where launchers put the rank: Open MPI's mpirun, PMIx (srun --mpi=pmix), PMI-1/2, Slurm
RANK_VARS = ('OMPI_COMM_WORLD_RANK', 'PMIX_RANK', 'PMI_RANK', 'SLURM_PROCID')
_LIBMPI = re.compile(r'/lib(?:mpi|mpich)\.so[.0-9]*$')
#: the BLAS a program mapped (what an HPL or DGEMM figure depends on most)
_LIBBLAS = re.compile(r'/lib(?:blas|openblas\w*|blis\w*|mkl_rt|flexiblas)\.so[.0-9]*$')
MAX_LIBRARY_VERSION = 8192


def rank():
    for var in RANK_VARS:
        value = os.environ.get(var, '')
        if value.isdigit():
            return int(value)
    return 0


def mapped_mpi(pid, pattern=_LIBMPI):
    '''The real path of the MPI library (or what ``pattern`` matches) mapped into process ``pid``, or None.'''
    try:
        with open(f'/proc/{pid}/maps') as fp:
            for line in fp:
                parts = line.split(None, 5)
                if len(parts) == 6 and pattern.search(parts[5].strip()):
                    return os.path.realpath(parts[5].strip())
    except OSError:
        pass
    return None


def descendants(pid):
    '''``pid`` and the processes under it (a script that starts the program).'''
    children = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as fp:
                    ppid = int(fp.read().rsplit(')', 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def library_version(path):
    '''MPI_Get_library_version of the library file ``path`` (its first line), or "unknown".'''
    try:
        lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        buf = ctypes.create_string_buffer(MAX_LIBRARY_VERSION)
        size = ctypes.c_int(0)
        lib.MPI_Get_library_version(buf, ctypes.byref(size))
        lines = buf.value.decode(errors='replace').strip().splitlines()
        return lines[0].strip() if lines else 'unknown'
    except (OSError, AttributeError):
        return 'unknown'


def say(text):
    sys.stdout.write(text + '\n')
    sys.stdout.flush()


def watch(child):
    '''Poll the child's memory map (2 ms, backing off to 0.2 s) until an MPI library is
    mapped or the child ends: (its path, the BLAS library's path), None for either not found.'''
    delay, t0 = 0.002, time.monotonic()
    while child.poll() is None:
        pids = [child.pid] if time.monotonic() - t0 < 0.5 else descendants(child.pid)
        for pid in pids:
            found = mapped_mpi(pid)
            if found:
                return found, mapped_mpi(pid, _LIBBLAS)
        time.sleep(delay)
        delay = min(0.2, delay * 1.5)
    return None, None


def main(argv):
    if argv[:1] == ['--']:
        argv = argv[1:]
    if not argv:
        print('usage: app_launch.py -- COMMAND [ARGS...]', file=sys.stderr)
        return 2
    me, host = rank(), socket.gethostname()
    try:
        child = subprocess.Popen(argv)
    except OSError as err:
        say(f'# Rank {me} on {host} MPI Library Path: none')
        say(f'# Rank {me} exit status: 127')
        print(f'app_launch.py: cannot start {argv[0]}: {err.strerror or err}', file=sys.stderr)
        return 127
    # the launcher's stop reaches the program too
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: child.send_signal(signum))
    path, blas = watch(child)
    say(f'# Rank {me} on {host} MPI Library Path: {path or "none"}')
    if me == 0 and path:
        say(f'# MPI Library Path: {path}')
        say(f'# MPI Library: {library_version(path)}')
        if blas:
            say(f'# BLAS Library Path: {blas}')
    code = child.wait()
    code = 128 - code if code < 0 else code
    say(f'# Rank {me} exit status: {code}')
    return code


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
