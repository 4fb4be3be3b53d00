"""Planning cost on a big machine: 64 ranks on a 4,096-PU synthetic topology, vs merely iterating the PUs once.

Run by hand: python bench/bench_plan.py   (goal: well inside one 60 Hz frame, 16.7 ms)
"""

from __future__ import annotations

import statistics
import time

from ompviz.plan import PlanRequest, plan
from ompviz.topology.model import PURecord, build_topology


def big_machine():
    """4 packages x 4 NUMA x 4 L3 x 32 cores x 2 PUs = 4,096 PUs, siblings N and N+2048."""
    recs = []
    core = 0
    for p in range(4):
        for n in range(4):
            for l3 in range(4):
                for _ in range(32):
                    for t in range(2):
                        recs.append(
                            PURecord(core + t * 2048, package=p, numa=p * 4 + n, l3_key=(p, n, l3), core_key=core)
                        )
                    core += 1
    return build_topology(recs, name="synthetic 4096", source="bench", source_kind="synthetic")


def timeit(fn, repeat=15):
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    topo = big_machine()

    def iterate():
        n = 0
        for pu in topo.pus:
            n += pu.os_index
        return n

    base = timeit(iterate, 50)
    print(f"iterate 4,096 PUs once: {base * 1e3:.3f} ms")
    worst = 0.0
    for strategy in ("compact", "spread", "numa", "l3", "distrib"):
        for places in ("cores", "threads"):
            req = PlanRequest(ranks=64, strategy=strategy, places=places, bind="spread")
            plan(topo, req)  # warm caches (CpuSet id tuples)
            t = timeit(lambda req=req: plan(topo, req))
            worst = max(worst, t)
            print(f"plan 64 ranks {strategy:8s} places={places:8s}: {t * 1e3:7.2f} ms  ({t / base:6.0f}x iterate)")
    verdict = "OK" if worst < 16.7e-3 else "SLOWER than one 60 Hz frame"
    print(f"worst: {worst * 1e3:.2f} ms = {worst / base:.0f}x iterating the PUs once; one frame is 16.7 ms: {verdict}")


if __name__ == "__main__":
    main()
