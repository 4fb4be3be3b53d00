"""Every recorded Linux root in ../shared/topologies/sysfs/ against what hwloc 2.9 itself reports for it.

Expected values were read from hwloc on the tarball extracted to a scratch dir D (the tarball's top folder):
  counts     hwloc-calc --input D [--whole-system] -N <type> all
  order      hwloc-calc --input D [--whole-system] -I pu --po all      (OS indices in logical L# order)
  groups     hwloc-calc --input D --whole-system -I pu --po <type>:<L#> and ... --po -I <type> <type>:<L#>
  complete   lstopo --input D --of xml   (Machine complete_cpuset: every CPU, offline ones included)
  kinds      lstopo --input D --cpukinds --of console
The code under test never extracts: it reads the tarball in memory.
"""

from __future__ import annotations

import time

import pytest
from conftest import shared

from ompviz.cpuset import CpuSet
from ompviz.topology import load
from ompviz.topology.sysfs import load_sysfs


def _load(name: str):
    path = shared(f"sysfs/{name}.tar.bz2")
    return load_sysfs(str(path), source=str(path))


def whole(t) -> tuple[int, int, int, int, int]:
    """(packages, NUMA nodes, L3, cores, PUs) holding online PUs: lstopo --whole-system."""
    s = t.summary()
    return (s["packages"], s["numa_nodes"], s["l3_caches"], s["cores"], s["pus"])


def allowed(t) -> tuple[int, int, int, int, int]:
    """The same counts restricted to allowed PUs: what plain lstopo shows."""
    a = t.allowed

    def n(groups):
        return sum(1 for g in groups if g.cpus & a)

    return (n(t.packages), n(t.numa_nodes), n(t.l3s), n(t.cores), len(a))


def by_logical(t, groups):
    """Group cpusets in hwloc's logical order (sorted by first PU's logical index)."""
    order = {cpu: i for i, cpu in enumerate(t.logical_order)}
    return [g.cpus for g in sorted(groups, key=lambda g: min(order[c] for c in g.cpus))]


def test_kunpeng_920():
    t = _load("128arm-2pa2n8cluster4co")
    # hwloc-calc --input D [--whole-system] -N package|numanode|l3cache|core|pu all -> 2 4 4 128 128 (both)
    assert whole(t) == (2, 4, 4, 128, 128)
    assert allowed(t) == (2, 4, 4, 128, 128)
    # hwloc-calc --input D -I pu --po all -> 0,1,...,127
    assert t.logical_order == tuple(range(128))
    # hwloc-calc --input D --whole-system --po -I package package:0 / package:1 -> 36 / 8442
    assert {g.index: g.cpus for g in t.packages} == {36: CpuSet.parse("0-63"), 8442: CpuSet.parse("64-127")}
    # hwloc-calc ... -I pu --po numanode:0..3 -> 0-31, 32-63, 64-95, 96-127 (OS indices 0..3)
    assert {g.index: g.cpus for g in t.numa_nodes} == {
        0: CpuSet.parse("0-31"),
        1: CpuSet.parse("32-63"),
        2: CpuSet.parse("64-95"),
        3: CpuSet.parse("96-127"),
    }
    # hwloc-calc ... -I pu --po l3cache:0..3 -> same four blocks of 32
    assert by_logical(t, t.l3s) == [CpuSet.parse(x) for x in ("0-31", "32-63", "64-95", "96-127")]
    # hwloc-calc ... -I pu --po core:0..3 -> 0 / 1 / 2 / 3 (no SMT)
    assert [c.cpus for c in t.cores[:4]] == [CpuSet([0]), CpuSet([1]), CpuSet([2]), CpuSet([3])]
    assert t.smt == 1
    # lstopo --input D --cpukinds: one kind (LinuxCapacity = 1024 everywhere): no kinds to show
    assert t.kinds == ()
    # lstopo: L3 L#0 (32MB), L2 (512KB), L1d (64KB)
    assert t.cache_sizes["L3"] == 32 << 20 and t.cache_sizes["L2"] == 512 << 10 and t.cache_sizes["L1d"] == 64 << 10
    # lstopo --of xml: complete_cpuset 0-127, nothing offline
    assert t.all_cpus == CpuSet.parse("0-127") and not t.offline


def test_offlines_16em64t():
    t = _load("16em64t-4s2c2t-offlines")
    # hwloc-calc -N ... (with and without --whole-system) -> package=4 numanode=1 l3cache=4 core=7 pu=12
    assert whole(t) == (4, 1, 4, 7, 12)
    assert allowed(t) == (4, 1, 4, 7, 12)
    # hwloc-calc --input D -I pu --po all -> 0,8,4,12,1,9,3,11,7,15,6,10 (same with --whole-system)
    assert t.logical_order == (0, 8, 4, 12, 1, 9, 3, 11, 7, 15, 6, 10)
    # lstopo --of xml: Machine cpuset 0x00009fdb, complete_cpuset 0x0000ffff -> CPUs 2,5,13,14 offline
    assert t.all_cpus == CpuSet.parse("0-15")
    assert t.online == CpuSet.parse("0x00009fdb")
    assert t.offline == CpuSet.parse("2,5,13,14")
    assert all(t.pu(c).logical_index is None for c in (2, 5, 13, 14))
    # hwloc-calc --whole-system --po -I package package:0..3 -> 0,1,3,2 with PUs
    # [0,8,4,12] [1,9] [3,11,7,15] [6,10]
    assert {g.index: g.cpus for g in t.packages} == {
        0: CpuSet.parse("0,4,8,12"),
        1: CpuSet.parse("1,9"),
        3: CpuSet.parse("3,7,11,15"),
        2: CpuSet.parse("6,10"),
    }
    # hwloc-calc ... -I pu --po core:0..3 -> [0,8] [4,12] [1,9] [3,11]: SMT siblings N and N+8
    assert [c.cpus for c in t.cores[:4]] == [CpuSet.parse(x) for x in ("0,8", "4,12", "1,9", "3,11")]
    assert t.siblings(7) == CpuSet.parse("7,15")
    # ... l3cache:0..3 -> [0,8,4,12] [1,9] [3,11,7,15] [6,10] (one L3 per package)
    assert by_logical(t, t.l3s) == [CpuSet.parse(x) for x in ("0,4,8,12", "1,9", "3,7,11,15", "6,10")]
    # ... numanode:0 -> all 12 online PUs (node0 has only cpumap + cpuN links in this old dump)
    assert {g.index: g.cpus for g in t.numa_nodes} == {0: t.online}
    # lstopo: Package L#0 CPUModel="Intel(R) Xeon(TM) CPU 2.60GHz"
    assert t.name == "Intel(R) Xeon(TM) CPU 2.60GHz"


def test_hybrid_raptor_lake():
    t = _load("20em64t-hybrid-1p6c2t+2ca4co1t")
    # hwloc-calc -N ... -> package=1 numanode=1 l3cache=1 core=14 pu=20 (both modes)
    assert whole(t) == (1, 1, 1, 14, 20)
    assert allowed(t) == (1, 1, 1, 14, 20)
    # hwloc-calc --input D -I pu --po all -> 0..19
    assert t.logical_order == tuple(range(20))
    # hwloc-calc ... -I pu --po core:0..3 -> [0,1] [2,3] [4,5] [6,7]; lstopo: Core L#6..13 = PU 12..19 alone
    assert [c.cpus for c in t.cores[:4]] == [CpuSet.parse(x) for x in ("0-1", "2-3", "4-5", "6-7")]
    assert [c.cpus for c in t.cores[6:]] == [CpuSet([c]) for c in range(12, 20)]
    # lstopo --cpukinds: kind #0 efficiency 0 cpuset 0x000ff000 (base 1400 MHz, max 3900),
    #                    kind #1 efficiency 1 cpuset 0x00000fff (base 1900 MHz, max 5000)
    assert sorted(t.kinds) == ["E", "P"]
    assert CpuSet(p.os_index for p in t.pus if p.kind == "E") == CpuSet.parse("0x000ff000")
    assert CpuSet(p.os_index for p in t.pus if p.kind == "P") == CpuSet.parse("0x00000fff")
    # lstopo: L3 L#0 (24MB); L2 L#0 (1280KB) on the first (P) core; L1d 48KB
    assert t.cache_sizes["L3"] == 24 << 20 and t.cache_sizes["L2"] == 1280 << 10
    # lstopo -v: CPUModel="13th Gen Intel(R) Core(TM) i7-1370P"
    assert t.name == "13th Gen Intel(R) Core(TM) i7-1370P"


def test_power7():
    t = _load("256ppc-8n8s4t")
    # hwloc-calc -N ... -> package=64 numanode=8 l3cache=64 core=64 pu=256 (both modes)
    assert whole(t) == (64, 8, 64, 64, 256)
    assert allowed(t) == (64, 8, 64, 64, 256)
    # hwloc-calc --input D -I pu --po all -> 0..255
    assert t.logical_order == tuple(range(256))
    # hwloc-calc ... -I pu --po core:0..3 -> [0-3] [4-7] [8-11] [12-15]: SMT4 siblings consecutive
    assert [c.cpus for c in t.cores[:4]] == [CpuSet.parse(x) for x in ("0-3", "4-7", "8-11", "12-15")]
    assert t.smt == 4 and t.siblings(250) == CpuSet.parse("248-251")
    # hwloc-calc --whole-system --po -I numanode numanode:0..7 -> 0,1,4,5,8,9,12,13; 32 PUs each, in order
    assert [g.index for g in t.numa_nodes] == [0, 1, 4, 5, 8, 9, 12, 13]
    assert [g.cpus for g in t.numa_nodes] == [CpuSet.range(32 * i, 32 * i + 31) for i in range(8)]
    # ... -I pu --po l3cache:i -> [4i..4i+3]: one L3 per core
    assert by_logical(t, t.l3s) == [CpuSet.range(4 * i, 4 * i + 3) for i in range(64)]
    # ... --po -I package package:i -> -1 (no OS index); PUs [4i..4i+3]
    assert by_logical(t, t.packages) == [CpuSet.range(4 * i, 4 * i + 3) for i in range(64)]
    # lstopo -v: CPUModel="POWER7 (architected), altivec supported"
    assert t.name == "POWER7 (architected), altivec supported"
    assert t.cache_sizes["L3"] == 4096 << 10  # lstopo: L3 L#0 (4096KB)


def test_cgroup2_restricted():
    t = _load("32amd64-4s2n4c-cgroup2")
    # hwloc-calc --input D -N ... all -> package=1 numanode=2 l3cache=2 core=6 pu=6
    assert allowed(t) == (1, 2, 2, 6, 6)
    # hwloc-calc --input D --whole-system -N ... all -> package=4 numanode=8 l3cache=8 core=32 pu=32
    assert whole(t) == (4, 8, 8, 32, 32)
    # hwloc-calc --input D -I pu --po all -> 0,1,2,3,4,5 ; lstopo --of xml: allowed_cpuset="0x0000003f"
    assert t.allowed == CpuSet.parse("0x0000003f")
    assert t.disallowed == CpuSet.parse("6-31")
    # hwloc-calc --input D --whole-system -I pu --po all -> 0..31
    assert t.online == CpuSet.parse("0-31") and t.logical_order == tuple(range(32))
    # lstopo -v: Machine LinuxCgroup=/uid_2008/job_15389/step_0 (found through proc/mounts: cgroup2 on
    # /cgroup/unified, whose cgroup.controllers lists cpuset)
    assert any("/uid_2008/job_15389/step_0" in n for n in t.notes)
    # hwloc-calc --whole-system ... numanode:i -> OS i, PUs [4i..4i+3]; package:i -> OS i, PUs [8i..8i+7]
    assert {g.index: g.cpus for g in t.numa_nodes} == {i: CpuSet.range(4 * i, 4 * i + 3) for i in range(8)}
    assert {g.index: g.cpus for g in t.packages} == {i: CpuSet.range(8 * i, 8 * i + 7) for i in range(4)}
    # lstopo: L3 (5118KB)
    assert t.cache_sizes["L3"] == 5118 << 10


def test_sparse_numa_ids():
    t = _load("48amd64-4pa2n6c-sparse")
    # hwloc-calc -N ... -> package=4 numanode=8 l3cache=8 core=48 pu=48 (both modes)
    assert whole(t) == (4, 8, 8, 48, 48)
    assert allowed(t) == (4, 8, 8, 48, 48)
    assert t.logical_order == tuple(range(48))  # hwloc-calc --input D -I pu --po all -> 0..47
    # hwloc-calc --whole-system --po -I numanode numanode:0..7 -> 0,1,2,33,34,45,72,73; PUs [6i..6i+5]
    assert [g.index for g in t.numa_nodes] == [0, 1, 2, 33, 34, 45, 72, 73]
    assert [g.cpus for g in t.numa_nodes] == [CpuSet.range(6 * i, 6 * i + 5) for i in range(8)]
    assert t.pu(20).numa == 33 and t.numa_cpus(73) == CpuSet.parse("42-47")
    # ... l3cache:i -> [6i..6i+5]; package:i -> OS i, [12i..12i+11]
    assert by_logical(t, t.l3s) == [CpuSet.range(6 * i, 6 * i + 5) for i in range(8)]
    assert {g.index: g.cpus for g in t.packages} == {i: CpuSet.range(12 * i, 12 * i + 11) for i in range(4)}
    # lstopo --input D --of xml: NUMANode os_index=0 local_memory="8587735040", os_index=33 "17179869184"
    sizes = {g.index: g.size for g in t.numa_nodes}
    assert sizes[0] == 8587735040 and sizes[33] == 17179869184


def test_offline_cpu0_node0():
    t = _load("offline-cpu0-node0")
    # hwloc-calc -N ... (both modes) -> package=2 numanode=1 l3cache=2 core=17 pu=17
    assert whole(t) == (2, 1, 2, 17, 17)
    assert allowed(t) == (2, 1, 2, 17, 17)
    # hwloc-calc --input D -I pu --po all -> 4,6,...,20,5,7,...,19 (same with --whole-system)
    assert t.logical_order == (4, 6, 8, 10, 12, 14, 16, 18, 20, 5, 7, 9, 11, 13, 15, 17, 19)
    # lstopo --of xml: cpuset 0x001ffff0, complete_cpuset 0x00ffffff -> 0-3 and 21-23 offline
    assert t.online == CpuSet.parse("0x001ffff0")
    assert t.all_cpus == CpuSet.parse("0x00ffffff")
    assert t.offline == CpuSet.parse("0-3,21-23")
    # hwloc-calc --whole-system --po -I numanode numanode:0 -> 1 with PUs 5,7,...,19; node 0 is offline, so
    # hwloc-calc --input D pu:0 -I numa prints nothing: the even PUs have no NUMA node
    assert {g.index: g.cpus for g in t.numa_nodes} == {1: CpuSet.parse("5-19:2")}
    assert t.pu(4).numa is None and t.pu(5).numa == 1
    # ... package:0/1 -> [4,6,...,20] / [5,...,19]; l3cache the same
    assert {g.index: g.cpus for g in t.packages} == {0: CpuSet.parse("4-20:2"), 1: CpuSet.parse("5-19:2")}
    assert by_logical(t, t.l3s) == [CpuSet.parse("4-20:2"), CpuSet.parse("5-19:2")]
    # lstopo -p vs -l: PU L#9 is P#5, PU L#8 is P#20
    assert t.pu(5).logical_index == 9 and t.pu(20).logical_index == 8
    assert t.logical_to_os([0, 9]) == CpuSet([4, 5])


@pytest.mark.parametrize(
    "name",
    [
        "128arm-2pa2n8cluster4co",
        "16em64t-4s2c2t-offlines",
        "20em64t-hybrid-1p6c2t+2ca4co1t",
        "256ppc-8n8s4t",
        "32amd64-4s2n4c-cgroup2",
        "48amd64-4pa2n6c-sparse",
        "offline-cpu0-node0",
    ],
)
def test_every_tarball_loads_fast_through_load(name):
    path = shared(f"sysfs/{name}.tar.bz2")
    t0 = time.perf_counter()
    t = load(str(path))
    dt = time.perf_counter() - t0
    assert t.source_kind == "sysfs" and t.source == str(path)
    # measured on the 2-CPU dev box: POWER7 (16,130 members) ~0.25 s, others below 0.15 s; the bound leaves
    # room for a loaded CI machine while still catching a fall-back to per-member tarfile parsing (~0.6 s+)
    assert dt < 2.0, f"{name} took {dt:.2f}s"
