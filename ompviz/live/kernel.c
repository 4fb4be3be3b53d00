/* ompviz built-in OpenMP kernel: a memory- and compute-bound loop in every OpenMP thread.
 *
 * usage: ompviz-kernel [DURATION_S [INTERVAL_S]]   (DURATION_S <= 0 or absent: run until killed)
 *
 * stdout, one line per event, each flushed at once (ompviz reads them through a pipe):
 *   ompviz-thread thread=N tid=T team=S place=P cpu=C   once per thread at start (P = omp_get_place_num, -1 unbound)
 *   ompviz-rates ips=X0,X1,...                           every INTERVAL_S (default 0.25): iterations/s of thread
 *                                                        0, 1, ... over the last interval
 *   ompviz-done iterations=I0,I1,...                     when DURATION_S is over
 * One "iteration" is one pass of CHUNK doubles: a read-modify-write stream over a per-thread buffer larger than a
 * typical L2 (memory traffic) with a dependent multiply-add chain on every element (compute).
 * Rates are one line per interval from the primary thread (it reads every thread's counter) rather than one line
 * per thread: with many threads that is many fewer pipe writes for ompviz to wake up for.
 * The native tid comes from gettid: libgomp's %i in OMP_AFFINITY_FORMAT prints the pthread_t, not the tid.
 */
#define _GNU_SOURCE
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BUF_DOUBLES (1u << 18) /* 2 MiB per thread */
#define CHUNK 4096u

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
    unsigned long long count; /* iterations done, written by its thread, read by the primary */
    char pad[64 - sizeof(unsigned long long)]; /* one cache line per thread: no false sharing */
} slot_t;

static void report(slot_t *slots, unsigned long long *prev, int n, double dt, const char *tag) {
    char line[64 + 32 * 64];
    int len = snprintf(line, 32, "%s", tag);
    for (int i = 0; i < n && len < (int)sizeof(line) - 32; i++) {
        unsigned long long c = __atomic_load_n(&slots[i].count, __ATOMIC_RELAXED);
        if (dt > 0.0)
            len += snprintf(line + len, 32, "%s%.1f", i ? "," : "", (double)(c - prev[i]) / dt);
        else
            len += snprintf(line + len, 32, "%s%llu", i ? "," : "", c);
        prev[i] = c;
    }
    printf("%s\n", line);
}

int main(int argc, char **argv) {
    double duration = argc > 1 ? atof(argv[1]) : 0.0;
    double interval = argc > 2 ? atof(argv[2]) : 0.25;
    if (interval <= 0.0) interval = 0.25;
    setvbuf(stdout, NULL, _IOLBF, 0);
    int max_threads = omp_get_max_threads();
    slot_t *slots = aligned_alloc(64, sizeof(slot_t) * (size_t)max_threads);
    unsigned long long *prev = calloc((size_t)max_threads, sizeof(unsigned long long));
    if (!slots || !prev) {
        fprintf(stderr, "ompviz-kernel: out of memory\n");
        return 1;
    }
    for (int i = 0; i < max_threads; i++) slots[i].count = 0;
    double start = now();
    volatile double sink = 0.0;

#pragma omp parallel
    {
        int me = omp_get_thread_num();
        int team = omp_get_num_threads();
        long tid = (long)syscall(SYS_gettid);
        printf("ompviz-thread thread=%d tid=%ld team=%d place=%d cpu=%d\n", me, tid, team, omp_get_place_num(),
               sched_getcpu());
        double *buf = malloc(BUF_DOUBLES * sizeof(double));
        if (!buf) {
            fprintf(stderr, "ompviz-kernel: out of memory\n");
            exit(1);
        }
        for (unsigned i = 0; i < BUF_DOUBLES; i++) buf[i] = (double)(i & 1023) * 1e-3;
        unsigned pos = 0;
        unsigned long long total = 0;
        double last = now();
        double acc = 0.0;
        for (;;) {
            for (unsigned k = 0; k < CHUNK; k++) {
                double x = buf[pos];
                x = x * 0.999999 + 1e-6;
                x = x * 1.000001 - 1e-6;
                buf[pos] = x;
                acc += x;
                pos = (pos + 1) & (BUF_DOUBLES - 1);
            }
            total++;
            __atomic_store_n(&slots[me].count, total, __ATOMIC_RELAXED);
            double t = now();
            if (me == 0 && t - last >= interval) {
                report(slots, prev, team < max_threads ? team : max_threads, t - last, "ompviz-rates ips=");
                last = t;
            }
            if (duration > 0.0 && t - start >= duration) break;
        }
#pragma omp barrier
        if (me == 0) report(slots, prev, team < max_threads ? team : max_threads, 0.0, "ompviz-done iterations=");
        sink += acc;
        free(buf);
    }
    return sink == 12345.678 ? 3 : 0; /* keeps acc alive without printing it */
}
