#!/usr/bin/env python3
"""Dense matmul rate (GEMM) and the node's nominal peak, one MPI rank per node.

Backends: numpy (its BLAS) and TensorFlow (``tf.linalg.matmul``, the "small
matrix multiplication" kernel the LRZ team measured), in float64 (DGEMM) or
float32 (SGEMM, twice the FLOP per cycle of the vector units).

Prints OSU-like comment lines for provenance (MPI library, hosts, CPU model),
one line per matrix size, and a validation line (Freivalds' check of C = A B).
Self-contained on purpose: it runs on compute nodes and inside images.
"""
import argparse
import os
import re
import sys
import time


def read_cpuinfo(path='/proc/cpuinfo'):
    '''First processor's fields plus the count of logical CPUs.'''
    info, nlogical = {}, 0
    with open(path) as fp:
        for line in fp:
            if ':' not in line:
                continue
            key, _, val = line.partition(':')
            key, val = key.strip(), val.strip()
            if key == 'processor':
                nlogical += 1
            if nlogical <= 1:
                info.setdefault(key, val)
    info['_nlogical'] = nlogical
    return info


def flops_per_cycle(flags, vendor='', family=0, model=0):
    '''Double-precision FLOP per cycle per core from the vector ISA.

    Assumes two FMA pipes of the full vector width, true from Haswell and
    Skylake-SP Gold/Platinum on; a site with one AVX-512 FMA unit (some Xeon
    Silver/Bronze) overrides it in its config.  AMD Zen 1/Zen+ (family 17h,
    model < 30h) split 256-bit ops into two 128-bit halves: half the rate.
    Returns (flop_per_cycle, reason).
    '''
    flags = set(flags)
    if 'avx512f' in flags:
        return 32, 'avx512f: 2 FMA x 8 doubles x 2'
    if 'avx2' in flags and 'fma' in flags:
        if vendor == 'AuthenticAMD' and family == 0x17 and model < 0x30:
            return 8, 'avx2+fma on Zen 1 (family 17h model < 30h): 2 FMA x 2 doubles x 2'
        return 16, 'avx2+fma: 2 FMA x 4 doubles x 2'
    if 'avx' in flags:
        return 8, 'avx: 1 add + 1 mul x 4 doubles'
    if 'sse2' in flags:
        return 4, 'sse2: 1 add + 1 mul x 2 doubles'
    if 'asimd' in flags:
        return 8, 'asimd (Neon): 2 FMA x 2 doubles x 2'
    return 2, 'no vector flags known: 1 FMA x 1 double'


def nominal_clock_ghz(info, sysfs='/sys/devices/system/cpu/cpu0/cpufreq'):
    '''Base clock: the GHz in the model name, else cpufreq's base, else cpuinfo MHz.'''
    m = re.search(r'@\s*([0-9.]+)\s*GHz', info.get('model name', ''))
    if m:
        return float(m.group(1)), 'model name'
    for name in ('base_frequency', 'cpuinfo_max_freq'):
        try:
            with open(os.path.join(sysfs, name)) as fp:
                return int(fp.read().strip()) / 1e6, f'cpufreq/{name}'
        except (OSError, ValueError):
            pass
    if 'cpu MHz' in info:
        return float(info['cpu MHz']) / 1000, 'cpuinfo cpu MHz'
    return float('nan'), 'unknown'


def physical_cores(info):
    '''Cores this process may use: affinity CPUs / hardware threads per core.'''
    ncpus = len(os.sched_getaffinity(0))
    try:
        threads = int(info['siblings']) // int(info['cpu cores'])
    except (KeyError, ValueError, ZeroDivisionError):
        threads = 1
    return max(1, ncpus // max(1, threads))


def node_peak(args, info, dtype='float64'):
    cores = args.cores or physical_cores(info)
    if args.clock_ghz:
        clock, clock_src = args.clock_ghz, 'site config'
    else:
        clock, clock_src = nominal_clock_ghz(info)
    if args.flops_per_cycle:
        fpc, fpc_src = args.flops_per_cycle, 'site config'
    else:
        flags = info.get('flags', info.get('Features', '')).split()
        fpc, fpc_src = flops_per_cycle(flags, info.get('vendor_id', ''),
                                       int(info.get('cpu family', 0) or 0), int(info.get('model', 0) or 0))
    # the vector units hold twice as many float32 as float64
    width = 2 if dtype == 'float32' else 1
    peak = args.peak_gflops * width if args.peak_gflops else cores * clock * fpc * width
    how = ('site config' if args.peak_gflops else
           f'{cores} cores x {clock:.3f} GHz ({clock_src}) x {fpc} FLOP/cycle ({fpc_src})')
    if width == 2:
        how += ' x 2 for float32'
    return peak, how


def matmul_rates(n, reps, np, dtype='float64', backend='numpy', tf=None):
    '''GFLOP/s of reps n x n products (after one warm-up), and whether the product checks out.'''
    rng = np.random.default_rng(n)
    a, b = rng.random((n, n)).astype(dtype), rng.random((n, n)).astype(dtype)
    if backend == 'tensorflow':
        ta, tb = tf.constant(a), tf.constant(b)
        # eager CPU ops run synchronously: the clock stops when the product exists
        def product():
            return tf.linalg.matmul(ta, tb)
    else:
        def product():
            return a @ b
    c = product()                   # warm-up: threads spawned, pages touched
    rates = []
    for _ in range(reps):
        t0 = time.perf_counter()
        c = product()
        rates.append(2.0 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    c = np.asarray(c)
    # Freivalds: C x == A (B x) for a random x catches a wrong product in O(n^2)
    x = rng.random(n).astype(dtype)
    rtol, atol = (1e-9, 1e-6 * n) if dtype == 'float64' else (1e-3, 1e-2 * n)
    ok = np.allclose(c @ x, a @ (b @ x), rtol=rtol, atol=atol)
    return rates, bool(ok)


def mpi_library_path():
    '''The libmpi file this process mapped: host-injected or bundled.'''
    try:
        with open('/proc/self/maps') as fp:
            for line in fp:
                path = line.split()[-1]
                if re.search(r'/libmpi\.so[.0-9]*$', path):
                    return os.path.realpath(path)
    except OSError:
        pass
    return 'unknown'


def blas_library_paths():
    '''The BLAS files this process mapped (after a product): the image's
    libblas.so.3 alternative (OpenBLAS or the reference BLAS), or a wheel's own.'''
    found = []
    try:
        with open('/proc/self/maps') as fp:
            for line in fp:
                path = line.split()[-1]
                if re.search(r'/lib[\w-]*blas[\w.-]*\.so[.0-9]*$', path) and 'cublas' not in path:
                    real = os.path.realpath(path)
                    if real not in found:
                        found.append(real)
    except OSError:
        pass
    return found


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--sizes', default='1024,2048,4096')
    p.add_argument('--reps', type=int, default=5)
    p.add_argument('--cores', type=int, default=0)
    p.add_argument('--clock-ghz', type=float, default=0)
    p.add_argument('--flops-per-cycle', type=float, default=0)
    p.add_argument('--peak-gflops', type=float, default=0)
    p.add_argument('--backend', default='numpy', choices=['numpy', 'tensorflow'])
    p.add_argument('--dtype', default='float64', choices=['float64', 'float32'])
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(',') if s]
    # one BLAS thread per CPU this rank may use (a pinned node has fewer than
    # the machine): more threads than CPUs time-share and the rate scatters
    ncpu = str(len(os.sched_getaffinity(0)))
    for var in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS'):
        os.environ.setdefault(var, ncpu)

    from mpi4py import MPI
    import numpy as np
    tf = None
    if args.backend == 'tensorflow':
        os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
        import tensorflow as tf
    comm = MPI.COMM_WORLD
    info = read_cpuinfo()
    peak, how = node_peak(args, info, args.dtype)
    hosts = comm.gather(MPI.Get_processor_name(), root=0)
    libpaths = comm.gather(mpi_library_path(), root=0)
    if comm.rank == 0:
        print(f'# MPI Library: {MPI.Get_library_version().rstrip(chr(0)).splitlines()[0].strip()}')
        print(f'# Ranks: {comm.size}')
        print(f'# Hosts: {",".join(hosts)}')
        print(f'# MPI Library Path: {",".join(libpaths)}')
        print(f'# CPU: {info.get("model name", "unknown")}')
        print(f'# numpy {np.__version__}')
        if tf is not None:
            print(f'# tensorflow {tf.__version__}')
        print(f'# Backend: {args.backend} {args.dtype}')
        print(f'# Nominal peak: {peak:.2f} GFLOP/s per node = {how}')
        print('# Size  GFLOP/s(median, slowest node)  GFLOP/s(best)')
    all_ok = True
    for n in sizes:
        comm.Barrier()
        rates, ok = matmul_rates(n, args.reps, np, args.dtype, args.backend, tf)
        rates.sort()
        med = rates[len(rates) // 2]
        # The slowest node sets the pace of a bulk-synchronous job: report it
        meds = comm.gather(med, root=0)
        bests = comm.gather(rates[-1], root=0)
        oks = comm.allreduce(int(ok), op=MPI.MIN)
        all_ok = all_ok and bool(oks)
        if comm.rank == 0:
            # every node's own median too: the spread and the outlier node
            print(f'# Node rates n={n}: ' + ','.join(f'{h}={m:.2f}' for h, m in zip(hosts, meds)))
            print(f'{n:<6d} {min(meds):.2f} {max(bests):.2f}', flush=True)
    if comm.rank == 0:
        print(f'# BLAS Library Path: {",".join(blas_library_paths()) or "unknown"}')
        print(f'# Validation: {"Pass" if all_ok else "FAIL"}')
    return 0 if all_ok else 1


if __name__ == '__main__':
    sys.exit(main())
