/*
 * Small-file metadata benchmark in the spirit of mdtest (hpc/ior): every MPI
 * rank, in its own directory, creates N files of B bytes, stats them, reads
 * them back and removes them; I iterations.  Each phase is timed as its
 * slowest rank (barrier, work, max over ranks) and reported as a rate
 * (items / time) in mdtest 4.0's SUMMARY layout, so one parser reads this
 * program and real mdtest alike.  Additions are comment lines only.
 *
 *   smallfile_md -d DIR [-R NAME] [-n N] [-w BYTES] [-i ITERS]
 *   smallfile_md version          print the provenance lines and exit
 *
 * Everything is created under DIR/NAME (NAME: a unique run directory; by
 * default smallfile_md.<pid>.<time>), rank r works in DIR/NAME/rank.<r>, and
 * everything is removed again, also when a rank hits an error: phases end
 * with a collective check, and on failure every rank removes what it created.
 * A rank that dies outright cannot clean up: the job that started us removes
 * DIR/NAME afterwards (the hpcval check does).
 *
 * Hidden test options: --fail-rank R --fail-after-files K [--fail-mode M]
 * make rank R fail after creating K files in the first iteration: M=error
 * (default) simulates an I/O error (the collective cleanup path), M=kill
 * kills the rank with SIGKILL (nothing of it cleans up).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define VERSION "1.0"

enum phase { TREE_CREATE, FILE_CREATE, FILE_STAT, FILE_READ, FILE_REMOVE, TREE_REMOVE, NPHASES };
static const char *phase_name[NPHASES] = {"Tree creation", "File creation", "File stat",
                                          "File read", "File removal", "Tree removal"};
/* printed in mdtest's order: File rows, then Tree rows */
static const enum phase print_order[NPHASES] = {FILE_CREATE, FILE_STAT, FILE_READ, FILE_REMOVE,
                                                TREE_CREATE, TREE_REMOVE};

static struct {
    const char *dir, *run_name;
    long files, bytes;
    int iters;
    int version_only;
    int fail_rank;
    long fail_after;
    int fail_kill;
} opt = {NULL, NULL, 100, 4096, 3, 0, -1, -1, 0};

static int rank, nranks;
static char run_dir[PATH_MAX], rank_dir[PATH_MAX];
static long created, removed;          /* this rank's files, over all iterations */
static long live;                      /* files of this rank that exist now */
static int rank_dir_exists, run_dir_mine;

static void usage_exit(const char *msg)
{
    if (rank == 0)
        fprintf(stderr, "smallfile_md: %s\nusage: smallfile_md -d DIR [-R NAME] [-n FILES] "
                "[-w BYTES] [-i ITERS] | smallfile_md version\n", msg);
    MPI_Finalize();
    exit(2);
}

static long to_long(const char *s, long min)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min) usage_exit("bad option value");
    return v;
}

static void parse(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "version") == 0) { opt.version_only = 1; return; }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) usage_exit("option without a value");
        const char *v = argv[++i];
        if (strcmp(a, "-d") == 0) opt.dir = v;
        else if (strcmp(a, "-R") == 0) opt.run_name = v;
        else if (strcmp(a, "-n") == 0) opt.files = to_long(v, 1);
        else if (strcmp(a, "-w") == 0) opt.bytes = to_long(v, 0);
        else if (strcmp(a, "-i") == 0) opt.iters = (int)to_long(v, 1);
        else if (strcmp(a, "--fail-rank") == 0) opt.fail_rank = (int)to_long(v, 0);
        else if (strcmp(a, "--fail-after-files") == 0) opt.fail_after = to_long(v, 0);
        else if (strcmp(a, "--fail-mode") == 0) {
            if (strcmp(v, "kill") == 0) opt.fail_kill = 1;
            else if (strcmp(v, "error") != 0) usage_exit("--fail-mode is error or kill");
        }
        else usage_exit("unknown option");
    }
    if (!opt.dir) usage_exit("missing -d DIR");
    if (strlen(opt.dir) > 3000) usage_exit("-d DIR is too long");
    if (opt.run_name && (strchr(opt.run_name, '/') || strcmp(opt.run_name, ".") == 0 ||
                         strcmp(opt.run_name, "..") == 0 || !*opt.run_name))
        usage_exit("-R takes a plain directory name");
}

static void stamp(const char *what)
{
    char buf[64];
    time_t now = time(NULL);
    strftime(buf, sizeof buf, "%m/%d/%Y %H:%M:%S", localtime(&now));
    printf("-- %s at %s --\n", what, buf);
}

/* File k of a rank holds a fixed pattern with k stamped over its first bytes:
   every file's content is its own, and writing it costs no per-byte loop
   inside the timed creation phase. */
static unsigned char pattern(long i) { return (unsigned char)((i * 7 + rank * 13 + 1) & 0xff); }

static void fill(unsigned char *buf, long bytes)
{
    for (long i = 0; i < bytes; i++) buf[i] = pattern(i);
}

static void stamp_file(unsigned char *buf, long bytes, long k)
{
    for (long i = 0; i < bytes && i < (long)sizeof k; i++) buf[i] = (unsigned char)((k >> (8 * i)) & 0xff);
}

static int content_ok(const unsigned char *got, unsigned char *expect, long bytes, long k)
{
    stamp_file(expect, bytes, k);
    return memcmp(got, expect, (size_t)bytes) == 0;
}

static void file_path(char *out, size_t n, long k) { snprintf(out, n, "%.3900s/f.%ld", rank_dir, k); }

/* Remove whatever this rank still has: its live files, its directory. */
static void cleanup_rank(void)
{
    char path[PATH_MAX];
    for (long k = 0; k < live; k++) {
        file_path(path, sizeof path, k);
        if (unlink(path) == 0) removed++;
    }
    live = 0;
    if (rank_dir_exists && rmdir(rank_dir) == 0) rank_dir_exists = 0;
}

/* One collective check at the end of every phase: 1 when some rank failed. */
static int any_failed(int failed)
{
    int any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
    return any;
}

/* One phase; returns this rank's elapsed seconds, sets *failed. */
static double run_phase(enum phase ph, long iter, unsigned char *buf, unsigned char *rbuf,
                        int *failed, int *valid)
{
    char path[PATH_MAX];
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    switch (ph) {
    case TREE_CREATE:
        if (mkdir(rank_dir, 0755) != 0) {
            fprintf(stderr, "smallfile_md: rank %d: mkdir %s: %s\n", rank, rank_dir, strerror(errno));
            *failed = 1;
        } else rank_dir_exists = 1;
        break;
    case FILE_CREATE:
        for (long k = 0; k < opt.files; k++) {
            if (iter == 0 && rank == opt.fail_rank && k == opt.fail_after) {
                if (opt.fail_kill) { fflush(stdout); raise(SIGKILL); }
                fprintf(stderr, "smallfile_md: rank %d: injected failure after %ld files\n", rank, k);
                *failed = 1;
                break;
            }
            file_path(path, sizeof path, k);
            int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
            if (fd < 0) {
                fprintf(stderr, "smallfile_md: rank %d: create %s: %s\n", rank, path, strerror(errno));
                *failed = 1;
                break;
            }
            created++;
            live = k + 1;
            stamp_file(buf, opt.bytes, k);
            ssize_t w = opt.bytes ? write(fd, buf, (size_t)opt.bytes) : 0;
            if (close(fd) != 0 || w != opt.bytes) {
                fprintf(stderr, "smallfile_md: rank %d: write %s: %s\n", rank, path, strerror(errno));
                *failed = 1;
                break;
            }
        }
        break;
    case FILE_STAT:
        for (long k = 0; k < opt.files; k++) {
            struct stat st;
            file_path(path, sizeof path, k);
            if (stat(path, &st) != 0) { *failed = 1; break; }
            if (st.st_size != opt.bytes) *valid = 0;
        }
        break;
    case FILE_READ:
        for (long k = 0; k < opt.files; k++) {
            file_path(path, sizeof path, k);
            int fd = open(path, O_RDONLY);
            if (fd < 0) { *failed = 1; break; }
            ssize_t r = opt.bytes ? read(fd, rbuf, (size_t)opt.bytes) : 0;
            close(fd);
            if (r != opt.bytes) { *valid = 0; continue; }
            if (opt.bytes && !content_ok(rbuf, buf, opt.bytes, k)) *valid = 0;
        }
        break;
    case FILE_REMOVE:
        for (long k = 0; k < opt.files; k++) {
            file_path(path, sizeof path, k);
            if (unlink(path) != 0) {
                fprintf(stderr, "smallfile_md: rank %d: unlink %s: %s\n", rank, path, strerror(errno));
                *failed = 1;
                continue;
            }
            removed++;
        }
        if (!*failed) live = 0;
        break;
    case TREE_REMOVE:
        if (rmdir(rank_dir) != 0) *failed = 1;
        else rank_dir_exists = 0;
        break;
    default: break;
    }
    return MPI_Wtime() - t0;
}

static void print_summary(double rates[NPHASES][1024], int iters_done)
{
    printf("\nSUMMARY rate (in ops/sec): (of %d iterations)\n", iters_done);
    printf("   Operation                     Max            Min           Mean        Std Dev\n");
    printf("   ---------                     ---            ---           ----        -------\n");
    for (int p = 0; p < NPHASES; p++) {
        enum phase ph = print_order[p];
        double max = 0, min = 1e308, sum = 0, var = 0;
        for (int j = 0; j < iters_done; j++) {
            double r = rates[ph][j];
            if (r > max) max = r;
            if (r < min) min = r;
            sum += r;
        }
        double mean = iters_done ? sum / iters_done : 0;
        for (int j = 0; j < iters_done; j++) var += (rates[ph][j] - mean) * (rates[ph][j] - mean);
        /* like mdtest: the population standard deviation over iterations */
        double sd = iters_done ? sqrt(var / iters_done) : 0;
        if (!iters_done) min = 0;
        printf("   %-18s %14.3f %14.3f %14.3f %14.3f\n", phase_name[ph], max, min, mean, sd);
    }
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

    char host[MPI_MAX_PROCESSOR_NAME] = {0};
    MPI_Get_processor_name(host, &len);
    char *hosts = malloc((size_t)nranks * MPI_MAX_PROCESSOR_NAME);
    MPI_Allgather(host, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, hosts, MPI_MAX_PROCESSOR_NAME, MPI_CHAR,
                  MPI_COMM_WORLD);
    int nodes = 0;
    for (int i = 0; i < nranks; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(hosts + (size_t)i * MPI_MAX_PROCESSOR_NAME, hosts + (size_t)j * MPI_MAX_PROCESSOR_NAME) == 0;
        nodes += !seen;
    }

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
        fflush(stdout);
    }
    if (opt.version_only) { MPI_Finalize(); return 0; }

    /* The target must exist and be writable: checked before anything is created. */
    int bad = 0;
    if (rank == 0) {
        struct stat st;
        if (stat(opt.dir, &st) != 0) bad = 1;
        else if (!S_ISDIR(st.st_mode)) bad = 2;
        else if (access(opt.dir, W_OK | X_OK) != 0) bad = 3;
        if (bad)
            printf("ERROR: target %s %s\n", opt.dir,
                   bad == 1 ? "does not exist" : bad == 2 ? "is not a directory" : "is not writable");
    }
    MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (bad) {
        if (rank == 0) printf("# Files created: 0 removed: 0\n");
        MPI_Finalize();
        return 1;
    }

    if (opt.run_name) snprintf(run_dir, sizeof run_dir, "%.3000s/%.255s", opt.dir, opt.run_name);
    else {
        long tag[2] = {(long)getpid(), (long)time(NULL)};
        MPI_Bcast(tag, 2, MPI_LONG, 0, MPI_COMM_WORLD);
        snprintf(run_dir, sizeof run_dir, "%.3000s/smallfile_md.%ld.%ld", opt.dir, tag[0], tag[1]);
    }
    snprintf(rank_dir, sizeof rank_dir, "%.3900s/rank.%d", run_dir, rank);

    /* The run directory: rank 0 makes it (it must be new: never work in, or
       remove, a directory we did not create).  On a node-local target (tmpfs)
       the other nodes do not see it, and their first rank makes their own. */
    int err = 0;
    if (rank == 0) {
        if (mkdir(run_dir, 0755) != 0) {
            err = errno;
            printf("ERROR: cannot create run directory %s: %s\n", run_dir, strerror(err));
        } else run_dir_mine = 1;
    }
    MPI_Bcast(&err, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (err) { if (rank == 0) printf("# Files created: 0 removed: 0\n"); MPI_Finalize(); return 1; }
    MPI_Comm node;
    int node_rank;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &node_rank);
    if (rank != 0 && node_rank == 0) {
        struct stat st;
        if (stat(run_dir, &st) != 0 && mkdir(run_dir, 0755) == 0) run_dir_mine = 1;
    }
    MPI_Barrier(MPI_COMM_WORLD);

    if (rank == 0) {
        stamp("started");
        printf("\nmdtest-like smallfile_md-%s was launched with %d total task(s) on %d node(s)\n",
               VERSION, nranks, nodes);
        printf("Command line used:");
        for (int i = 0; i < argc; i++) printf(" '%s'", argv[i]);
        printf("\nPath                : %s\n", opt.dir);
        printf("Run directory       : %s\n", run_dir);
        printf("%d tasks, %ld files\n", nranks, (long)nranks * opt.files);
        fflush(stdout);
    }

    static double rates[NPHASES][1024];
    if (opt.iters > 1024) opt.iters = 1024;
    unsigned char *buf = malloc((size_t)(opt.bytes ? opt.bytes : 1));
    unsigned char *rbuf = malloc((size_t)(opt.bytes ? opt.bytes : 1));
    fill(buf, opt.bytes);
    int valid = 1, failed_any = 0, iters_done = 0;
    for (int it = 0; it < opt.iters && !failed_any; it++) {
        for (int ph = TREE_CREATE; ph < NPHASES; ph++) {
            int failed = 0;
            double t = run_phase(ph, it, buf, rbuf, &failed, &valid), tmax = 0;
            MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            double items = (ph == TREE_CREATE || ph == TREE_REMOVE) ? nranks : (double)nranks * opt.files;
            rates[ph][it] = tmax > 0 ? items / tmax : 0;
            if (any_failed(failed)) { failed_any = 1; break; }
        }
        if (!failed_any) iters_done++;
    }
    if (failed_any) cleanup_rank();       /* every rank removes what it created */

    int valid_all = 0;
    MPI_Allreduce(&valid, &valid_all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    long counts[2] = {created, removed}, totals[2] = {0, 0};
    MPI_Reduce(counts, totals, 2, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);          /* all rank directories are gone */
    int rmdir_failed = 0;
    if (run_dir_mine && node_rank == 0 && rmdir(run_dir) != 0) {
        fprintf(stderr, "smallfile_md: rank %d: rmdir %s: %s\n", rank, run_dir, strerror(errno));
        rmdir_failed = 1;
    }
    rmdir_failed = any_failed(rmdir_failed);

    if (rank == 0) {
        if (failed_any) printf("ERROR: a rank failed (see stderr); removed what was created\n");
        else print_summary(rates, iters_done);
        stamp("finished");
        printf("# Files created: %ld removed: %ld\n", totals[0], totals[1]);
        printf("# Validation: %s\n", !failed_any && valid_all && !rmdir_failed ? "Pass" : "FAIL");
        fflush(stdout);
    }
    free(buf); free(rbuf); free(hosts); free(paths);
    MPI_Comm_free(&node);
    MPI_Finalize();
    return failed_any || !valid_all || rmdir_failed ? 1 : 0;
}
