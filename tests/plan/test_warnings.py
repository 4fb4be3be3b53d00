"""Warning codes, severities, ranks and CPUs, each provoked on purpose (reasoning in comments)."""

from __future__ import annotations

from ompviz.cpuset import CpuSet, parse_list
from ompviz.plan import PlanRequest, plan
from ompviz.topology.model import PURecord, build_topology


def machine():
    """2 packages x 2 cores x 2 PUs (core c = {c, c+4}); CPU 7 offline, CPU 6 disallowed."""
    recs = []
    for c in range(4):
        for t in range(2):
            cpu = c + 4 * t
            recs.append(
                PURecord(cpu, package=c // 2, numa=c // 2, l3_key=c // 2, core_key=c, online=cpu != 7, allowed=cpu != 6)
            )
    return build_topology(recs, name="w", source="test", source_kind="synthetic")


M = machine()


def by_code(p):
    return {w.code: w for w in p.warnings}


def test_manual_problems():
    p = plan(M, PlanRequest(strategy="manual", cpus="0,4,6|1,5,7|1,9"))
    w = by_code(p)
    assert w["cpu-not-allowed"].cpus == CpuSet([6]) and w["cpu-not-allowed"].ranks == (0,)
    assert w["cpu-offline"].cpus == CpuSet([7]) and w["cpu-offline"].severity == "warning"
    assert w["cpu-not-exist"].cpus == CpuSet([9]) and w["cpu-not-exist"].severity == "error"
    assert w["overlap"].ranks == (1, 2) and w["overlap"].cpus == CpuSet([1])


def test_spans_and_smt_split():
    # rank 0 = CPUs 0 and 2: core 0 (package 0) and core 2 (package 1); rank 1 = CPU 4, the sibling of CPU 0
    p = plan(M, PlanRequest(strategy="manual", cpus="0,2|4"))
    w = by_code(p)
    assert w["spans-package"].ranks == (0,) and w["spans-numa"].ranks == (0,)
    assert w["smt-split"].cpus == CpuSet([0, 4]) and w["smt-split"].ranks == (0, 1)


def test_errors_sorted_first_and_plan_not_ok():
    p = plan(M, PlanRequest(ranks=2, threads=0))
    assert p.warnings[0].severity == "error" and p.warnings[0].code == "threads-lt-1" and not p.ok


def test_reserve_everything():
    p = plan(M, PlanRequest(ranks=1, reserve=M.allowed))
    assert by_code(p)["nothing-left"].severity == "error" and p.workers == ()


def test_unequal_and_threads_share_places():
    # allowed = 0-5 (6 usable CPUs: core 2 = {2}, core 3 = {3} after 6,7 drop out), 2 ranks compact:
    # cores 0,1 = {0,4},{1,5} (4 CPUs) vs cores 2,3 = {2},{3} (2 CPUs)
    p = plan(M, PlanRequest(ranks=2, strategy="compact", places="sockets", threads=3))
    w = by_code(p)
    assert w["unequal-ranks"].ranks == (0,)
    # places=sockets: one place per rank. Rank 0: 3 threads, 1 place of 4 CPUs -> threads share the place (info);
    # rank 1: 3 threads on 2 CPUs -> oversubscribed
    assert w["threads-share-places"].ranks == (0,) and w["threads-share-places"].severity == "info"
    assert w["oversubscribed"].ranks == (1,)


def test_abstract_fallback_states_the_real_reason():
    # 1 package, 4 cores x 2 PUs, siblings numbered N and N+4 (core c = {c, c+4}), everything allowed and online
    recs = [PURecord(c + 4 * t, package=0, numa=0, l3_key=0, core_key=c) for c in range(4) for t in range(2)]
    m = build_topology(recs, name="n4", source="test", source_kind="synthetic")
    # one rank = the whole machine, places=threads: libgomp builds {0},{1},{2}.. (CPU id order), LLVM {0},{4},{1}..
    # (hwloc logical order, siblings together); the rank's places follow CPU ids, so only LLVM differs, at place 1
    p = plan(m, PlanRequest(ranks=1, threads=4, places="threads", notation="abstract"))
    w = by_code(p)["abstract-fallback"]
    assert w.ranks == (0,)
    assert "libgomp and LLVM libomp order 'threads' places differently" in w.message
    assert "place 1 is CPU 1 for libgomp, CPU 4 for LLVM" in w.message
    assert "whole machine" not in w.message  # the false reason the single whole-machine rank used to get
    # two ranks of 2 cores: rank 0 = cores(2) exactly; rank 1's places {2,6},{3,7} are not the machine's first two
    # cores ({0,4},{1,5}): 'cores' expands over the whole machine
    p = plan(m, PlanRequest(ranks=2, places="cores", notation="abstract"))
    w = by_code(p)
    assert w["abstract-exact"].ranks == (0,) and p.workers[0].env_dict["OMP_PLACES"] == "cores(2)"
    assert w["abstract-fallback"].ranks == (1,)
    assert "'cores' expands over the whole machine, not over the rank's CPUs" in w["abstract-fallback"].message
    assert "its place 0 would be CPUs 0,4, the rank's is CPUs 2,6" in w["abstract-fallback"].message


def test_unequal_ranks_name_the_right_cause():
    # M, compact, 2 ranks (see test_unequal_and_threads_share_places): 2 cores each, but cores 2 and 3 lack their
    # siblings 6 (not allowed) and 7 (offline; an offline CPU has no core in the model, so only 6 is named): the
    # cores divide evenly, the CPUs do not
    w = by_code(plan(M, PlanRequest(ranks=2, strategy="compact")))["unequal-ranks"]
    assert w.message == (
        "ranks have 2 to 4 CPUs (rank 0 gets 4): each rank has 2 cores, but some cores have fewer usable CPUs "
        "(CPU 6: not allowed)"
    )
    # reserving CPU 4 too: usable cores {0},{1,5},{2},{3}; rank 0 = {0,1,5}, rank 1 = {2,3}; missing 4 and 6
    w = by_code(plan(M, PlanRequest(ranks=2, strategy="compact", reserve=CpuSet([4]))))["unequal-ranks"]
    assert w.message.endswith(
        "each rank has 2 cores, but some cores have fewer usable CPUs (CPUs 4,6: reserved / not allowed)"
    )
    # manual: the lists are what they are (and CPUs 2,3 are listed nowhere: idle)
    p = plan(M, PlanRequest(strategy="manual", cpus="0,4,1,5|2"))
    assert by_code(p)["unequal-ranks"].message.endswith(
        ": as listed in --cpus; work split evenly between ranks will wait for the smallest"
    )
    assert by_code(p)["idle-cpus"].message == "CPU 3 stays idle: not listed in --cpus"  # 6, 7: not usable
    # numa: 3 nodes of 2 cores for 2 ranks: rank 0 gets two whole nodes, rank 1 one
    recs = [PURecord(c, package=0, numa=c // 2, l3_key=c // 2, core_key=c) for c in range(6)]
    m3 = build_topology(recs, name="n3", source="test", source_kind="synthetic")
    w = by_code(plan(m3, PlanRequest(ranks=2, strategy="numa")))["unequal-ranks"]
    assert w.message == (
        "ranks have 2 to 4 CPUs (rank 0 gets 4): each rank gets whole NUMA nodes and 3 NUMA nodes do not divide "
        "evenly by 2 ranks; work split evenly between ranks will wait for the smallest"
    )


def test_spread_equal_share_on_the_cgroup2_dump():
    from conftest import shared

    from ompviz.topology import load

    t = load(str(shared("sysfs/32amd64-4s2n4c-cgroup2.tar.bz2")))
    # the cgroup allows CPUs 0-5 (show prints "CPUs 0-5 allowed"): NUMA node 0 = cores 0-3, node 1 = cores 4-5
    # usable (6-7 not allowed), no SMT. 2 ranks: q = 3 would need 3 cores in node 1, so q = 2, one rank per node:
    # rank 0 = 0-1, rank 1 = 4-5, CPUs 2-3 idle. (Before: rank 0 took 0-2, CPU 3 idle without a word, and the
    # unequal-ranks info blamed "the cores do not divide evenly" although 6 CPUs divide by 2.)
    p = plan(t, PlanRequest(ranks=2, strategy="spread"))
    assert [w.cpus.to_list() for w in p.workers] == ["0-1", "4-5"]
    w = by_code(p)
    assert "unequal-ranks" not in w
    assert (
        w["idle-cpus"].message == "CPUs 2-3 stay idle: spread keeps every rank inside one NUMA node with an equal share"
    )


def test_spread_equal_share_on_zen4():
    from conftest import shared

    from ompviz.topology import load

    t = load(str(shared("hwloc-xml/v2/AMD-19h-Zen4-2xEpyc-9654.xml")))
    # 2 packages x 96 cores x 2 PUs (core c = {c, c+192}), one NUMA node. 3 ranks: q = 64 would need 2 ranks in a
    # package (128 > 96 cores), so q = 48: package 0 hosts ranks 0 and 2, package 1 rank 1. Rank 1 used to take
    # 49 cores (96-144) from package 1's leftovers; now every rank has 48 and package 1's last 48 cores stay idle.
    p = plan(t, PlanRequest(ranks=3, strategy="spread"))
    assert [w.cpus.to_list() for w in p.workers] == ["0-47,192-239", "96-143,288-335", "48-95,240-287"]
    w = by_code(p)
    assert "unequal-ranks" not in w
    assert w["idle-cpus"].cpus == parse_list("144-191,336-383")
    assert "spread keeps every rank inside one package with an equal share" in w["idle-cpus"].message
