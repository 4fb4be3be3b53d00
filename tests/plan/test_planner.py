"""Planner basics on small hand-built machines; every expected set is reasoned out in the comments."""

from __future__ import annotations

import pytest

from ompviz.cpuset import CpuSet, parse_list
from ompviz.errors import OmpvizError
from ompviz.plan import PlanRequest, plan
from ompviz.topology.model import PURecord, build_topology


def machine(pkgs=2, l3_per_pkg=1, cores_per_l3=4, smt=2, numa_per_pkg=1, name="test"):
    """Cores numbered in order; SMT sibling t of core c is CPU c + t * ncores (Intel/AMD style numbering)."""
    ncores = pkgs * l3_per_pkg * cores_per_l3
    recs = []
    core = 0
    for p in range(pkgs):
        for l3 in range(l3_per_pkg):
            for _ in range(cores_per_l3):
                numa = p * numa_per_pkg + (l3 * numa_per_pkg) // l3_per_pkg
                for t in range(smt):
                    recs.append(PURecord(core + t * ncores, package=p, numa=numa, l3_key=(p, l3), core_key=core))
                core += 1
    return build_topology(recs, name=name, source="test", source_kind="synthetic")


def sets(p):
    return [w.cpus.to_list() for w in p.workers]


def codes(p):
    return {w.code for w in p.warnings}


M = machine()  # 2 packages x 4 cores x 2 PUs: core c = CPUs {c, c+8}; cores 0-3 on package 0


def test_compact_fills_in_order():
    # 4 ranks, 8 cores: 2 consecutive cores each
    assert sets(plan(M, PlanRequest(ranks=4, strategy="compact"))) == ["0-1,8-9", "2-3,10-11", "4-5,12-13", "6-7,14-15"]
    # 3 ranks: sizes 3,3,2 cores; one rank must cross the package boundary whatever the order -> extra cores first
    p = plan(M, PlanRequest(ranks=3, strategy="compact"))
    assert sets(p) == ["0-2,8-10", "3-5,11-13", "6-7,14-15"]
    assert "spans-package" in codes(p) and "unequal-ranks" in codes(p)
    unequal = next(w for w in p.warnings if w.code == "unequal-ranks")
    assert (
        unequal.message
        == "ranks have 4 to 6 CPUs (ranks 0-1 get 6): the 8 usable cores do not divide evenly by 3 ranks"
    )
    assert "idle-cpus" not in codes(p)  # compact uses every core


def test_compact_keeps_ranks_inside_l3_when_it_fits():
    # one package, 2 L3 groups of 3 cores, no SMT; 4 ranks get 2,2,1,1 cores. In order 2,2,1,1 rank 1 would take
    # cores 2,3 across the L3 boundary; 2,1,2,1 gives [0,1] [2] | [3,4] [5] with no crossing.
    m = machine(pkgs=1, l3_per_pkg=2, cores_per_l3=3, smt=1)
    assert sets(plan(m, PlanRequest(ranks=4, strategy="compact"))) == ["0-1", "2", "3-4", "5"]


def test_spread_round_robin_over_packages():
    # rank 0 -> package 0, rank 1 -> package 1, rank 2 -> package 0 ...; 2 cores each
    p = plan(M, PlanRequest(ranks=4, strategy="spread"))
    assert sets(p) == ["0-1,8-9", "4-5,12-13", "2-3,10-11", "6-7,14-15"]
    assert sets(plan(M, PlanRequest(ranks=2, strategy="spread"))) == ["0-3,8-11", "4-7,12-15"]
    # 3 ranks: q = 8 // 3 = 2 cores; package 0 hosts ranks 0 and 2 (2 cores each), package 1 hosts rank 1 alone.
    # Rank 1 could take a 3rd core but ranks 0 and 2 cannot: equal share, so rank 1 gets 2 cores too and cores 6-7
    # of package 1 stay idle (said in an info warning). (Before: rank 1 took 4-6,12-14, one core more.)
    p3 = plan(M, PlanRequest(ranks=3, strategy="spread"))
    assert sets(p3) == ["0-1,8-9", "4-5,12-13", "2-3,10-11"]
    assert "spans-package" not in codes(p3) and "unequal-ranks" not in codes(p3)
    idle = next(w for w in p3.warnings if w.code == "idle-cpus")
    assert idle.severity == "info" and idle.cpus == parse_list("6-7,14-15")
    assert idle.message == "CPUs 6-7,14-15 stay idle: spread keeps every rank inside one NUMA node with an equal share"


def test_spread_shrinks_share_rather_than_crossing_numa():
    # 2 NUMA nodes of 5 cores, 3 ranks: q = 10 // 3 = 3 would need 2 ranks per node (6 > 5 cores), so q = 2:
    # node 0 hosts ranks 0 and 2 (2 cores each, core 4 left), node 1 hosts rank 1 (2 cores, cores 7-9 left): equal
    # share, the leftovers stay idle (before: ranks got 3, 3 and 2 cores)
    m = machine(pkgs=2, cores_per_l3=5, smt=1)
    p = plan(m, PlanRequest(ranks=3, strategy="spread"))
    assert sets(p) == ["0-1", "5-6", "2-3"]
    assert "spans-numa" not in codes(p)
    assert [w.cpus.to_list() for w in p.warnings if w.code == "idle-cpus"] == ["4,7-9"]


def test_numa_whole_nodes_or_slices():
    m = machine(pkgs=2, numa_per_pkg=2, l3_per_pkg=2, cores_per_l3=2, smt=1)  # 4 nodes of 2 cores: 0-1|2-3|4-5|6-7
    assert sets(plan(m, PlanRequest(ranks=4, strategy="numa"))) == ["0-1", "2-3", "4-5", "6-7"]
    p2 = plan(m, PlanRequest(ranks=2, strategy="numa"))
    assert sets(p2) == ["0-3", "4-7"]  # two whole nodes each
    assert [w.severity for w in p2.warnings if w.code == "spans-numa"] == ["info"]
    # 8 ranks on 4 nodes: an equal slice (one core) of a node each, in node order
    assert sets(plan(m, PlanRequest(ranks=8, strategy="numa"))) == [str(i) for i in range(8)]


def test_l3_groups():
    m = machine(pkgs=1, l3_per_pkg=4, cores_per_l3=2, smt=1)
    assert sets(plan(m, PlanRequest(ranks=2, strategy="l3"))) == ["0-3", "4-7"]
    assert sets(plan(m, PlanRequest(ranks=4, strategy="l3"))) == ["0-1", "2-3", "4-5", "6-7"]


def test_smt_policies():
    assert sets(plan(M, PlanRequest(ranks=2, strategy="compact", smt="one"))) == ["0-3", "4-7"]
    assert sets(plan(M, PlanRequest(ranks=2, strategy="compact", smt="one-last"))) == ["8-11", "12-15"]


def test_reserve_excluded_and_smt_after_reserve():
    p = plan(M, PlanRequest(ranks=1, reserve=CpuSet([0, 8])))
    assert sets(p) == ["1-7,9-15"]
    # reserve takes CPU 0, the first sibling of core 0: 'one' then keeps CPU 8, the remaining sibling
    p = plan(M, PlanRequest(ranks=1, reserve=CpuSet([0]), smt="one"))
    assert sets(p) == ["1-8"]


def test_nothing_left_is_an_error_warning():
    p = plan(M, PlanRequest(ranks=2, reserve=parse_list("0-15")))
    assert p.workers == () and not p.ok
    assert [w.severity for w in p.warnings if w.code == "nothing-left"] == ["error"]


def test_env_always_together_and_places_cores():
    p = plan(M, PlanRequest(ranks=2, strategy="compact", places="cores", bind="close"))
    w = p.workers[0]
    assert [k for k, _ in w.env] == ["OMP_PLACES", "OMP_PROC_BIND", "OMP_NUM_THREADS"]
    assert w.env_dict == {"OMP_PLACES": "{0,8},{1,9},{2,10},{3,11}", "OMP_PROC_BIND": "close", "OMP_NUM_THREADS": "4"}
    # close, 4 threads on 4 places: thread i on place i under both runtimes
    assert [t.place for t in w.gnu] == [0, 1, 2, 3] == [t.place for t in w.llvm]
    assert w.gnu[1].cpus == CpuSet([1, 9])
    # alt env: one CPU per thread, the first CPU of each thread's place; places have 2 CPUs -> info warning
    assert dict(w.alt_env)["GOMP_CPU_AFFINITY"] == "0 1 2 3"
    assert dict(w.alt_env)["KMP_AFFINITY"] == "granularity=fine,explicit,proclist=[0,1,2,3]"
    assert "alt-env-approx" in codes(p)


def test_places_threads_os_order_and_bind_false():
    p = plan(M, PlanRequest(ranks=2, places="threads", bind="false", threads=3))
    w = p.workers[0]
    assert w.env_dict["OMP_PLACES"] == "{0},{1},{2},{3},{8},{9},{10},{11}"
    # not bound: no place, each thread may run on the whole worker set; no GOMP/KMP equivalent
    assert all(t.place is None and t.cpus == w.cpus for t in w.gnu + w.llvm)
    assert w.alt_env == ()


def test_places_coarser_granularities():
    m = machine(pkgs=2, numa_per_pkg=2, l3_per_pkg=2, cores_per_l3=2, smt=1)
    w = plan(m, PlanRequest(ranks=1, places="numa_domains")).workers[0]
    assert w.env_dict["OMP_PLACES"] == "{0,1},{2,3},{4,5},{6,7}"
    w = plan(m, PlanRequest(ranks=1, places="sockets")).workers[0]
    assert w.env_dict["OMP_PLACES"] == "{0,1,2,3},{4,5,6,7}" and w.num_threads == 2


def test_manual_lists_reserve_and_overlap():
    p = plan(M, PlanRequest(ranks=2, strategy="manual", cpus="0-3|2-5", reserve=CpuSet([0])))
    assert sets(p) == ["1-3", "2-5"]
    assert {"reserved-in-rank", "overlap"} <= codes(p)
    ov = next(w for w in p.warnings if w.code == "overlap")
    assert ov.cpus == CpuSet([2, 3]) and ov.ranks == (0, 1)


def test_manual_rank_count_from_lists_and_bad_cpus():
    p = plan(M, PlanRequest(ranks=1, strategy="manual", cpus="0|1|99"))
    assert len(p.workers) == 3 and "ranks-from-cpus" in codes(p)
    assert [w.severity for w in p.warnings if w.code == "cpu-not-exist"] == ["error"]
    with pytest.raises(OmpvizError):
        plan(M, PlanRequest(strategy="manual", cpus="0-3||4"))
    with pytest.raises(OmpvizError):
        plan(M, PlanRequest(strategy="manual", cpus=None))


def test_oversubscribed_and_threads_lt_1():
    p = plan(M, PlanRequest(ranks=4, threads=5))  # 4 CPUs per rank
    assert "oversubscribed" in codes(p)
    p = plan(M, PlanRequest(ranks=4, threads=0))
    assert [w.severity for w in p.warnings if w.code == "threads-lt-1"] == ["error"]
    assert all(w.gnu == () for w in p.workers)


def test_more_ranks_than_cores_splits_siblings():
    p = plan(M, PlanRequest(ranks=16, strategy="compact"))
    # single CPUs in logical order: core 0 = CPUs 0,8 -> rank 0 gets CPU 0, rank 1 CPU 8
    assert sets(p)[:4] == ["0", "8", "1", "9"]
    assert {"more-ranks-than-cores", "smt-split"} <= codes(p)
    p = plan(M, PlanRequest(ranks=17))
    assert "more-ranks-than-cpus" in codes(p) and not p.ok


def test_runtime_differs_warning():
    # 5 threads on 2 places (cores), close: libgomp {0,1,4}{2,3} vs LLVM {0,1,2}{3,4} (GUIDE.md section 4)
    p = plan(machine(pkgs=1, cores_per_l3=2, smt=1), PlanRequest(ranks=1, threads=5, places="threads"))
    assert [t.place for t in p.workers[0].gnu] == [0, 0, 1, 1, 0]
    assert [t.place for t in p.workers[0].llvm] == [0, 0, 0, 1, 1]
    assert "runtime-differs" in codes(p)


def test_invalid_choices_raise_one_line():
    with pytest.raises(OmpvizError, match="--strategy"):
        plan(M, PlanRequest(strategy="nope"))
    with pytest.raises(OmpvizError, match="--ranks"):
        plan(M, PlanRequest(ranks=0))


def test_explanation_mentions_machine_and_spread_thread_1():
    p = plan(M, PlanRequest(ranks=1, bind="spread", threads=2, places="cores"))
    text = "\n".join(p.explanation)
    # 2 threads on 8 core places: thread 1 at place 4 = core 4 = CPUs 4,12, on package 1
    assert "the other package" in text and "4,12" in text


def test_unequal_cause_when_ranks_split_single_cpus():
    # 12 ranks on 8 cores: ranks get single CPUs (units = the 16 CPUs), 16 = 12 + 4, so 4 ranks get 2 CPUs; each
    # rank still touches one core, yet the cause is the CPU count, not "cores with fewer usable CPUs"
    p = plan(M, PlanRequest(ranks=12, strategy="compact"))
    w = next(w for w in p.warnings if w.code == "unequal-ranks")
    assert w.message == "ranks have 1 to 2 CPUs (ranks 0-3 get 2): the 16 usable CPUs do not divide evenly by 12 ranks"
    p = plan(M, PlanRequest(ranks=12, strategy="distrib"))
    w = next(w for w in p.warnings if w.code == "unequal-ranks")
    assert w.message.endswith(
        ": hwloc_distrib divides the ranks by the CPU counts of packages, caches and cores, which differ"
    )
