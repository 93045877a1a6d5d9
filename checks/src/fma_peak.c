/* The node's measured double-precision peak: independent FMA chains on every
 * CPU this process may use, the widest vector unit the CPU flags offer.
 *
 * Prints one line per run, for the check's parser:
 *   # Measured peak: HOST GFLOP/s = T threads x ISA (W doubles x 2 FLOP x C chains)
 * (or W floats, for float).
 * The best of REPS timed runs is the peak: a peak is what the hardware can
 * do, and a slower run only says something else was on the CPU.
 *
 * The vector units come from the CPU flags at run time
 * (__builtin_cpu_supports), so one build serves nodes of different
 * generations; the peak is the best of them.  CHAINS independent accumulators
 * cover the FMA latency (4-5 cycles) on two pipes; fewer would measure the
 * latency, not the throughput.
 *
 * Usage: fma_peak [SECONDS [REPS [double|float]]]   (defaults 0.3 s, 3, double)
 */
#define _GNU_SOURCE
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHAINS 12
#define BLOCK 1024L   /* iterations between clock reads */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* One kernel per vector unit and precision: acc = acc * m + a on CHAINS
 * accumulators until SECONDS have passed; returns the FLOP done (2 per
 * element per FMA) and leaves a sum the compiler cannot drop in *sink. */
#define KERNEL(NAME, TARGET, T, BYTES)                                          \
    typedef T NAME##_v __attribute__((vector_size(BYTES)));                     \
    TARGET static double NAME(double seconds, double *sink)                     \
    {                                                                           \
        enum { W = BYTES / sizeof(T) };                                         \
        NAME##_v acc[CHAINS], m, a;                                             \
        for (int w = 0; w < W; w++) { m[w] = 1 - (T)1e-6; a[w] = (T)1e-6; }     \
        for (int c = 0; c < CHAINS; c++)                                        \
            for (int w = 0; w < W; w++) acc[c][w] = 1 + c + w;                  \
        long iters = 0;                                                         \
        double t0 = now();                                                      \
        do {                                                                    \
            for (long i = 0; i < BLOCK; i++) {                                  \
                /* unrolled: the chains stay in registers */                    \
                _Pragma("GCC unroll 16")                                        \
                for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * m + a;       \
            }                                                                   \
            iters += BLOCK;                                                     \
        } while (now() - t0 < seconds);                                         \
        double s = 0;                                                           \
        for (int c = 0; c < CHAINS; c++)                                        \
            for (int w = 0; w < W; w++) s += acc[c][w];                         \
        *sink = s;                                                              \
        return 2.0 * W * CHAINS * iters;                                        \
    }

#define KERNELS(P, T)                                                           \
    KERNEL(scalar_##P, , T, sizeof(T))                                          \
    X86_KERNELS(P, T)                                                           \
    ARM_KERNELS(P, T)

#if defined(__x86_64__)
#define X86_KERNELS(P, T)                                                       \
    KERNEL(sse2_##P, __attribute__((target("sse2"))), T, 16)                    \
    KERNEL(avx2_##P, __attribute__((target("avx2,fma"))), T, 32)                \
    KERNEL(avx512_##P, __attribute__((target("avx512f"))), T, 64)
#else
#define X86_KERNELS(P, T)
#endif
#if defined(__aarch64__)
#define ARM_KERNELS(P, T) KERNEL(neon_##P, , T, 16)
#else
#define ARM_KERNELS(P, T)
#endif

KERNELS(f64, double)
KERNELS(f32, float)

typedef double (*kernel_fn)(double, double *);

struct unit { const char *isa; int bytes; kernel_fn fn; };

/* The vector units the CPU flags offer, widest first.  Every one is timed:
 * a Xeon with one AVX-512 FMA port, or one that lowers its clock for
 * AVX-512, peaks on AVX2. */
#define UNITS(P)                                                                \
    static int units_##P(struct unit *out)                                      \
    {                                                                           \
        int n = 0;                                                              \
        X86_UNITS(P)                                                            \
        ARM_UNITS(P)                                                            \
        if (n == 0) out[n++] = (struct unit){"scalar", 0, scalar_##P};          \
        return n;                                                               \
    }
#if defined(__x86_64__)
/* no FMA: a multiply and an add, still 2 FLOP per element */
#define X86_UNITS(P)                                                            \
    __builtin_cpu_init();                                                       \
    if (__builtin_cpu_supports("avx512f"))                                      \
        out[n++] = (struct unit){"avx512f", 64, avx512_##P};                    \
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))        \
        out[n++] = (struct unit){"avx2+fma", 32, avx2_##P};                     \
    if (n == 0 && __builtin_cpu_supports("sse2"))                               \
        out[n++] = (struct unit){"sse2 (mul+add)", 16, sse2_##P};
#else
#define X86_UNITS(P)
#endif
#if defined(__aarch64__)
#define ARM_UNITS(P) out[n++] = (struct unit){"asimd", 16, neon_##P};
#else
#define ARM_UNITS(P)
#endif

UNITS(f64)
UNITS(f32)

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.3;
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    const char *prec = argc > 3 ? argv[3] : "double";
    int single = strcmp(prec, "float") == 0;
    if (!(seconds > 0) || reps < 1 || (!single && strcmp(prec, "double") != 0)) {
        fprintf(stderr, "usage: fma_peak [SECONDS>0 [REPS>=1 [double|float]]]\n");
        return 2;
    }
    struct unit unit[4];
    int nunits = single ? units_f32(unit) : units_f64(unit);
    int elem = single ? sizeof(float) : sizeof(double);

    /* one thread per CPU of this process's affinity: what a pinned node has */
    cpu_set_t set;
    int ncpu = 1;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        ncpu = CPU_COUNT(&set);
    char host[256] = "unknown";
    gethostname(host, sizeof host - 1);

    double best = 0, sink = 0;
    int at = 0;
    for (int u = 0; u < nunits; u++)
        for (int r = 0; r < reps; r++) {
            double flop = 0, t0 = 0, t1 = 0;
#pragma omp parallel num_threads(ncpu) reduction(+ : flop, sink)
            {
#pragma omp barrier
#pragma omp master
                t0 = now();
                double s;
                flop += unit[u].fn(seconds, &s);
                sink += s;
#pragma omp barrier
#pragma omp master
                t1 = now();
            }
            double rate = flop / (t1 - t0) / 1e9;
            if (rate > best) {
                best = rate;
                at = u;
            }
        }
    int width = unit[at].bytes ? unit[at].bytes / elem : 1;
    printf("# Measured peak: %s %.2f GFLOP/s = %d threads x %s (%d %ss x 2 FLOP x %d chains)\n",
           host, best, ncpu, unit[at].isa, width, prec, CHAINS);
    /* the sum keeps the loop alive; it is finite unless the kernel broke */
    if (sink != sink) {
        fprintf(stderr, "fma_peak: the accumulators are not finite\n");
        return 1;
    }
    return 0;
}
