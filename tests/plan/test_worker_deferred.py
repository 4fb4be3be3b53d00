"""Workers whose thread placements are built on first use (Worker.deferred) against their definitions.

The planner defers each bound worker's ThreadPlacements and GOMP_CPU_AFFINITY / KMP_AFFINITY strings (35-50 % of a
4,096-PU plan, while the explorer shows one rank's threads). Whatever reads a worker must not be able to tell: the
values are those of the definitions (runtime rule -> place -> CPUs), and a deferred worker equals, hashes, prints
and pickles as the same worker built with every field given.
"""

from __future__ import annotations

import pickle
from dataclasses import FrozenInstanceError

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_plan_fastpaths import FAST, machines

from ompviz.cpuset import CpuSet
from ompviz.plan import PlanRequest, plan
from ompviz.plan import runtime as rt
from ompviz.plan.model import BIND_POLICIES, PLACES, RUNTIMES, ThreadPlacement, Worker
from ompviz.plan.planner import thread_cpu_list
from ompviz.topology.model import PURecord, build_topology


def eager(w: Worker) -> Worker:
    """The same worker with every field given (what the planner built before deferring)."""
    return Worker(w.rank, w.cpus, w.places, w.env, w.num_threads, w.gnu, w.llvm, w.alt_env)


def big(cores: int = 64, smt: int = 2) -> object:
    recs = [
        PURecord(c + s * cores, package=c // 32, numa=c // 16, l3_key=c // 8, core_key=c)
        for c in range(cores)
        for s in range(smt)
    ]
    return build_topology(recs, name="deferred test box", source="test", source_kind="synthetic")


@FAST
@given(
    st.data(),
    st.sampled_from(("compact", "spread", "numa", "l3", "distrib", "vllm")),
    st.sampled_from(BIND_POLICIES),
    st.sampled_from(PLACES),
    st.sampled_from(RUNTIMES),
)
def test_deferred_workers_hold_what_the_definitions_say(data, strategy, bind, places, runtime):
    topo = data.draw(machines())
    ranks = data.draw(st.integers(1, 4))
    threads = data.draw(st.sampled_from([None, 1, 3, 5]))
    req = PlanRequest(ranks=ranks, threads=threads, strategy=strategy, bind=bind, places=places, runtime=runtime)
    p = plan(topo, req)
    for w in p.workers:
        for r in RUNTIMES:
            ts = w.threads(r)
            assert len(ts) == max(w.num_threads, 0)
            assert w.place_index(r) == tuple(t.place for t in ts)
            assert [t.thread for t in ts] == list(range(len(ts)))
            if strategy == "vllm" or not w.places or w.num_threads < 1 or bind == "false":
                continue
            # bound: thread i on the place the runtime's rule gives, with that place's CPUs
            idx = rt.place_threads(r, bind, len(w.places), w.num_threads)
            assert ts == tuple(ThreadPlacement(i, k, w.places[k]) for i, k in enumerate(idx))
        if strategy != "vllm" and w.places and w.num_threads >= 1 and bind != "false":
            cpus = thread_cpu_list(w.threads(runtime))
            alt = dict(w.alt_env)
            assert alt["GOMP_CPU_AFFINITY"] == " ".join(map(str, cpus))
            assert alt["KMP_AFFINITY"] == "granularity=fine,explicit,proclist=[" + ",".join(map(str, cpus)) + "]"
        else:
            assert w.alt_env == ()
    # and the same plan again, read through equality, hashing, repr and pickling only (nothing read before)
    again = plan(topo, req)
    assert again.workers == p.workers
    for w, v in zip(again.workers, p.workers, strict=True):
        e = eager(v)
        assert hash(w) == hash(e) and repr(w) == repr(e) and w == e
        assert pickle.loads(pickle.dumps(w)) == e


def test_planning_leaves_the_thread_placements_unbuilt_until_read():
    topo = big()
    p = plan(topo, PlanRequest(ranks=4, strategy="spread", bind="spread"))
    assert p.warnings is not None and p.explanation  # warnings and the explanation are made by then
    unbuilt = [w for w in p.workers if w._make is not None]
    # the explanation reads one worker's threads (why spread puts thread 1 where it does); the rest wait
    assert len(unbuilt) >= len(p.workers) - 1 >= 3
    w = unbuilt[-1]
    assert w.place_index("gnu") == rt.place_threads("gnu", "spread", len(w.places), w.num_threads)
    assert w._make is not None  # place_index does not build them
    first = w.gnu
    assert w._make is None and w.gnu is first and w.threads("gnu") is first  # built once, then kept


def test_make_runs_once_and_feeds_all_three_fields():
    calls = []
    tp = (ThreadPlacement(0, 0, CpuSet([3])),)

    def make():
        calls.append(1)
        return tp, tp, (("GOMP_CPU_AFFINITY", "3"),)

    w = Worker.deferred(0, CpuSet([3]), (CpuSet([3]),), (), 1, ((0,), (0,)), make)
    assert calls == []
    assert w.alt_env == (("GOMP_CPU_AFFINITY", "3"),) and w.gnu is tp and w.llvm is tp
    assert calls == [1]
    assert w == Worker(0, CpuSet([3]), (CpuSet([3]),), (), 1, tp, tp, (("GOMP_CPU_AFFINITY", "3"),))
    assert w != Worker(0, CpuSet([3]), (CpuSet([3]),), (), 1, tp, tp)  # alt_env differs
    assert w.__eq__("a worker") is NotImplemented


@pytest.mark.parametrize("deferred", [False, True])
def test_workers_are_frozen(deferred):
    tp = (ThreadPlacement(0, 0, CpuSet([1])),)
    if deferred:
        w = Worker.deferred(0, CpuSet([1]), (CpuSet([1]),), (), 1, ((0,), (0,)), lambda: (tp, tp, ()))
    else:
        w = Worker(0, CpuSet([1]), (CpuSet([1]),), (), 1, tp, tp)
    for name in ("rank", "gnu", "alt_env", "_make"):
        with pytest.raises(FrozenInstanceError):
            setattr(w, name, None)
        with pytest.raises(FrozenInstanceError):
            delattr(w, name)
    assert w.rank == 0 and w.gnu == tp
    assert {w: 1}[Worker(0, CpuSet([1]), (CpuSet([1]),), (), 1, tp, tp)] == 1
