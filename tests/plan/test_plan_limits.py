"""Size limits of a plan: typos such as ``-n 99999999999`` or ``--cpus 0-1048575`` give one clear error line in
milliseconds (or a normal plan that leaves the CPUs the machine lacks out), never a MemoryError, gigabytes or a
hang. Each case is measured in CPU time and peak Python memory (tracemalloc): before the limits, -n 99999999999
raised MemoryError, --cpus 0-1048575 took 8 GB, --threads 3000000 took 9.6 s."""

from __future__ import annotations

import time
import tracemalloc
from contextlib import contextmanager

import pytest

from ompviz.cpuset import CpuSet, parse_list
from ompviz.errors import OmpvizError
from ompviz.plan import PlanRequest, plan
from ompviz.plan.planner import MAX_RANKS, MAX_THREADS, MAX_TOTAL_THREADS, RANKS_PER_CPU, max_ranks
from ompviz.topology.model import PURecord, build_topology


def machine():
    """2 packages x 4 cores x 2 PUs: core c = CPUs {c, c+8} (16 CPUs)."""
    recs = [
        PURecord(c + 8 * t, package=c // 4, numa=c // 4, l3_key=c // 4, core_key=c) for c in range(8) for t in (0, 1)
    ]
    return build_topology(recs, name="box16", source="test", source_kind="synthetic")


M = machine()


@contextmanager
def cheap(seconds: float = 0.5, megabytes: float = 20):
    """The block must stay under ``seconds`` of CPU time and ``megabytes`` of peak Python allocations."""
    tracemalloc.start()
    t0 = time.process_time()
    try:
        yield
    finally:
        spent = time.process_time() - t0
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    assert spent < seconds, f"{spent:.2f} s CPU"
    assert peak < megabytes, f"{peak:.1f} MB peak"


def codes(p):
    return {w.code: w for w in p.warnings}


def test_rank_limit_is_relative_to_the_machine():
    # 16 allowed CPUs x RANKS_PER_CPU (8) = 128 ranks at most; MAX_RANKS caps huge machines
    assert max_ranks(M) == 16 * RANKS_PER_CPU == 128
    assert MAX_RANKS == 65_536
    p = plan(M, PlanRequest(ranks=128))  # still planned: ranks share CPUs, an error warning says so
    assert len(p.workers) == 128 and "more-ranks-than-cpus" in codes(p)
    for n in (129, 99_999_999_999):
        with cheap(), pytest.raises(OmpvizError) as e:
            plan(M, PlanRequest(ranks=n))
        msg = str(e.value)
        assert f"--ranks {n}" in msg and "16 usable CPUs" in msg and "at most 128 ranks" in msg
        assert "\n" not in msg


@pytest.mark.parametrize("strategy", ["compact", "spread", "numa", "l3", "distrib", "vllm"])
def test_every_strategy_is_protected(strategy):
    with cheap(), pytest.raises(OmpvizError, match="too many ranks"):
        plan(M, PlanRequest(ranks=1_000_000, strategy=strategy))


def test_thread_limits():
    assert MAX_THREADS == 65_536 and MAX_TOTAL_THREADS == 262_144
    with cheap(), pytest.raises(OmpvizError, match="at most 65,536 OpenMP threads per rank"):
        plan(M, PlanRequest(threads=100_000_000))
    with cheap(), pytest.raises(OmpvizError, match="at most 65,536 OpenMP threads per rank"):
        plan(M, PlanRequest(threads=3_000_000))
    # 8 ranks x 65,536 threads = 524,288 > 262,144 in one plan
    with cheap(), pytest.raises(OmpvizError, match="8 ranks x 65536 threads = 524,288"):
        plan(M, PlanRequest(ranks=8, threads=65_536))
    p = plan(M, PlanRequest(ranks=1, threads=MAX_THREADS, places="threads"))  # the limit itself is planned
    assert len(p.workers[0].gnu) == MAX_THREADS


def test_manual_lists_are_cut_to_the_machine_by_mask_algebra():
    with cheap():
        p = plan(M, PlanRequest(strategy="manual", cpus="0-1048575"))
    w = codes(p)["cpu-not-exist"]
    assert w.severity == "error" and w.ranks == (0,) and w.cpus == CpuSet.range(16, 1048575)
    assert "rank 0 names CPUs 16-1048575 that box16 does not have (CPUs: 0-15)" in w.message
    assert p.workers[0].cpus == CpuSet.range(0, 15) and len(p.workers[0].places) == 8
    with cheap():
        p = plan(M, PlanRequest(strategy="manual", cpus="0-100000|3"))
    assert [w.cpus.to_list() for w in p.workers] == ["0-15", "3"]
    # a strided list of half a million missing CPUs: summed up, not listed (one short line)
    with cheap():
        p = plan(M, PlanRequest(strategy="manual", cpus="0-1048575:2"))
    w = codes(p)["cpu-not-exist"]
    assert "524280 CPUs from 16 to 1048574" in w.message and len(w.message) < 200
    assert p.workers[0].cpus == parse_list("0-14:2")


def test_manual_rank_count_is_limited_too():
    with cheap(), pytest.raises(OmpvizError, match="--cpus lists 129 ranks: too many ranks"):
        plan(M, PlanRequest(strategy="manual", cpus="|".join(["0"] * 129)))
    # --ranks is ignored with manual lists: a huge value does not matter
    p = plan(M, PlanRequest(strategy="manual", ranks=10**12, cpus="0|1"))
    assert len(p.workers) == 2


def test_reserve_cpus_the_machine_lacks_are_reported():
    p = plan(M, PlanRequest(reserve=CpuSet([5, 40])))
    w = codes(p)["reserve-not-exist"]
    assert w.severity == "info" and w.cpus == CpuSet([40]) and "--reserve names CPU 40 that box16" in w.message
    assert "reserve-not-exist" not in codes(plan(M, PlanRequest(reserve=CpuSet([5]))))


def test_vllm_knobs_cannot_explode():
    vv = (("VLLM_CPU_NUM_OF_RESERVED_CPU", "-100000000"),)
    with cheap(), pytest.raises(OmpvizError, match="VLLM_CPU_NUM_OF_RESERVED_CPU=-100000000"):
        plan(M, PlanRequest(strategy="vllm", vllm_vars=vv))
    # a huge range in the bind list: vLLM's parser would build a billion ids; every mask only meets real CPUs
    with cheap():
        p = plan(M, PlanRequest(strategy="vllm", smt="one", vllm_vars=(("VLLM_CPU_OMP_THREADS_BIND", "0-1000000000"),)))
    assert [w.cpus.to_list() for w in p.workers] == ["4-7"]  # largest place, ties: higher top CPU first


def test_huge_reserve_is_summed_up_in_one_short_line():
    # 0-1048575:3 = 349,526 CPUs (0, 3, ..., 1048575); the machine has 16: 6 of them (0,3,6,9,12,15) are reserved
    with cheap():
        p = plan(M, PlanRequest(reserve=parse_list("0-1048575:3")))
    assert (
        p.explanation[-1] == "reserve: 349526 CPUs from 0 to 1048575 are kept out of every rank for the main process."
    )
    assert all(len(w.message) < 300 for w in p.warnings)
    assert p.workers[0].cpus == CpuSet.range(0, 15) - parse_list("0-15:3")
    assert plan(M, PlanRequest(reserve=CpuSet([0]))).explanation[-1] == (
        "reserve: CPU 0 is kept out of every rank for the main process."
    )
