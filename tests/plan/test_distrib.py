"""distrib == hwloc_distrib(): expected sets recorded from the real `hwloc-distrib` 2.9 (Debian package hwloc).

Each case names the exact command that printed it. hwloc-distrib prints hwloc bitmaps of OS indices (32-bit
words, most significant first). The shared XMLs are hwloc 3.0 files: for hwloc 2.9 they were copied and their
`<topology version="3.0">` changed to "2.0" (sed) before running `hwloc-distrib --input FILE N 2>/dev/null`.
"""

from __future__ import annotations

import pytest
from conftest import shared

from ompviz.cpuset import parse_hwloc
from ompviz.plan import PlanRequest, plan
from ompviz.plan.distrib import distrib, singlify
from ompviz.topology import load

SYNTHETIC = [
    # hwloc-distrib --input "<desc>" N
    ("pack:2 core:4 pu:2", 3, "0x0000000f 0x000000f0 0x0000ff00"),
    ("pack:2 l3:2 core:3 pu:2", 5, "0x00000003 0x0000003c 0x00000fc0 0x0003f000 0x00fc0000"),
    (
        "pack:2 l3:2 core:3 pu:2",
        7,
        "0x00000003 0x0000003c 0x000000c0 0x00000f00 0x00003000 0x0003c000 0x00fc0000",
    ),
    ("pack:3 core:5 pu:1", 4, "0x00000003 0x0000001c 0x000003e0 0x00007c00"),
    ("pack:1 l3:4 core:4 pu:1", 3, "0x0000000f 0x000000f0 0x0000ff00"),
    (
        "pack:4 core:2 pu:4",
        10,
        "0x00000003 0x0000000c 0x000000f0 0x00000f00 0x0000f000 0x00030000 0x000c0000 0x00f00000 0x0f000000 0xf0000000",
    ),
    (
        "pack:2 core:3 pu:2",
        13,
        "0x00000001 0x00000001 0x00000002 0x00000004 0x00000008 0x00000010 0x00000020 0x00000040 0x00000080 "
        "0x00000100 0x00000200 0x00000400 0x00000800",
    ),
    ("pack:2 l3:3 core:2 pu:2", 4, "0x0000000f 0x00000ff0 0x0000f000 0x00ff0000"),
    ("core:7 pu:1", 3, "0x00000003 0x0000000c 0x00000070"),
    ("pack:2 core:4 pu:2", 1, "0x0000ffff"),
    ("pack:3 l3:2 core:2 pu:3", 5, "0x0000003f 0x00000fc0 0x0003f000 0x00fc0000 0x0000000f,0xff000000"),
    (
        "pack:2 l3:2 core:4 pu:2",
        20,
        "0x00000001 0x00000002 0x0000000c 0x00000030 0x000000c0 0x00000100 0x00000200 0x00000c00 0x00003000 "
        "0x0000c000 0x00010000 0x00020000 0x000c0000 0x00300000 0x00c00000 0x01000000 0x02000000 0x0c000000 "
        "0x30000000 0xc0000000",
    ),
    # SMT siblings numbered N and N+8, as lstopo prints for many x86 machines
    ("pack:2 core:4 pu:2(indexes=2*8:1*2)", 3, "0x00000303 0x00000c0c 0x0000f0f0"),
]

XML = [
    # hwloc-distrib --input 16em64t-4s2c2t-offlines.xml N   (offline PUs are not part of the tree)
    ("16em64t-4s2c2t-offlines.xml", 3, "0x00000001 0x00001012 0x00008048"),
    ("16em64t-4s2c2t-offlines.xml", 7, "0x00000001 0x00000010 0x00001000 0x00000002 0x00000040 0x00000008 0x00008000"),
    (
        "Intel-Skylake-2xXeon6140.xml",
        5,
        "0x00005550,0x00000555 0x05550000,0x00555000 0x00000055,0x50000005,0x55000000 0x002aaaa0,0x0002aaaa "
        "0x000000aa,0xaa80000a,0xaaa80000",
    ),
    (
        "Intel-Skylake-2xXeon6140.xml",
        7,
        "0x00000550,0x00000055 0x00155000,0x00015500 0x15400000,0x01540000 0x00000055,0x40000005,0x54000000 "
        "0x0000aaa0,0x00000aaa 0x0aaa0000,0x00aaa000 0x000000aa,0xa000000a,0xaa000000",
    ),
    (
        "AMD-19h-Zen3-2xEpyc-7763.xml",
        7,
        "0x0000ffff 0xffff0000 0x0000ffff,0x0 0xffff0000,0x0 0x0000ffff,,0x0 0x000000ff,0xffff0000,,0x0 "
        "0xffffff00,,,0x0",
    ),
]


@pytest.mark.parametrize("desc,n,expected", SYNTHETIC)
def test_synthetic_matches_hwloc_distrib(desc, n, expected):
    topo = load(f"synthetic:{desc}")
    assert distrib(topo, n) == [parse_hwloc(x) for x in expected.split()]


@pytest.mark.parametrize("name,n,expected", XML)
def test_xml_matches_hwloc_distrib(name, n, expected):
    topo = load(str(shared(f"hwloc-xml/{name}")))
    assert distrib(topo, n) == [parse_hwloc(x) for x in expected.split()]


def test_single():
    # hwloc-distrib --input "pack:3 l3:2 core:2 pu:3" 5 --single
    topo = load("synthetic:pack:3 l3:2 core:2 pu:3")
    got = [singlify(s) for s in distrib(topo, 5)]
    assert got == [parse_hwloc(x) for x in "0x00000001 0x00000040 0x00001000 0x00040000 0x01000000".split()]


def test_strategy_distrib_uses_it():
    topo = load("synthetic:pack:2 core:4 pu:2")
    p = plan(topo, PlanRequest(ranks=3, strategy="distrib"))
    assert [w.cpus for w in p.workers] == distrib(topo, 3)
