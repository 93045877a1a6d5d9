/* A STREAM-like kernel, as a ReFrame user would bring one: Copy and Triad over
 * arrays of ELEM (float or double, set at compile time), best of NTIMES.
 * argv[1]: elements per array; argv[2]: passes per counted pass (a slowdown
 * factor: each kernel runs that often, the bytes of one pass are counted). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifndef ELEM
#define ELEM double
#endif
#define NTIMES 10

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1L << 23;
    int slow = argc > 2 ? atoi(argv[2]) : 1;
    ELEM *a = malloc(n * sizeof(ELEM)), *b = malloc(n * sizeof(ELEM)), *c = malloc(n * sizeof(ELEM));
    double best_copy = 1e30, best_triad = 1e30;
    if (!a || !b || !c || n < 1 || slow < 1) {
        fprintf(stderr, "usage: stream_like ELEMENTS [SLOWDOWN]\n");
        return 2;
    }
    for (long i = 0; i < n; i++) {
        a[i] = 1; b[i] = 2; c[i] = 0;
    }
    for (int k = 0; k < NTIMES; k++) {
        double t = now();
        for (int s = 0; s < slow; s++)
            for (long i = 0; i < n; i++)
                c[i] = a[i];
        t = now() - t;
        if (t < best_copy) best_copy = t;
        t = now();
        for (int s = 0; s < slow; s++)
            for (long i = 0; i < n; i++)
                b[i] = a[i] + (ELEM)3 * c[i];
        t = now() - t;
        if (t < best_triad) best_triad = t;
    }
    printf("Element size: %zu bytes, %ld elements\n", sizeof(ELEM), n);
    printf("Copy:  %12.1f MB/s\n", 2.0 * sizeof(ELEM) * n / best_copy / 1e6);
    printf("Triad: %12.1f MB/s\n", 3.0 * sizeof(ELEM) * n / best_triad / 1e6);
    /* c = a = 1, so b = a + 3c = 4 after every pass */
    printf(b[n - 1] == (ELEM)4 ? "Solution Validates\n" : "Solution fails: b = %g\n", (double)b[n - 1]);
    return 0;
}
