"""Planning cost on a big machine: 64 ranks on a 4,096-PU synthetic topology, vs merely iterating the PUs once.

Run by hand: python bench/bench_plan.py [--rounds N] [--wall]   (goal: well inside one 60 Hz frame, 16.7 ms)

Times are medians of the process CPU time (time.process_time) by default: on a shared, loaded machine wall time
mostly measures the other processes; --wall reports wall-clock medians instead. The cases are measured in
interleaved rounds (every case once per round) so that a burst of load hits all of them alike, and every time is
also given as a ratio to the baseline of the same rounds: iterating the 4,096 PUs once (``for pu in topo.pus``).
That ratio is what carries over between machines.
"""

from __future__ import annotations

import argparse
import statistics
import time

from ompviz.plan import PlanRequest, plan
from ompviz.topology.model import PURecord, build_topology

FRAME = 1 / 60


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


def cases() -> list[tuple[str, PlanRequest]]:
    """The original 10 cases (64 ranks, every strategy x places cores/threads) and other costly requests."""
    out = []
    for strategy in ("compact", "spread", "numa", "l3", "distrib"):
        for places in ("cores", "threads"):
            out.append(
                (f"{strategy} places={places}", PlanRequest(ranks=64, strategy=strategy, places=places, bind="spread"))
            )
    more = [
        ("compact smt=one", PlanRequest(ranks=64, strategy="compact", smt="one", places="cores", bind="close")),
        ("spread notation=intervals", PlanRequest(ranks=64, strategy="spread", places="threads", notation="intervals")),
        ("compact notation=abstract", PlanRequest(ranks=64, strategy="compact", places="cores", notation="abstract")),
        ("compact threads=48", PlanRequest(ranks=64, strategy="compact", places="threads", threads=48)),
        ("numa reserve=4 CPUs", PlanRequest(ranks=64, strategy="numa", places="cores", reserve=_reserve())),
        ("manual 64 lists", PlanRequest(ranks=64, strategy="manual", places="cores", cpus=_manual())),
        ("vllm 16 ranks", PlanRequest(ranks=16, strategy="vllm", places="cores")),
    ]
    return out + more


def _reserve():
    from ompviz.cpuset import CpuSet

    return CpuSet([0, 1, 2048, 2049])


def _manual() -> str:
    return "|".join(f"{32 * k}-{32 * k + 31},{2048 + 32 * k}-{2048 + 32 * k + 31}" for k in range(64))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--wall", action="store_true", help="wall-clock time instead of process CPU time")
    args = ap.parse_args()
    clock = time.perf_counter if args.wall else time.process_time
    topo = big_machine()

    def iterate():
        n = 0
        for pu in topo.pus:
            n += pu.os_index
        return n

    todo = cases()
    for _, req in todo:
        plan(topo, req)  # warm the per-topology lookups (built once per topology)
    base: list[float] = []
    times: dict[str, list[float]] = {name: [] for name, _ in todo}
    for _ in range(args.rounds):
        for _ in range(5):
            t0 = clock()
            iterate()
            base.append(clock() - t0)
        for name, req in todo:
            t0 = clock()
            plan(topo, req)
            times[name].append(clock() - t0)
    b = statistics.median(base)
    what = "wall" if args.wall else "CPU"
    print(f"iterate 4,096 PUs once: {b * 1e3:.3f} ms ({what} time, median of {len(base)})")
    worst = (0.0, "")
    for name, ts in times.items():
        t = statistics.median(ts)
        worst = max(worst, (t, name))
        print(f"plan {name:28s}: {t * 1e3:7.2f} ms  ({t / b:5.0f}x iterate)")
    t, name = worst
    verdict = "OK" if t < FRAME else "SLOWER than one 60 Hz frame"
    print(
        f"worst ({name}): {t * 1e3:.2f} ms = {t / b:.0f}x iterating the PUs once; "
        f"one frame is 16.7 ms = {FRAME / b:.0f}x here: {verdict}"
    )


if __name__ == "__main__":
    main()
