"""Sampler cost: ompviz's own CPU time while watching 2 workers x N threads at 4 Hz, vs `top -H -b -d 0.25 -p PIDS`
watching the same threads for the same period. Goal: ompviz at most half of top's CPU.

    python bench/bench_sampler.py [--threads N] [--seconds S] [--command CMD ...]

The workers run the built-in kernel unbound (OMP_PROC_BIND=false), so both tools see busy, migrating threads.
Printed: CPU seconds of the
sampler thread alone, of the whole ompviz process (sampler + pipe readers parsing the kernel's reports), of top,
and the ratios.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
import uuid

from ompviz.cpuset import CpuSet
from ompviz.live import launcher
from ompviz.live.build import kernel_binary
from ompviz.live.sampler import Sampler
from ompviz.plan.model import ThreadPlacement, Worker


def unbound_worker(rank: int, threads: int, cpus: CpuSet) -> Worker:
    tp = tuple(ThreadPlacement(i, None, cpus) for i in range(threads))
    env = (("OMP_PLACES", cpus.to_braces()), ("OMP_PROC_BIND", "false"), ("OMP_NUM_THREADS", str(threads)))
    return Worker(rank, cpus, (cpus,), env, threads, tp, tp)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=8, help="OpenMP threads per worker (default 8)")
    ap.add_argument("--seconds", type=float, default=4.0, help="measurement period for each tool (default 4)")
    ap.add_argument("--interval", type=float, default=0.25, help="sampling interval for both (default 0.25 = 4 Hz)")
    a = ap.parse_args()
    top = shutil.which("top")
    if top is None:
        print("top not found (procps): cannot compare", file=sys.stderr)
        return 2
    cpus = launcher.own_affinity()
    argv = [str(kernel_binary()), "0", "0.25"]
    run_id = uuid.uuid4().hex
    workers = [unbound_worker(r, a.threads, cpus) for r in range(2)]
    procs = [launcher.spawn_worker(w, argv, launcher.worker_env(w, world_size=2, run_id=run_id), cpus) for w in workers]
    try:
        time.sleep(0.5)  # let every team start
        nthreads = sum(len(os.listdir(f"/proc/{p.pid}/task")) for p in procs)

        # -- ompviz sampler ------------------------------------------------------------------------------------
        sampler_cpu: list[float] = []
        counts: list[int] = []

        def on_sample(s) -> None:  # runs on the sampler thread: thread_time() is that thread's CPU time
            sampler_cpu.append(time.thread_time())
            counts.append(sum(len(w.threads) for w in s.workers))

        sampler = Sampler(procs, a.interval, on_sample)
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        sampler.start()
        time.sleep(a.seconds)
        sampler.stop()
        sampler.close()
        wall = time.monotonic() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        own_proc = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        own_thread = sampler_cpu[-1] if sampler_cpu else 0.0

        # -- top -----------------------------------------------------------------------------------------------
        n = max(1, round(a.seconds / a.interval))
        pids = ",".join(str(p.pid) for p in procs)
        t1 = time.monotonic()
        tp = subprocess.Popen(
            [top, "-H", "-b", "-d", str(a.interval), "-n", str(n + 1), "-p", pids],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "LC_ALL": "C"},
        )
        _, _, ru = os.wait4(tp.pid, 0)
        tp.returncode = 0
        top_wall = time.monotonic() - t1
        top_cpu = ru.ru_utime + ru.ru_stime
    finally:
        launcher.stop_workers(procs, grace=1.0)

    print(
        f"watched: 2 workers, {nthreads} threads, {len(counts)} ompviz samples in {wall:.2f} s "
        f"(top: {n + 1} iterations in {top_wall:.2f} s)"
    )
    print(f"ompviz sampler thread  : {own_thread * 1000:8.1f} ms CPU  ({own_thread / wall * 100:.2f} % of a CPU)")
    print(f"ompviz process (+pipes): {own_proc * 1000:8.1f} ms CPU  ({own_proc / wall * 100:.2f} % of a CPU)")
    print(f"top -H -b -d {a.interval}     : {top_cpu * 1000:8.1f} ms CPU  ({top_cpu / top_wall * 100:.2f} % of a CPU)")
    if top_cpu > 0:
        ratio_t = (own_thread / wall) / (top_cpu / top_wall)
        ratio_p = (own_proc / wall) / (top_cpu / top_wall)
        verdict = "goal met" if ratio_p <= 0.5 else "goal NOT met"
        print(f"ratio ompviz/top: sampler {ratio_t:.2f}, whole process {ratio_p:.2f} (goal <= 0.5: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
