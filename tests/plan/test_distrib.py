"""distrib == hwloc_distrib(): expected sets recorded from the real `hwloc-distrib` 2.9 (Debian package hwloc).

Each case names the exact command that printed it. hwloc-distrib prints hwloc bitmaps of OS indices (32-bit
words, most significant first). The shared XMLs are hwloc 3.0 files: for hwloc 2.9 they were copied and their
`<topology version="3.0">` changed to "2.0" (sed) before running `hwloc-distrib --input FILE N 2>/dev/null`.
The sysfs tarballs were extracted (`tar xjf X.tar.bz2 -C DIR`) and run as `hwloc-distrib --input DIR/X N`.
"""

from __future__ import annotations

import pytest
from conftest import shared

from ompviz.cpuset import parse_hwloc
from ompviz.plan import PlanRequest, plan
from ompviz.plan.distrib import distrib, singlify, tree_warning
from ompviz.topology import build_topology, load
from ompviz.topology.model import PURecord
from ompviz.topology.snapshot import dumps_snapshot, load_snapshot
from ompviz.topology.sysfs import distance_groups

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


# Machines whose hwloc tree has objects besides Package > Die > L3 > Core: Arm clusters (Kunpeng 920: Group0
# "Cluster" of 4 cores inside each L3), POWER7 Groups made from NUMA distances and one Group per NUMA node (its
# packages are single cores), Intel hybrid E-core L2 shared by 4 cores, KNL L2 shared by 2 cores (tiles), and
# synthetic NUMA levels (hwloc makes a Group holding the node). `lstopo --input X --of console` shows each tree.
SYSFS_TREE = [
    # hwloc-distrib --input <extracted dir> N
    ("128arm-2pa2n8cluster4co.tar.bz2", 3, "0xffffffff 0xffffffff,0x0 0xffffffff,0xffffffff,,0x0"),
    (
        "128arm-2pa2n8cluster4co.tar.bz2",
        9,
        (
            "0x000000ff 0x000fff00 0xfff00000 0x0000ffff,0x0 0xffff0000,0x0 0x0000ffff,,0x0 0xffff0000,,0x0 "
            "0x0000ffff,,,0x0 0xffff0000,,,0x0"
        ),
    ),
    (
        "128arm-2pa2n8cluster4co.tar.bz2",
        10,
        (
            "0x000000ff 0x000fff00 0xfff00000 0x0000ffff,0x0 0xffff0000,0x0 0x000000ff,,0x0 0x000fff00,,0x0 "
            "0xfff00000,,0x0 0x0000ffff,,,0x0 0xffff0000,,,0x0"
        ),
    ),
    (
        "128arm-2pa2n8cluster4co.tar.bz2",
        17,
        (
            "0x0000000f 0x00000ff0 0x0000f000 0x00ff0000 0xff000000 0x000000ff,0x0 0x0000ff00,0x0 "
            "0x00ff0000,0x0 0xff000000,0x0 0x000000ff,,0x0 0x0000ff00,,0x0 0x00ff0000,,0x0 0xff000000,,0x0 "
            "0x000000ff,,,0x0 0x0000ff00,,,0x0 0x00ff0000,,,0x0 0xff000000,,,0x0"
        ),
    ),
    (
        "128arm-2pa2n8cluster4co.tar.bz2",
        33,
        (
            "0x00000003 0x0000000c 0x000000f0 0x00000f00 0x0000f000 0x000f0000 0x00f00000 0x0f000000 "
            "0xf0000000 0x0000000f,0x0 0x000000f0,0x0 0x00000f00,0x0 0x0000f000,0x0 0x000f0000,0x0 "
            "0x00f00000,0x0 0x0f000000,0x0 0xf0000000,0x0 0x0000000f,,0x0 0x000000f0,,0x0 0x00000f00,,0x0 "
            "0x0000f000,,0x0 0x000f0000,,0x0 0x00f00000,,0x0 0x0f000000,,0x0 0xf0000000,,0x0 0x0000000f,,,0x0 "
            "0x000000f0,,,0x0 0x00000f00,,,0x0 0x0000f000,,,0x0 0x000f0000,,,0x0 0x00f00000,,,0x0 "
            "0x0f000000,,,0x0 0xf0000000,,,0x0"
        ),
    ),
    (
        "128arm-2pa2n8cluster4co.tar.bz2",
        100,
        (
            "0x00000001 0x00000002 0x00000004 0x00000008 0x00000010 0x00000020 0x000000c0 0x00000100 "
            "0x00000200 0x00000c00 0x00001000 0x00002000 0x0000c000 0x00010000 0x00020000 0x000c0000 "
            "0x00100000 0x00200000 0x00c00000 0x01000000 0x02000000 0x0c000000 0x10000000 0x20000000 "
            "0xc0000000 0x00000001,0x0 0x00000002,0x0 0x00000004,0x0 0x00000008,0x0 0x00000010,0x0 "
            "0x00000020,0x0 0x000000c0,0x0 0x00000100,0x0 0x00000200,0x0 0x00000c00,0x0 0x00001000,0x0 "
            "0x00002000,0x0 0x0000c000,0x0 0x00010000,0x0 0x00020000,0x0 0x000c0000,0x0 0x00100000,0x0 "
            "0x00200000,0x0 0x00c00000,0x0 0x01000000,0x0 0x02000000,0x0 0x0c000000,0x0 0x10000000,0x0 "
            "0x20000000,0x0 0xc0000000,0x0 0x00000001,,0x0 0x00000002,,0x0 0x00000004,,0x0 0x00000008,,0x0 "
            "0x00000010,,0x0 0x00000020,,0x0 0x000000c0,,0x0 0x00000100,,0x0 0x00000200,,0x0 0x00000c00,,0x0 "
            "0x00001000,,0x0 0x00002000,,0x0 0x0000c000,,0x0 0x00010000,,0x0 0x00020000,,0x0 0x000c0000,,0x0 "
            "0x00100000,,0x0 0x00200000,,0x0 0x00c00000,,0x0 0x01000000,,0x0 0x02000000,,0x0 0x0c000000,,0x0 "
            "0x10000000,,0x0 0x20000000,,0x0 0xc0000000,,0x0 0x00000001,,,0x0 0x00000002,,,0x0 "
            "0x00000004,,,0x0 0x00000008,,,0x0 0x00000010,,,0x0 0x00000020,,,0x0 0x000000c0,,,0x0 "
            "0x00000100,,,0x0 0x00000200,,,0x0 0x00000c00,,,0x0 0x00001000,,,0x0 0x00002000,,,0x0 "
            "0x0000c000,,,0x0 0x00010000,,,0x0 0x00020000,,,0x0 0x000c0000,,,0x0 0x00100000,,,0x0 "
            "0x00200000,,,0x0 0x00c00000,,,0x0 0x01000000,,,0x0 0x02000000,,,0x0 0x0c000000,,,0x0 "
            "0x10000000,,,0x0 0x20000000,,,0x0 0xc0000000,,,0x0"
        ),
    ),
    (
        "256ppc-8n8s4t.tar.bz2",
        3,
        ("0xffffffff,0xffffffff 0xffffffff,0xffffffff,,0x0 0xffffffff,0xffffffff,0xffffffff,0xffffffff,,,,0x0"),
    ),
    (
        "256ppc-8n8s4t.tar.bz2",
        9,
        (
            "0x0000ffff 0xffff0000 0xffffffff,0x0 0xffffffff,,0x0 0xffffffff,,,0x0 0xffffffff,,,,0x0 "
            "0xffffffff,,,,,0x0 0xffffffff,,,,,,0x0 0xffffffff,,,,,,,0x0"
        ),
    ),
    (
        "256ppc-8n8s4t.tar.bz2",
        17,
        (
            "0x000000ff 0x000fff00 0xfff00000 0x0000ffff,0x0 0xffff0000,0x0 0x0000ffff,,0x0 0xffff0000,,0x0 "
            "0x0000ffff,,,0x0 0xffff0000,,,0x0 0x0000ffff,,,,0x0 0xffff0000,,,,0x0 0x0000ffff,,,,,0x0 "
            "0xffff0000,,,,,0x0 0x0000ffff,,,,,,0x0 0xffff0000,,,,,,0x0 0x0000ffff,,,,,,,0x0 "
            "0xffff0000,,,,,,,0x0"
        ),
    ),
    ("20em64t-hybrid-1p6c2t+2ca4co1t.tar.bz2", 2, "0x000003ff 0x000ffc00"),
    ("20em64t-hybrid-1p6c2t+2ca4co1t.tar.bz2", 3, "0x0000003f 0x00000fc0 0x000ff000"),
    (
        "20em64t-hybrid-1p6c2t+2ca4co1t.tar.bz2",
        7,
        "0x00000003 0x0000000c 0x000000f0 0x00000300 0x00000c00 0x0000f000 0x000f0000",
    ),
    (
        "20em64t-hybrid-1p6c2t+2ca4co1t.tar.bz2",
        17,
        (
            "0x00000001 0x00000002 0x00000004 0x00000008 0x00000010 0x00000020 0x000000c0 0x00000100 "
            "0x00000200 0x00000400 0x00000800 0x00001000 0x00002000 0x0000c000 0x00010000 0x00020000 "
            "0x000c0000"
        ),
    ),
]

XML_TREE = [
    # hwloc-distrib --input <copy with version="2.0"> N
    (
        "Intel-KnightsLanding-XeonPhi-7210.xml",
        3,
        (
            "0x000fffff,,0x000fffff,,0x000fffff,,0x000fffff "
            "0x000003ff,0xfff00000,0x000003ff,0xfff00000,0x000003ff,0xfff00000,0x000003ff,0xfff00000 "
            "0xfffffc00,,0xfffffc00,,0xfffffc00,,0xfffffc00,0x0"
        ),
    ),
    (
        "Intel-KnightsLanding-XeonPhi-7210.xml",
        7,
        (
            "0x000000ff,,0x000000ff,,0x000000ff,,0x000000ff 0x0003ff00,,0x0003ff00,,0x0003ff00,,0x0003ff00 "
            "0x03fc0000,,0x03fc0000,,0x03fc0000,,0x03fc0000 "
            "0x0000000f,0xfc000000,0x0000000f,0xfc000000,0x0000000f,0xfc000000,0x0000000f,0xfc000000 "
            "0x00000ff0,,0x00000ff0,,0x00000ff0,,0x00000ff0,0x0 "
            "0x003ff000,,0x003ff000,,0x003ff000,,0x003ff000,0x0 "
            "0xffc00000,,0xffc00000,,0xffc00000,,0xffc00000,0x0"
        ),
    ),
    (
        "Intel-KnightsLanding-XeonPhi-7210.xml",
        17,
        (
            "0x00000003,,0x00000003,,0x00000003,,0x00000003 0x0000003c,,0x0000003c,,0x0000003c,,0x0000003c "
            "0x000003c0,,0x000003c0,,0x000003c0,,0x000003c0 0x00003c00,,0x00003c00,,0x00003c00,,0x00003c00 "
            "0x0003c000,,0x0003c000,,0x0003c000,,0x0003c000 0x003c0000,,0x003c0000,,0x003c0000,,0x003c0000 "
            "0x03c00000,,0x03c00000,,0x03c00000,,0x03c00000 0x3c000000,,0x3c000000,,0x3c000000,,0x3c000000 "
            "0xc0000000,,0xc0000000,,0xc0000000,,0xc0000000 "
            "0x0000000f,,0x0000000f,,0x0000000f,,0x0000000f,0x0 "
            "0x000000f0,,0x000000f0,,0x000000f0,,0x000000f0,0x0 "
            "0x00000f00,,0x00000f00,,0x00000f00,,0x00000f00,0x0 "
            "0x0000f000,,0x0000f000,,0x0000f000,,0x0000f000,0x0 "
            "0x000f0000,,0x000f0000,,0x000f0000,,0x000f0000,0x0 "
            "0x00f00000,,0x00f00000,,0x00f00000,,0x00f00000,0x0 "
            "0x0f000000,,0x0f000000,,0x0f000000,,0x0f000000,0x0 "
            "0xf0000000,,0xf0000000,,0xf0000000,,0xf0000000,0x0"
        ),
    ),
    ("Intel-RaptorLake-Corei7-1370P.xml", 3, "0x0000003f 0x00000fc0 0x000ff000"),
    (
        "Intel-RaptorLake-Corei7-1370P.xml",
        7,
        "0x00000003 0x0000000c 0x000000f0 0x00000300 0x00000c00 0x0000f000 0x000f0000",
    ),
    (
        "Intel-RaptorLake-Corei7-1370P.xml",
        9,
        ("0x00000003 0x0000000c 0x00000030 0x000000c0 0x00000300 0x00000c00 0x00003000 0x0000c000 0x000f0000"),
    ),
]

SYNTHETIC_TREE = [
    # hwloc-distrib --input "<desc>" N
    (
        "pack:2 numa:2 l3:3 core:5 pu:2",
        5,
        "0x000003ff 0x3ffffc00 0x0fffffff,0xc0000000 0x03ffffff,0xf0000000,0x0 0x00ffffff,0xfc000000,,0x0",
    ),
    (
        "pack:2 numa:2 l3:3 core:5 pu:2",
        7,
        (
            "0x000003ff 0x3ffffc00 0x000000ff,0xc0000000 0x0fffff00,0x0 0x0000003f,0xf0000000,0x0 "
            "0x03ffffc0,,0x0 0x00ffffff,0xfc000000,,0x0"
        ),
    ),
    ("pack:2 numa:3 core:4 pu:2", 5, "0x000000ff 0x0000ff00 0x00ff0000 0xff000000 0x0000ffff,0x0"),
    ("pack:2 group:2 core:3 pu:1", 5, "0x00000001 0x00000006 0x00000038 0x000001c0 0x00000e00"),
    ("pack:1 l3:2 l2:3 core:2 pu:2", 5, "0x0000000f 0x000000f0 0x00000f00 0x0000f000 0x00ff0000"),
    ("numa:3 core:5 pu:1", 4, "0x00000003 0x0000001c 0x000003e0 0x00007c00"),
    (
        "pack:2 die:2 l2:2 core:3 pu:2",
        7,
        "0x0000003f 0x00000fc0 0x0003f000 0x00fc0000 0x3f000000 0x0000000f,0xc0000000 0x0000fff0,0x0",
    ),
    (
        "pack:2 [numa] l3:3 core:5 pu:2",
        7,
        "0x0000000f 0x000003f0 0x000ffc00 0x3ff00000 0x000000ff,0xc0000000 0x0003ff00,0x0 0x0ffc0000,0x0",
    ),
    (
        "pack:2 l3:2 numa:2 core:3 pu:2",
        7,
        "0x0000003f 0x00000fc0 0x0003f000 0x00fc0000 0x3f000000 0x0000000f,0xc0000000 0x0000fff0,0x0",
    ),
    (
        "pack:3 group:2 l2:3 core:2 pu:2",
        7,
        (
            "0x0000000f 0x00000ff0 0x00fff000 0x0000000f,0xff000000 0x0000fff0,0x0 0x0fff0000,0x0 "
            "0x000000ff,0xf0000000,0x0"
        ),
    ),
    (
        "pack:3 group:2 l2:3 core:2 pu:2",
        11,
        (
            "0x0000000f 0x00000ff0 0x0000f000 0x00ff0000 0x0f000000 0x0000000f,0xf0000000 0x000000f0,0x0 "
            "0x0000ff00,0x0 0x000f0000,0x0 0x0ff00000,0x0 0x000000ff,0xf0000000,0x0"
        ),
    ),
]


@pytest.mark.parametrize("tarball,n,expected", SYSFS_TREE)
def test_sysfs_tree_matches_hwloc_distrib(tarball, n, expected):
    topo = load(str(shared(f"sysfs/{tarball}")))
    assert distrib(topo, n) == [parse_hwloc(x) for x in expected.split()]


@pytest.mark.parametrize("name,n,expected", XML_TREE)
def test_xml_tree_matches_hwloc_distrib(name, n, expected):
    topo = load(str(shared(f"hwloc-xml/{name}")))
    assert distrib(topo, n) == [parse_hwloc(x) for x in expected.split()]


@pytest.mark.parametrize("desc,n,expected", SYNTHETIC_TREE)
def test_synthetic_tree_matches_hwloc_distrib(desc, n, expected):
    topo = load(f"synthetic:{desc}")
    assert distrib(topo, n) == [parse_hwloc(x) for x in expected.split()]


def test_distance_groups_by_hand():
    # Kunpeng 920 SLIT (128arm-2pa2n8cluster4co nodeN/distance): smallest off-diagonal 16 links 0-1 and 2-3; two
    # groups left, so no further level (hwloc groups only more than 2 objects).
    kunpeng = [[10, 16, 32, 33], [16, 10, 25, 32], [32, 25, 10, 16], [33, 32, 16, 10]]
    assert distance_groups(kunpeng) == [[0, 1], [2, 3]]
    # 8 nodes: pairs at 20, pairs of pairs at 30, else 40. Level 1: 4 pairs. Their averaged matrix: 15 inside,
    # 30 between the pairs of one quad, 40 otherwise -> 2 quads. Then 2 objects: stop.
    m = [
        [10 if i == j else 20 if i // 2 == j // 2 else 30 if i // 4 == j // 4 else 40 for j in range(8)]
        for i in range(8)
    ]
    assert distance_groups(m) == [[0, 1], [2, 3], [4, 5], [6, 7], [0, 1, 2, 3], [4, 5, 6, 7]]
    # one group of everything is no group; a lone object joins none but the others still group
    assert distance_groups([[10, 20, 20], [20, 10, 20], [20, 20, 10]]) == []
    assert distance_groups([[10, 20, 40], [20, 10, 40], [40, 40, 10]]) == [[0, 1]]
    # asymmetric, or the diagonal not strictly smallest: hwloc does not use the matrix
    assert distance_groups([[10, 20, 40], [21, 10, 40], [40, 40, 10]]) == []
    assert distance_groups([[20, 20, 40], [20, 10, 40], [40, 40, 10]]) == []


def test_snapshot_keeps_the_tree(tmp_path):
    # Kunpeng clusters split ranks (SYSFS_TREE): a snapshot of the tarball must give the same sets
    topo = load(str(shared("sysfs/128arm-2pa2n8cluster4co.tar.bz2")))
    f = tmp_path / "kunpeng.json"
    f.write_text(dumps_snapshot(topo))
    again = load_snapshot(str(f), source=str(f))
    for _, n, expected in (c for c in SYSFS_TREE if c[0].startswith("128arm")):
        assert distrib(again, n) == [parse_hwloc(x) for x in expected.split()]
    assert tree_warning(again) is None


def test_tree_warning_only_when_the_tree_is_unknown():
    recs = [PURecord(i, package=i // 4, numa=i // 4, core_key=i) for i in range(8)]
    topo = build_topology(recs, name="t", source="t", source_kind="lscpu")
    w = tree_warning(topo)
    assert w is not None and w.code == "distrib-tree-unknown" and w.severity == "info"
    # the text names the cause and the cure, not the source kind (a saved config replans from a snapshot of it)
    assert "does not record hwloc's whole CPU tree" in w.message and "lstopo XML or a sysfs dump" in w.message
    assert tree_warning(load("synthetic:pack:2 core:4 pu:2")) is None
    # one core: nothing to split differently
    assert tree_warning(build_topology([PURecord(0, core_key=0)], name="t", source="t", source_kind="lscpu")) is None


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


def test_plan_says_when_the_source_has_no_hwloc_tree():
    # Presets are built without hwloc's object tree (no clusters/L2/groups recorded), so distrib can only split
    # by package/die/L3 and the plan must say so; a synthetic string records every level, so no such warning.
    from ompviz.plan import PlanRequest, plan
    from ompviz.topology import load

    codes = {w.code for w in plan(load("preset:teach-4c"), PlanRequest(ranks=3, strategy="distrib")).warnings}
    assert "distrib-tree-unknown" in codes
    syn = load("synthetic:pack:2 l3:2 core:4 pu:2")
    codes = {w.code for w in plan(syn, PlanRequest(ranks=3, strategy="distrib")).warnings}
    assert "distrib-tree-unknown" not in codes
