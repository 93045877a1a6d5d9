#!/usr/bin/env python3
"""Data-parallel training of a small 3D GAN over MPI (after CERN's 3DGAN).

The model follows 3DGAN (Khattak et al.): a generator turns noise scaled by
the particle energy into a 25x25x25 calorimeter shower with 3D convolutions;
the discriminator, also 3D convolutions, says real or fake and regresses the
primary energy; the generator is also held to the deposited-energy sum
(ECAL) the energy implies.  Smaller filters than the paper's by default, and
no BatchNorm: its running statistics are per-rank state that would make the
replicas differ for reasons that are not the allreduce's.

Showers are synthetic, generated on each rank from a seed: a gamma-shaped
longitudinal profile whose depth grows with log E, a Gaussian transverse
core with jitter, and multiplicative noise.  No download.

Every step each rank computes the gradients of both networks on its own
shard, packs them (and the two losses) into ONE float32 buffer, averages it
with one ``MPI_Allreduce``, and applies the same update.  Weights start from
rank 0's and are compared across ranks every ``--check-every`` steps (max
minus min of every weight over all ranks, which must be exactly 0).

strong mode: ``--batch`` is the global batch, split over the ranks;
weak mode: ``--batch`` is the batch of each rank.

Prints OSU-like ``# key: value`` provenance lines, one line per step, and a
summary the ReFrame check parses.  Self-contained: it runs on compute nodes
and inside the TensorFlow image.
"""
import argparse
import os
import re
import sys
import time

SIZE = 25          # voxels per side, as in 3DGAN's ECAL images
SAMPLING = 0.02    # share of the primary energy deposited in the active layers


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--mode', choices=['strong', 'weak'], default='strong')
    p.add_argument('--batch', type=int, default=8, help='global (strong) or per-rank (weak) batch')
    p.add_argument('--steps', type=int, default=10, help='timed steps')
    p.add_argument('--warmup', type=int, default=2, help='untimed steps first (graph tracing)')
    p.add_argument('--latent', type=int, default=64)
    p.add_argument('--gen-filters', type=int, default=8)
    p.add_argument('--disc-filters', type=int, default=8)
    p.add_argument('--lr', type=float, default=2e-4)
    p.add_argument('--seed', type=int, default=1234)
    p.add_argument('--threads', type=int, default=0, help='TensorFlow intra-op threads (0: its default)')
    p.add_argument('--check-every', type=int, default=5, help='compare weights across ranks every N steps')
    # fault injection, for the harness's own tests: 'nan:STEP' or 'diverge:STEP'
    p.add_argument('--inject', default='', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.inject and not re.fullmatch(r'(nan|diverge):\d+', args.inject):
        p.error(f'--inject must be nan:STEP or diverge:STEP, not {args.inject!r}')
    return args


def showers(rng, n, np):
    '''n synthetic showers (n, 25, 25, 25, 1) float32 and their energies (n,) in 100 GeV.'''
    energy = rng.uniform(1.0, 5.0, n).astype(np.float32)
    z = np.arange(SIZE, dtype=np.float32) + 0.5
    # longitudinal: gamma profile t^(a-1) e^(-b t), shower maximum deeper for higher E
    a = 2.0 + 0.8 * np.log(energy)[:, None]
    b = 0.5
    prof = z[None, :] ** (a - 1) * np.exp(-b * z[None, :])
    prof /= prof.sum(axis=1, keepdims=True)
    # transverse: Gaussian core around the entry point, jittered per event
    xy = np.arange(SIZE, dtype=np.float32)
    cx = 12.0 + rng.normal(0, 0.7, n)[:, None]
    cy = 12.0 + rng.normal(0, 0.7, n)[:, None]
    sigma = 1.5 + rng.uniform(0, 0.5, n)[:, None]
    gx = np.exp(-0.5 * ((xy[None, :] - cx) / sigma) ** 2)
    gy = np.exp(-0.5 * ((xy[None, :] - cy) / sigma) ** 2)
    gx /= gx.sum(axis=1, keepdims=True)
    gy /= gy.sum(axis=1, keepdims=True)
    # deposited fraction ~2 % of the primary energy (sampling calorimeter), with noise
    dep = ((SAMPLING * energy)[:, None, None, None] * gx[:, :, None, None]
           * gy[:, None, :, None] * prof[:, None, None, :])
    dep = dep * rng.lognormal(0.0, 0.1, dep.shape)
    dep[dep < 1e-7] = 0.0
    return dep[..., None].astype(np.float32), energy


def build_models(args, tf):
    L = tf.keras.layers
    act = dict(negative_slope=0.2)
    z = L.Input((args.latent,))
    e = L.Input((1,))
    g = L.Multiply()([z, e])                      # 3DGAN: noise scaled by the energy
    g = L.Dense(7 * 7 * 7 * args.gen_filters)(g)
    g = L.Reshape((7, 7, 7, args.gen_filters))(g)
    g = L.LeakyReLU(**act)(L.Conv3D(args.gen_filters, 3, padding='same')(g))
    g = L.UpSampling3D(2)(g)                      # 14^3
    g = L.LeakyReLU(**act)(L.Conv3D(args.gen_filters, 3, padding='same')(g))
    g = L.UpSampling3D(2)(g)                      # 28^3
    g = L.Conv3D(1, 4, padding='valid', activation='relu')(g)   # 25^3, energies >= 0
    gen = tf.keras.Model([z, e], g, name='generator')

    x = L.Input((SIZE, SIZE, SIZE, 1))
    # pooling rather than strided convolutions, as 3DGAN does; strided Conv3D
    # backprop on CPU is also 10-20x slower at small batches (measured here)
    d = L.LeakyReLU(**act)(L.Conv3D(args.disc_filters, 5, padding='same')(x))
    d = L.AveragePooling3D(2)(d)                  # 12^3
    d = L.LeakyReLU(**act)(L.Conv3D(args.disc_filters, 5, padding='valid')(d))   # 8^3
    d = L.LeakyReLU(**act)(L.Conv3D(args.disc_filters, 3, padding='valid')(d))   # 6^3
    d = L.AveragePooling3D(2)(d)                  # 3^3
    d = L.Flatten()(d)
    fake = L.Dense(1, activation='sigmoid', name='real_or_fake')(d)
    aux = L.Dense(1, activation='linear', name='energy')(d)
    disc = tf.keras.Model(x, [fake, aux], name='discriminator')
    return gen, disc


class Fused:
    '''Pack a list of tensors into one float32 buffer and back.'''

    def __init__(self, variables, np, extra=0):
        self.shapes = [tuple(v.shape) for v in variables]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.extra = extra
        self.n = sum(self.sizes) + extra

    def pack(self, tensors, extra, np):
        buf = np.empty(self.n, np.float32)
        off = 0
        for t, size in zip(tensors, self.sizes):
            buf[off:off + size] = np.asarray(t, np.float32).reshape(-1)
            off += size
        buf[off:] = extra
        return buf

    def unpack(self, buf):
        out, off = [], 0
        for shape, size in zip(self.shapes, self.sizes):
            out.append(buf[off:off + size].reshape(shape))
            off += size
        return out, buf[off:]


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    from mpi4py import MPI
    import numpy as np
    import tensorflow as tf

    comm = MPI.COMM_WORLD
    rank, size = comm.rank, comm.size
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    if args.mode == 'strong':
        if args.batch % size:
            if rank == 0:
                print(f'ERROR: strong mode needs the global batch ({args.batch}) divisible by the ranks ({size})')
            return 2
        local = args.batch // size
    else:
        local = args.batch
    global_batch = local * size

    from matmul_bench import mpi_library_path       # the same proof as the matmul check
    hosts = comm.gather(MPI.Get_processor_name(), root=0)
    libpaths = comm.gather(mpi_library_path(), root=0)

    tf.keras.utils.set_random_seed(args.seed)        # identical initial weights on every rank ...
    gen, disc = build_models(args, tf)
    variables = gen.trainable_variables + disc.trainable_variables
    fused = Fused(variables, np, extra=2)
    # ... and rank 0's broadcast anyway, as Horovod does, in one buffer
    w = fused.pack([v.numpy() for v in variables], [0, 0], np)
    comm.Bcast(w, root=0)
    for v, value in zip(variables, fused.unpack(w)[0]):
        v.assign(value)
    g_opt = tf.keras.optimizers.Adam(args.lr, beta_1=0.5)
    d_opt = tf.keras.optimizers.Adam(args.lr, beta_1=0.5)
    bce = tf.keras.losses.BinaryCrossentropy()
    ngen = len(gen.trainable_variables)

    if rank == 0:
        print(f'# MPI Library: {MPI.Get_library_version().rstrip(chr(0)).splitlines()[0].strip()}')
        print(f'# Ranks: {size}')
        print(f'# Hosts: {",".join(hosts)}')
        print(f'# MPI Library Path: {",".join(libpaths)}')
        print(f'# tensorflow {tf.__version__}')
        print(f'# Mode: {args.mode}')
        print(f'# Global batch: {global_batch}')
        print(f'# Batch per rank: {local}')
        print(f'# Threads per rank: {args.threads or "default"}')
        print(f'# Model: generator {gen.count_params()} parameters, discriminator {disc.count_params()} '
              f'parameters; gradient buffer {fused.n} float32 ({4 * fused.n / 1e6:.2f} MB), '
              f'one allreduce per step')
        print('# step  time_s  allreduce_s  d_loss  g_loss', flush=True)

    rng = np.random.default_rng(args.seed * 1000 + rank)     # each rank its own showers
    pool_x, pool_e = showers(rng, max(4 * local, 16), np)

    @tf.function
    def grads(real, energy, noise):
        e = tf.reshape(energy, (-1, 1))
        with tf.GradientTape(persistent=True) as tape:
            fake = gen([noise, e], training=True)
            p_real, e_real = disc(real, training=True)
            p_fake, e_fake = disc(fake, training=True)
            d_loss = (bce(tf.ones_like(p_real), p_real) + bce(tf.zeros_like(p_fake), p_fake)
                      + 0.1 * tf.reduce_mean(tf.abs(e_real - e)))
            ecal = tf.reduce_sum(fake, axis=[1, 2, 3, 4])
            g_loss = (bce(tf.ones_like(p_fake), p_fake) + 0.1 * tf.reduce_mean(tf.abs(e_fake - e))
                      # the ECAL sum against what the energy deposits, as a relative error
                      + 0.1 * tf.reduce_mean(tf.abs(ecal - SAMPLING * energy) / (SAMPLING * energy)))
        g_grads = tape.gradient(g_loss, gen.trainable_variables)
        d_grads = tape.gradient(d_loss, disc.trainable_variables)
        return g_grads + d_grads, d_loss, g_loss

    inject_kind, inject_step = (args.inject.split(':') + [''])[:2] if args.inject else ('', '0')
    inject_step = int(inject_step or 0)
    total = args.warmup + args.steps
    step_t, ar_t = np.zeros(total), np.zeros(total)
    d_hist, g_hist = [], []
    nonfinite, diverged, checks, max_diff = '', '', 0, 0.0
    comm.Barrier()
    for step in range(1, total + 1):
        idx = rng.integers(0, len(pool_x), local)
        real = pool_x[idx]
        if inject_kind == 'nan' and step == inject_step and rank == 0:
            real = real.copy()
            real[0, 12, 12, 12, 0] = np.nan
        noise = rng.normal(0, 1, (local, args.latent)).astype(np.float32)
        t0 = time.perf_counter()
        g, d_loss, g_loss = grads(tf.constant(real), tf.constant(pool_e[idx]), tf.constant(noise))
        buf = fused.pack([t.numpy() for t in g], [float(d_loss), float(g_loss)], np)
        t1 = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        ar_t[step - 1] = time.perf_counter() - t1
        buf /= size
        avg, losses = fused.unpack(buf)
        g_opt.apply_gradients(zip(avg[:ngen], gen.trainable_variables))
        d_opt.apply_gradients(zip(avg[ngen:], disc.trainable_variables))
        step_t[step - 1] = time.perf_counter() - t0
        d_hist.append(float(losses[0]))
        g_hist.append(float(losses[1]))
        if rank == 0:
            print(f'{step:<5d} {step_t[step - 1]:.4f} {ar_t[step - 1]:.5f} {losses[0]:.5f} {losses[1]:.5f}',
                  flush=True)
        # the losses are the global means, the same on every rank: all stop together
        if not np.all(np.isfinite(losses)):
            nonfinite = f'd_loss {losses[0]} g_loss {losses[1]} at step {step}'
            break
        if inject_kind == 'diverge' and step == inject_step and rank == size - 1:
            v = variables[0]
            v.assign(v + 1e-3)          # a replica that applied a different update
        if step % args.check_every == 0 or step == total:
            w = fused.pack([v.numpy() for v in variables], [0, 0], np)
            hi, lo = np.empty_like(w), np.empty_like(w)
            comm.Allreduce(w, hi, op=MPI.MAX)
            comm.Allreduce(w, lo, op=MPI.MIN)
            checks += 1
            diff = float(np.max(hi - lo)) if w.size else 0.0
            max_diff = max(max_diff, diff)
            if diff > 0:
                diverged = f'max abs difference {diff:.3g} at step {step}'
                break
    done = step
    # the slowest rank sets each step's time
    comm.Allreduce(MPI.IN_PLACE, step_t, op=MPI.MAX)
    comm.Allreduce(MPI.IN_PLACE, ar_t, op=MPI.MAX)
    if rank == 0:
        timed = slice(args.warmup, done)
        st, at = step_t[timed], ar_t[timed]
        if len(st):
            med = float(np.median(st))
            print(f'# Timed steps: {len(st)} (after {args.warmup} warm-up)')
            print(f'# Median step time: {med:.5f} s')
            print(f'# Samples per second: {global_batch / med:.3f}')
            print(f'# Allreduce share: {100.0 * at.sum() / st.sum():.6f} %')
            print(f'# Median allreduce time: {float(np.median(at)):.6f} s')
        print(f'# Loss first/last: d {d_hist[0]:.4f}/{d_hist[-1]:.4f} g {g_hist[0]:.4f}/{g_hist[-1]:.4f}')
        print('# Losses finite: ' + (f'no ({nonfinite})' if nonfinite else 'yes'))
        print('# Weights in sync: ' + (f'no ({diverged})' if diverged else
                                       f'yes (max abs difference {max_diff:g} over {checks} checks)'
                                       if checks else 'not compared (training stopped first)'))
        ok = not nonfinite and not diverged and done == total
        print(f'# Validation: {"Pass" if ok else "FAIL"}', flush=True)
    return 0 if not nonfinite and not diverged else 1


if __name__ == '__main__':
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
