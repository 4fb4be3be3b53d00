"""hwloc synthetic strings: hand-reasoned cases, lstopo 2.9 comparisons, round trips from shared XML files."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from conftest import shared
from hypothesis import given, settings
from hypothesis import strategies as st

from ompviz.cpuset import CpuSet
from ompviz.errors import OmpvizError
from ompviz.topology import load
from ompviz.topology.hwloc_xml import load_hwloc_xml, parse_hwloc_xml
from ompviz.topology.synthetic import load_synthetic


def syn(desc: str):
    return load_synthetic(desc, source=f"synthetic:{desc}")


def shape(t):
    """Everything the planner relies on, in comparable form."""
    return (
        t.logical_order,
        [c.cpus for c in t.cores],
        [(g.index, g.cpus) for g in t.packages],
        [(g.index, g.cpus) for g in t.numa_nodes],
        [g.cpus for g in t.l3s],
        [g.cpus for g in t.dies],
    )


# -- hand-reasoned ------------------------------------------------------------------------------------------
def test_pack_core_pu():
    # 2 packages x 4 cores x 2 PUs; without indexes= hwloc numbers PUs depth-first: core k holds 2k, 2k+1
    # (`lstopo -i "pack:2 core:4 pu:2" -p --of console`: Core P#0 = PU P#0 + PU P#1 ...)
    t = load("synthetic:pack:2 core:4 pu:2")
    assert t.source_kind == "synthetic"
    s = t.summary()
    assert (s["packages"], s["numa_nodes"], s["cores"], s["pus"]) == (2, 1, 8, 16)
    assert t.siblings(5) == CpuSet([4, 5])
    assert t.package_cpus(1) == CpuSet.range(8, 15)
    assert t.numa_cpus(0) == CpuSet.range(0, 15)  # hwloc adds one NUMA node for the machine
    assert t.numa_nodes[0].size == 1 << 30  # hwloc's default 1GB per NUMA node


def test_full_string_with_l3_and_cache_defaults():
    t = syn("pack:2 numa:2 l3:2 core:8 pu:2")
    s = t.summary()
    assert (s["packages"], s["numa_nodes"], s["l3_caches"], s["cores"], s["pus"]) == (2, 4, 8, 64, 128)
    assert t.l3_cpus(1) == CpuSet.range(16, 31)  # 8 cores x 2 PUs per L3
    assert t.numa_cpus(3) == CpuSet.range(96, 127)
    assert t.cache_sizes == {"L3": 16 << 20}  # hwloc default 256kB << 2*3 (lstopo shows "L3 (16MB)")


def test_bare_arities_follow_hwloc_priority():
    # hwloc: with n numbers, the n-1 upper levels get NUMA, then package, then core, caches, groups, placed
    # groups > package > NUMA > caches > core. "2 2 4" = pack:2 numa:2 pu:4; "2 2 2 2" adds a core level.
    t = syn("2 2 4")
    assert (len(t.packages), len(t.numa_nodes), len(t.cores)) == (2, 4, 16)
    assert t.numa_cpus(1) == CpuSet.range(4, 7)
    t = syn("2 2 2 2")
    assert (len(t.packages), len(t.numa_nodes), len(t.cores), t.smt) == (2, 4, 8, 2)
    t = syn("2 3")  # numa:2 pu:3
    assert (len(t.packages), len(t.numa_nodes), len(t.cores)) == (0, 2, 6)


@pytest.mark.parametrize(
    "desc",
    ["pa:2 co:2 pu:2", "pack:2 core:2 pu:2", "Package:2 Core:2 PU:2", "socket:2 CORE:2 pu:2", "PACKAGE:2 cor:2 pu:2"],
)
def test_type_prefixes(desc):
    t = syn(desc)
    assert (len(t.packages), len(t.cores), len(t.pus)) == (2, 4, 8)


@pytest.mark.parametrize("numa", ["no", "node", "nu", "numa", "numanode", "NUMANode"])
def test_numa_prefixes(numa):
    t = syn(f"pack:2 {numa}:2 pu:2")
    assert len(t.numa_nodes) == 4


def test_indexes_interleave_smt_siblings():
    # 2*4:1*2 -> array[j] = (j//2 % 4) + (j % 2) * 4: PU L#0..7 = P#0,4,1,5,2,6,3,7 (by hand)
    t = syn("pack:2 core:2 pu:2(indexes=2*4:1*2)")
    assert t.logical_order == (0, 4, 1, 5, 2, 6, 3, 7)
    assert t.siblings(1) == CpuSet([1, 5])
    assert t.package_cpus(1) == CpuSet([2, 3, 6, 7])


def test_indexes_explicit_list_and_type_names():
    t = syn("pack:2 core:2 pu:2(indexes=0,4,1,5,2,6,3,7)")
    assert t.siblings(2) == CpuSet([2, 6])
    # numa:pack: NUMA index varies fastest, then package: PU j -> (j//2 % 2) + (j//4 % 2)*2 ... by hand:
    # j=0..7 in (pack, numa, pu) = (0,0,0),(0,0,1),(0,1,0),(0,1,1),(1,0,0)...; loops numa (step 2, nb 2)
    # and pack (step 4, nb 2) cover 4 of 8, the missing step-1 loop (nb 2) comes last: index = numa +
    # 2*pack + 4*pu -> 0,4,1,5,2,6,3,7.
    t = syn("pack:2 numa:2 pu:2(indexes=numa:pack)")
    assert t.logical_order == (0, 4, 1, 5, 2, 6, 3, 7)
    assert t.numa_cpus(1) == CpuSet([1, 5])


def test_memory_attribute_used_for_numa_size():
    # hwloc 2.x: GB = 10^9 bytes, GiB = 2^30 (`lstopo -i "pack:2 [numa(memory=1GB)] pu:2"` shows 954MB)
    t = syn("pack:2 [numa(memory=1GB)] core:2 pu:2")
    assert [(g.index, g.cpus, g.size) for g in t.numa_nodes] == [
        (0, CpuSet.range(0, 3), 10**9),
        (1, CpuSet.range(4, 7), 10**9),
    ]
    t = syn("(memory=2GiB) pack:2 numa:2(memory=1GiB) pu:2")
    assert t.numa_nodes[0].size == 1 << 30


def test_counts_in_hex_and_octal_like_strtoul():
    assert len(syn("0x2 2").pus) == 4  # hwloc reads counts with strtoul(.., 0)
    assert len(syn("010 1").pus) == 8


# -- lstopo round trips from shared files -----------------------------------------------------------------
# Strings printed by `lstopo -i F --of synthetic` (lstopo 2.9, 3.0 files copied with version 2.0).
ROUND_TRIPS = {
    "hwloc-xml/AMD-19h-Zen4-2xEpyc-9654.xml": "[NUMANode] Package:2 Die:12 L3Cache:1(size=33554432) "
    "L2Cache:8(size=1048576) L1dCache:1(size=32768) L1iCache:1(size=32768) Core:1 PU:2(indexes=2*192:1*2)",
    "hwloc-xml/192em64t-24n8c2t.xml": "Package:24 [NUMANode(memory=33255329792)] L3Cache:1(size=20971520) "
    "L2Cache:8(size=262144) L1dCache:1(size=32768) L1iCache:1(size=32768) Core:1 PU:2(indexes=2*192:1*2)",
    "hwloc-xml/Intel-Skylake-2xXeon6140.xml": "[NUMANode] Package:2 L3Cache:1(size=25952256) "
    "L2Cache:18(size=1048576) L1dCache:1(size=32768) L1iCache:1(size=32768) Core:1 PU:2(indexes=36*2:2*18:1*2)",
    "hwloc-xml/Intel-KnightsLanding-XeonPhi-7210.xml": "Package:1 [NUMANode] L2Cache:32(size=1048576) "
    "L1dCache:2(size=32768) L1iCache:1(size=32768) Core:1 PU:4(indexes=4*64:1*4)",
    "hwloc-xml/power8gpudistances.xml": "Package:2 [NUMANode(memory=68556816384)] L3Cache:4(size=8388608) Core:1 "
    "PU:2(indexes=0,1,8,9,16,17,24,25,80,81,88,89,96,97,104,105)",
    "hwloc-xml/Intel-SapphireRapids-2xXeonMax9460.xml": "[NUMANode] Package:2 L3Cache:1(size=102236160) "
    "L2Cache:40(size=2097152) L1dCache:1(size=32768) L1iCache:1(size=32768) Core:1 PU:2(indexes=2*80:1*2)",
    "hwloc-xml/AMD-19h-Zen3-2xEpyc-7763.xml": "[NUMANode] Package:2 L3Cache:8(size=33554432) "
    "L2Cache:8(size=524288) L1dCache:1(size=32768) L1iCache:1(size=32768) Core:1 PU:1",
}


@pytest.mark.parametrize("rel", sorted(ROUND_TRIPS))
def test_synthetic_export_round_trips_to_xml_numbering(rel):
    xml = load_hwloc_xml(str(shared(rel)), source=rel)
    t = syn(ROUND_TRIPS[rel])
    a, b = shape(t), shape(xml)
    assert a[:3] == b[:3]  # PU L# order, cores, packages
    assert [g.cpus for g in t.numa_nodes] == [g.cpus for g in xml.numa_nodes]
    assert a[4:] == b[4:]  # L3 groups, dies


def test_zen4_string_siblings():
    t = syn(ROUND_TRIPS["hwloc-xml/AMD-19h-Zen4-2xEpyc-9654.xml"])
    s = t.summary()
    assert (s["packages"], s["l3_caches"], s["cores"], s["pus"]) == (2, 24, 192, 384)
    assert all(t.siblings(n) == CpuSet([n, n + 192]) for n in range(192))


# -- against lstopo itself ---------------------------------------------------------------------------------
LSTOPO_STRINGS = [
    "pack:2 core:4 pu:2",
    "pack:2 numa:2 l3:2 core:8 pu:2",
    "2 2 4",
    "2 2 2 2 2",
    "2 2 2 2 2 2 2 2 2",
    "no:2 pu:2",
    "Socket:2 co:2 pu:2",
    "die:2 pu:2",
    "gr:2 pu:2",
    "pack:2 L2:2 L1d:1 core:1 pu:1",
    "pack:2 core:2 pu:2(indexes=2*4:1*2)",
    "pack:2 pu:4(indexes=7,6,5,4,3,2,1,0)",
    "pack:2 numa:2(indexes=1,0,3,2) pu:2",
    "pack:2(indexes=1,0) pu:2",
    "pack:2 numa:2 pu:2(indexes=numa:pack)",
    "pack:2 [numa(indexes=1,0)] pu:2",
    "pack:2 numa:2(memory=1MB) pu:1",
    "(memory=2GB) pack:2 pu:2",
]


@pytest.mark.skipif(shutil.which("lstopo") is None, reason="hwloc's lstopo is not installed")
@pytest.mark.parametrize("desc", LSTOPO_STRINGS)
def test_matches_lstopo(desc):
    # `lstopo -i DESC --of xml -` is hwloc's own reading of the string; the XML reader is checked against
    # lstopo separately (test_hwloc_xml.py).
    out = subprocess.run(["lstopo", "-i", desc, "--of", "xml", "-"], capture_output=True, check=True, timeout=30)
    hw = parse_hwloc_xml(out.stdout, source="lstopo")
    ours = syn(desc)
    assert shape(ours) == shape(hw)
    assert [g.size for g in ours.numa_nodes] == [g.size for g in hw.numa_nodes]


# -- refusals ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("desc", "needle"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("p:2 pu:2", "unknown object type 'p'"),  # hwloc refuses too: 'p' could be package or PU
        ("n:2 pu:2", "unknown object type 'n'"),
        ("pack:0 pu:2", "at least 1"),
        ("pack:2 core:2", "must be PUs"),
        ("pack:2 2 pu:2", "cannot mix"),
        ("pack:2 pack:2 pu:2", "several package levels"),
        ("pack:x pu:2", "no number of objects"),
        ("pack 2", "needs ':'"),
        ("pack:2 misc:2 pu:2", "not allowed"),
        ("machine:2 pu:2", "not allowed"),
        ("pack:2 pu:2(color=red)", "unknown attribute 'color=red'"),
        ("pack:2 pu:2(indexes=0,1,2)", "lists 3 indexes"),
        ("pack:2 pu:2(indexes=0,1,1,2)", "repeats"),
        ("pack:2 pu:2(indexes=3*2:1*2)", "duplicate or out-of-range"),
        ("pack:2 pu:2(indexes=0*2)", "step\\*count"),
        ("pack:2 pu:2(indexes=core:pack)", "no 'core' level"),
        ("pack:2 [core] pu:2", "only NUMA nodes"),
        ("pack:2 [numa pu:2", "no closing"),
        ("pack:2 numa:2 [numa] pu:2", "both as a level and attached"),
        ("pack:2 [numa] core:2 [numa] pu:1", "several levels"),
        ("pack:2 numa:2(memory=1XB) pu:1", "unknown size unit"),
        ("pack:2 pu:2(indexes=0,1,2,3", "no closing"),
        ("pack:2x pu:2", "unexpected 'x"),
        ("pu:65537", "65537 PUs is more than"),
        ("pack:300 core:300 pu:2", "more than the 65536"),
    ],
)
def test_bad_strings_one_line_with_example(desc, needle):
    with pytest.raises(OmpvizError, match=needle) as ei:
        syn(desc)
    msg = str(ei.value)
    assert "\n" not in msg
    assert msg.startswith(" ".join(f"synthetic:{desc}:".split()))  # names the source (whitespace squeezed)
    assert "a valid example: synthetic:'pack:2 numa:2 l3:2 core:8 pu:2'" in msg


def test_huge_refused_before_allocating():
    t0 = time.perf_counter()
    with pytest.raises(OmpvizError, match="more than"):
        syn("pack:4294967295 core:4294967295 pu:4294967295")
    with pytest.raises(OmpvizError, match="more than"):
        syn("pu:99999999999999999999")
    assert time.perf_counter() - t0 < 0.05


def test_exactly_the_limit_passes_the_size_check():
    # Building a 65,536-PU model is slow in build_topology today (quadratic grouping), so check the limit
    # itself: 4 x 8192 x 2 = 65,536 passes, one more PU does not.
    from ompviz.topology import synthetic

    levels, attached = synthetic._parse("pack:4 core:8192 pu:2")
    synthetic._resolve_types(levels, attached)
    synthetic._totals_and_limits(levels)
    assert levels[-1].total == 65_536
    with pytest.raises(OmpvizError, match="65537 PUs is more than"):
        syn("pack:1 pu:65537")


# -- fuzzing -------------------------------------------------------------------------------------------------
_ALPHABET = st.sampled_from(
    ["pack", "pa", "p", "numa", "no", "core", "pu", "l3", "L1d", "die", "group1", "x", ":", "(", ")", "[", "]"]
    + [" ", "  ", "2", "3", "0", "0x4", "=", ",", "*", "indexes=", "memory=", "1GB", "size=", "numa", "\t"]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_ALPHABET, max_size=14).map("".join))
def test_fuzz_tokens_only_ompviz_error(desc):
    try:
        t = syn(desc)
    except OmpvizError as e:
        assert "\n" not in str(e) and str(e)
    else:
        assert 1 <= len(t.pus) <= 65_536


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_fuzz_text_only_ompviz_error(desc):
    try:
        syn(desc)
    except OmpvizError as e:
        assert "\n" not in str(e)
