/* ompviz built-in OpenMP kernel: a memory- and compute-bound loop in every OpenMP thread.
 *
 * usage: ompviz-kernel [DURATION_S [INTERVAL_S]]   (DURATION_S <= 0 or absent: run until killed)
 *
 * stdout, one line per event, each flushed at once (ompviz reads them through a pipe):
 *   ompviz-thread thread=N tid=T team=S place=P cpu=C   once per thread at start (P = omp_get_place_num, -1 unbound)
 *   ompviz-rate thread=N tid=T ips=X                     every INTERVAL_S (default 0.25) per thread
 *   ompviz-done thread=N tid=T iterations=I              when DURATION_S is over
 * One "iteration" is one pass of CHUNK doubles: a read-modify-write stream over a per-thread buffer larger than a
 * typical L2 (memory traffic) with a dependent multiply-add chain on every element (compute).
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

int main(int argc, char **argv) {
    double duration = argc > 1 ? atof(argv[1]) : 0.0;
    double interval = argc > 2 ? atof(argv[2]) : 0.25;
    if (interval <= 0.0) interval = 0.25;
    setvbuf(stdout, NULL, _IOLBF, 0);
    double start = now();
    volatile double sink = 0.0;

#pragma omp parallel
    {
        int me = omp_get_thread_num();
        long tid = (long)syscall(SYS_gettid);
        printf("ompviz-thread thread=%d tid=%ld team=%d place=%d cpu=%d\n", me, tid, omp_get_num_threads(),
               omp_get_place_num(), sched_getcpu());
        double *buf = malloc(BUF_DOUBLES * sizeof(double));
        if (!buf) {
            fprintf(stderr, "ompviz-kernel: out of memory\n");
            exit(1);
        }
        for (unsigned i = 0; i < BUF_DOUBLES; i++) buf[i] = (double)(i & 1023) * 1e-3;
        unsigned pos = 0;
        unsigned long long total = 0, since = 0;
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
            since++;
            double t = now();
            if (t - last >= interval) {
                printf("ompviz-rate thread=%d tid=%ld ips=%.1f\n", me, tid, (double)since / (t - last));
                since = 0;
                last = t;
            }
            if (duration > 0.0 && t - start >= duration) break;
        }
        printf("ompviz-done thread=%d tid=%ld iterations=%llu\n", me, tid, total);
        sink += acc;
        free(buf);
    }
    return sink == 12345.678 ? 3 : 0; /* keeps acc alive without printing it */
}
