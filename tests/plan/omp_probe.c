/* Probe: where does the OpenMP runtime put each thread?
 *
 * Built by tests/plan/test_runtime_placement.py with `cc -fopenmp -O1`, run under libgomp and (LD_PRELOAD) LLVM
 * libomp with OMP_PLACES / OMP_PROC_BIND set by the test. The environment is read once per process, but the team
 * size is not: every argument is one parallel region with num_threads(T), so one process covers many T.
 *
 *   omp_probe T1 T2 ...             outermost regions, one per T
 *   omp_probe -n OUTER T1 T2 ...    a team of OUTER threads, each of which opens a nested region of T threads
 *                                   (with OMP_PROC_BIND="close,X" outer thread j sits on place j, so the inner
 *                                   region shows rule X with the primary on place j)
 *
 * Output, one line per thread, sorted by the test:
 *   I <num_places> <proc_bind> <runtime>            once: omp_get_num_places(), omp_get_proc_bind(), and
 *                                                   "llvm" when __kmpc_fork_call resolves (LLVM/Intel), else "gnu"
 *   R <T> <team size> <thread> <place> <cpumask>    outermost region
 *   N <T> <outer thread> <outer place> <team size> <thread> <place> <cpumask>
 * <cpumask> is the thread's sched_getaffinity() as hex (CPUs 0..63), showing the binding really happened.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXT 64

static unsigned long long cpumask(void) {
  cpu_set_t set;
  unsigned long long m = 0;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
  for (int c = 0; c < 64; c++)
    if (CPU_ISSET(c, &set)) m |= 1ULL << c;
  return m;
}

int main(int argc, char **argv) {
  int outer = 0, first = 1;
  if (argc > 2 && strcmp(argv[1], "-n") == 0) {
    outer = atoi(argv[2]);
    first = 3;
  }
  printf("I %d %d %s\n", omp_get_num_places(), (int)omp_get_proc_bind(),
         dlsym(RTLD_DEFAULT, "__kmpc_fork_call") ? "llvm" : "gnu");
  for (int a = first; a < argc; a++) {
    int t = atoi(argv[a]);
    if (t < 1 || t > MAXT || outer > MAXT) return 2;
    if (!outer) {
      int place[MAXT], size[MAXT];
      unsigned long long mask[MAXT];
#pragma omp parallel num_threads(t)
      {
        int i = omp_get_thread_num();
        place[i] = omp_get_place_num();
        size[i] = omp_get_num_threads();
        mask[i] = cpumask();
      }
      for (int i = 0; i < size[0]; i++) printf("R %d %d %d %d %llx\n", t, size[i], i, place[i], mask[i]);
    } else {
      static int place[MAXT][MAXT], size[MAXT][MAXT], oplace[MAXT], osize;
      static unsigned long long mask[MAXT][MAXT];
#pragma omp parallel num_threads(outer)
      {
        int j = omp_get_thread_num();
        oplace[j] = omp_get_place_num();
        osize = omp_get_num_threads();
#pragma omp parallel num_threads(t)
        {
          int i = omp_get_thread_num();
          place[j][i] = omp_get_place_num();
          size[j][i] = omp_get_num_threads();
          mask[j][i] = cpumask();
        }
      }
      for (int j = 0; j < osize; j++)
        for (int i = 0; i < size[j][0]; i++)
          printf("N %d %d %d %d %d %d %llx\n", t, j, oplace[j], size[j][i], i, place[j][i], mask[j][i]);
    }
  }
  return 0;
}
