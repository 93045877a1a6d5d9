/*
 * OSU-style MPI microbenchmarks in one binary: latency, bw, bibw, allreduce,
 * alltoall.  The output follows the OSU micro-benchmarks format so that one
 * parser reads both this program and the real OSU binaries.  Additions are
 * comment lines only (MPI library, ranks, hosts, validation), which OSU
 * parsers skip.
 *
 *   osu_mpi BENCH [-m [MIN:]MAX] [-i ITERS] [-x WARMUP] [-I ITERS_LARGE]
 *                 [-X WARMUP_LARGE] [-w WINDOW]
 *   osu_mpi version          print MPI_Get_library_version and exit
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LARGE_MESSAGE 8192

enum bench { LATENCY, BW, BIBW, ALLREDUCE, ALLTOALL, VERSION };

static struct {
    enum bench bench;
    size_t min_size, max_size;
    int iters, skip, iters_large, skip_large, window;
} opt;

static int rank, nranks;

static void usage_exit(const char *msg)
{
    if (rank == 0)
        fprintf(stderr, "osu_mpi: %s\nusage: osu_mpi latency|bw|bibw|allreduce|alltoall|version "
                "[-m [MIN:]MAX] [-i N] [-x N] [-I N] [-X N] [-w N]\n", msg);
    MPI_Finalize();
    exit(2);
}

static void defaults(void)
{
    /* OSU 7 defaults, so the curves are comparable with published OSU runs */
    opt.max_size = 1 << 22;
    opt.window = 64;
    switch (opt.bench) {
    case LATENCY:
        opt.min_size = 1; opt.iters = 10000; opt.skip = 100;
        opt.iters_large = 1000; opt.skip_large = 10; break;
    case BW: case BIBW:
        opt.min_size = 1; opt.iters = 100; opt.skip = 10;
        opt.iters_large = 20; opt.skip_large = 2; break;
    case ALLREDUCE:
        opt.min_size = sizeof(float); opt.iters = 1000; opt.skip = 200;
        opt.iters_large = 100; opt.skip_large = 10; break;
    case ALLTOALL:
        opt.min_size = 1; opt.iters = 1000; opt.skip = 200;
        opt.iters_large = 100; opt.skip_large = 10; break;
    default: break;
    }
}

static void parse(int argc, char **argv)
{
    if (argc < 2) usage_exit("missing benchmark name");
    const char *names[] = {"latency", "bw", "bibw", "allreduce", "alltoall", "version"};
    int found = 0;
    for (int b = 0; b <= VERSION; b++)
        if (strcmp(argv[1], names[b]) == 0) { opt.bench = b; found = 1; }
    if (!found) usage_exit("unknown benchmark");
    defaults();
    int large_iters_set = 0, large_skip_set = 0;
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc) usage_exit("option without a value");
        char *v = argv[++i];
        if (strcmp(argv[i - 1], "-m") == 0) {
            char *colon = strchr(v, ':');
            if (colon) { opt.min_size = strtoul(v, NULL, 10); opt.max_size = strtoul(colon + 1, NULL, 10); }
            else opt.max_size = strtoul(v, NULL, 10);
        }
        else if (strcmp(argv[i - 1], "-i") == 0) opt.iters = atoi(v);
        else if (strcmp(argv[i - 1], "-x") == 0) opt.skip = atoi(v);
        else if (strcmp(argv[i - 1], "-I") == 0) { opt.iters_large = atoi(v); large_iters_set = 1; }
        else if (strcmp(argv[i - 1], "-X") == 0) { opt.skip_large = atoi(v); large_skip_set = 1; }
        else if (strcmp(argv[i - 1], "-w") == 0) opt.window = atoi(v);
        else usage_exit("unknown option");
    }
    /* like OSU: -i/-x apply to large messages too unless given separately */
    if (!large_iters_set && opt.iters < opt.iters_large) opt.iters_large = opt.iters;
    if (!large_skip_set && opt.skip < opt.skip_large) opt.skip_large = opt.skip;
    if (opt.min_size < 1 || opt.max_size < opt.min_size || opt.iters < 1 || opt.skip < 0 || opt.window < 1)
        usage_exit("bad option value");
    if (opt.bench == ALLREDUCE && opt.min_size < sizeof(float)) opt.min_size = sizeof(float);
}

static void *xalloc(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, (size_t)sysconf(_SC_PAGESIZE), n ? n : 1) != 0) {
        fprintf(stderr, "osu_mpi: cannot allocate %zu bytes\n", n);
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
    memset(p, 0, n ? n : 1);
    return p;
}

static unsigned char pattern(size_t size, size_t i, int salt) { return (unsigned char)((size * 7 + i * 13 + salt) & 0xff); }

static void fill(unsigned char *b, size_t size, int salt) { for (size_t i = 0; i < size; i++) b[i] = pattern(size, i, salt); }

static int check(const unsigned char *b, size_t size, int salt)
{
    for (size_t i = 0; i < size; i++) if (b[i] != pattern(size, i, salt)) return 0;
    return 1;
}

/* ---- point to point ---------------------------------------------------- */

static double run_latency(size_t size, unsigned char *s, unsigned char *r, int *ok)
{
    int iters = size > LARGE_MESSAGE ? opt.iters_large : opt.iters;
    int skip = size > LARGE_MESSAGE ? opt.skip_large : opt.skip;
    double t0 = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    for (int i = 0; i < iters + skip; i++) {
        if (i == skip) t0 = MPI_Wtime();
        if (rank == 0) {
            MPI_Send(s, (int)size, MPI_CHAR, 1, 1, MPI_COMM_WORLD);
            MPI_Recv(r, (int)size, MPI_CHAR, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else if (rank == 1) {
            MPI_Recv(r, (int)size, MPI_CHAR, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(s, (int)size, MPI_CHAR, 0, 1, MPI_COMM_WORLD);
        }
    }
    double t = (MPI_Wtime() - t0) * 1e6 / (2.0 * iters);
    /* validation round: rank 0 sends a known pattern, rank 1 echoes what it got */
    if (rank == 0) {
        fill(s, size, 1);
        MPI_Send(s, (int)size, MPI_CHAR, 1, 2, MPI_COMM_WORLD);
        MPI_Recv(r, (int)size, MPI_CHAR, 1, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        *ok = check(r, size, 1);
    } else if (rank == 1) {
        MPI_Recv(r, (int)size, MPI_CHAR, 0, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Send(r, (int)size, MPI_CHAR, 0, 2, MPI_COMM_WORLD);
    }
    return t;
}

static double run_bw(size_t size, unsigned char *s, unsigned char *r, int bidir, int *ok)
{
    int iters = size > LARGE_MESSAGE ? opt.iters_large : opt.iters;
    int skip = size > LARGE_MESSAGE ? opt.skip_large : opt.skip;
    int w = opt.window;
    MPI_Request *req = malloc(sizeof(MPI_Request) * 2 * (size_t)w);
    char ack = 0;
    double t0 = 0;
    int peer = rank == 0 ? 1 : 0;
    MPI_Barrier(MPI_COMM_WORLD);
    for (int i = 0; i < iters + skip; i++) {
        if (i == skip) t0 = MPI_Wtime();
        if (rank > 1) continue;
        int n = 0;
        if (bidir) {
            for (int j = 0; j < w; j++) MPI_Irecv(r, (int)size, MPI_CHAR, peer, 10, MPI_COMM_WORLD, &req[n++]);
            for (int j = 0; j < w; j++) MPI_Isend(s, (int)size, MPI_CHAR, peer, 10, MPI_COMM_WORLD, &req[n++]);
            MPI_Waitall(n, req, MPI_STATUSES_IGNORE);
        } else if (rank == 0) {
            for (int j = 0; j < w; j++) MPI_Isend(s, (int)size, MPI_CHAR, 1, 10, MPI_COMM_WORLD, &req[n++]);
            MPI_Waitall(n, req, MPI_STATUSES_IGNORE);
            MPI_Recv(&ack, 1, MPI_CHAR, 1, 11, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else {
            for (int j = 0; j < w; j++) MPI_Irecv(r, (int)size, MPI_CHAR, 0, 10, MPI_COMM_WORLD, &req[n++]);
            MPI_Waitall(n, req, MPI_STATUSES_IGNORE);
            MPI_Send(&ack, 1, MPI_CHAR, 0, 11, MPI_COMM_WORLD);
        }
    }
    double el = MPI_Wtime() - t0;
    double mbs = (double)size * iters * w * (bidir ? 2.0 : 1.0) / el / 1e6;
    free(req);
    if (rank <= 1) {
        fill(s, size, 2 + rank);
        MPI_Sendrecv(s, (int)size, MPI_CHAR, peer, 12, r, (int)size, MPI_CHAR, peer, 12,
                     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        *ok = check(r, size, 2 + peer);
    }
    return mbs;
}

/* ---- collectives -------------------------------------------------------- */

static double reduce_avg(double t_us)
{
    double sum = 0;
    MPI_Reduce(&t_us, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    return sum / nranks;
}

static double run_allreduce(size_t size, float *s, float *r, int *ok)
{
    int iters = size > LARGE_MESSAGE ? opt.iters_large : opt.iters;
    int skip = size > LARGE_MESSAGE ? opt.skip_large : opt.skip;
    int count = (int)(size / sizeof(float));
    double total = 0;
    for (int i = 0; i < iters + skip; i++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allreduce(s, r, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (i >= skip) total += MPI_Wtime() - t0;
    }
    for (int i = 0; i < count; i++) s[i] = (float)(rank + 1);
    MPI_Allreduce(s, r, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    float expect = (float)nranks * (nranks + 1) / 2.0f;
    *ok = 1;
    for (int i = 0; i < count; i++) if (r[i] != expect) { *ok = 0; break; }
    return reduce_avg(total * 1e6 / iters);
}

static double run_alltoall(size_t size, unsigned char *s, unsigned char *r, int *ok)
{
    int iters = size > LARGE_MESSAGE ? opt.iters_large : opt.iters;
    int skip = size > LARGE_MESSAGE ? opt.skip_large : opt.skip;
    double total = 0;
    for (int i = 0; i < iters + skip; i++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Alltoall(s, (int)size, MPI_CHAR, r, (int)size, MPI_CHAR, MPI_COMM_WORLD);
        if (i >= skip) total += MPI_Wtime() - t0;
    }
    /* block j sent by rank p carries salt p*31+j: the receiver knows what each peer sent it */
    for (int j = 0; j < nranks; j++) fill(s + (size_t)j * size, size, rank * 31 + j);
    MPI_Alltoall(s, (int)size, MPI_CHAR, r, (int)size, MPI_CHAR, MPI_COMM_WORLD);
    *ok = 1;
    for (int p = 0; p < nranks && *ok; p++) *ok = check(r + (size_t)p * size, size, p * 31 + rank);
    return reduce_avg(total * 1e6 / iters);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    parse(argc, argv);

    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len;
    MPI_Get_library_version(lib, &len);
    char *nl = strchr(lib, '\n');
    if (nl) *nl = '\0';

    /* every rank's host, so the report can say which nodes carried the numbers */
    char host[MPI_MAX_PROCESSOR_NAME] = {0};
    MPI_Get_processor_name(host, &len);
    char *hosts = rank == 0 ? malloc((size_t)nranks * MPI_MAX_PROCESSOR_NAME) : NULL;
    MPI_Gather(host, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, hosts, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, MPI_COMM_WORLD);

    /* the file the MPI library was loaded from, on every rank: the only proof
       of host-injected vs bundled MPI when both report the same version */
    enum { PATHLEN = 512 };
    char path[PATHLEN] = "unknown";
    Dl_info info;
    if (dladdr((void *)MPI_Init, &info) && info.dli_fname) {
        char real[PATH_MAX];
        snprintf(path, PATHLEN, "%.*s", PATHLEN - 1, realpath(info.dli_fname, real) ? real : info.dli_fname);
    }
    char *paths = rank == 0 ? malloc((size_t)nranks * PATHLEN) : NULL;
    MPI_Gather(path, PATHLEN, MPI_CHAR, paths, PATHLEN, MPI_CHAR, 0, MPI_COMM_WORLD);

    if (rank == 0) {
        printf("# MPI Library: %s\n# Ranks: %d\n# Hosts:", lib, nranks);
        for (int i = 0; i < nranks; i++) printf("%s%s", i ? "," : " ", hosts + (size_t)i * MPI_MAX_PROCESSOR_NAME);
        printf("\n# MPI Library Path:");
        for (int i = 0; i < nranks; i++) printf("%s%s", i ? "," : " ", paths + (size_t)i * PATHLEN);
        printf("\n");
    }
    if (opt.bench == VERSION) { MPI_Finalize(); return 0; }

    int pt2pt = opt.bench == LATENCY || opt.bench == BW || opt.bench == BIBW;
    if (pt2pt && nranks < 2) usage_exit("point-to-point benchmarks need at least 2 ranks");

    const char *title[] = {"OSU MPI Latency Test", "OSU MPI Bandwidth Test",
                           "OSU MPI Bi-Directional Bandwidth Test", "OSU MPI Allreduce Latency Test",
                           "OSU MPI All-to-All Personalized Exchange Latency Test"};
    const char *col[] = {"Latency (us)", "Bandwidth (MB/s)", "Bandwidth (MB/s)",
                         "Avg Latency(us)", "Avg Latency(us)"};
    if (rank == 0) {
        printf("# %s (hpcval osu_mpi, OSU 7 output format)\n# %-10s %s\n", title[opt.bench], "Size", col[opt.bench]);
        fflush(stdout);
    }

    size_t bufsize = opt.bench == ALLTOALL ? opt.max_size * (size_t)nranks : opt.max_size;
    unsigned char *s = xalloc(bufsize), *r = xalloc(bufsize);
    int all_ok = 1;
    for (size_t size = opt.min_size; size <= opt.max_size; size *= 2) {
        int ok = 1;
        double v = 0;
        switch (opt.bench) {
        case LATENCY: v = run_latency(size, s, r, &ok); break;
        case BW: v = run_bw(size, s, r, 0, &ok); break;
        case BIBW: v = run_bw(size, s, r, 1, &ok); break;
        case ALLREDUCE: v = run_allreduce(size, (float *)s, (float *)r, &ok); break;
        case ALLTOALL: v = run_alltoall(size, s, r, &ok); break;
        default: break;
        }
        int glob_ok = 0;
        MPI_Allreduce(&ok, &glob_ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
        if (!glob_ok) all_ok = 0;
        if (rank == 0) {
            printf("%-12zu %.2f\n", size, v);
            if (!glob_ok) printf("# Validation: FAIL at size %zu\n", size);
            fflush(stdout);
        }
    }
    if (rank == 0) printf("# Validation: %s\n", all_ok ? "Pass" : "FAIL");
    free(s); free(r); free(hosts); free(paths);
    MPI_Finalize();
    return all_ok ? 0 : 1;
}
