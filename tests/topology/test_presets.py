"""Presets against the public specs, written here independently of ompviz/topology/presets.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ompviz.cpuset import CpuSet, parse_list
from ompviz.errors import OmpvizError
from ompviz.topology import load
from ompviz.topology.presets import PRESETS

MiB = 1 << 20

# name: (packages, NUMA nodes, L3 groups, cores, PUs, L3 size in MiB or None) from the vendors' public specs:
SPECS = {
    # AMD EPYC 9654: 96 cores / 192 threads, 12 CCDs x 8 cores, 32 MB L3 per CCD (384 MB). 2P = 2x.
    "epyc-9654-2p-nps1": (2, 2, 24, 192, 384, 32),
    "epyc-9654-2p-nps4": (2, 8, 24, 192, 384, 32),  # NPS4: 4 NUMA nodes per socket
    # AMD EPYC 7763: 64 cores / 128 threads, 8 CCDs x 8 cores, 32 MB L3 per CCD (256 MB).
    "epyc-7763-2p": (2, 2, 16, 128, 256, 32),
    # Intel Xeon Platinum 8480+: 56 cores / 112 threads, 105 MB L3 per socket; SNC4 = 4 NUMA per socket.
    "xeon-8480-2p-snc4": (2, 8, 2, 112, 224, 105),
    "xeon-8480-2p": (2, 2, 2, 112, 224, 105),
    # NVIDIA Grace: 72 Neoverse V2 cores, 114 MB L3; superchip = 2 Grace, one NUMA node each.
    "grace": (1, 1, 1, 72, 72, 114),
    "grace-superchip": (2, 2, 2, 144, 144, 114),
    # AWS Graviton3: 64 Neoverse V1 cores, 32 MB L3. Graviton4: 96 Neoverse V2, 36 MB L3; 48xlarge = 2 sockets.
    "graviton3": (1, 1, 1, 64, 64, 32),
    "graviton4-2p": (2, 2, 2, 192, 192, 36),
    # Ampere Altra Q80-30: 80 Neoverse N1 cores; its SLC is not exposed to Linux as an L3.
    "altra-q80": (1, 1, 0, 80, 80, None),
    # IBM POWER10 SMT8 chip with 15 cores: 120 threads, 8 MB L3 region per core.
    "power10-smt8": (1, 1, 15, 15, 120, 8),
    # Intel Core i7-13700: 8 P-cores (2 threads) + 8 E-cores = 16 cores, 24 threads, 30 MB L3.
    "core-i7-13700": (1, 1, 1, 16, 24, 30),
    # a 4-core SMT2 teaching box (Core i7-7700: 4 cores / 8 threads, 8 MB L3)
    "teach-4c": (1, 1, 1, 4, 8, 8),
}


def test_at_least_ten_presets_and_all_specified_here():
    assert len(PRESETS) >= 10
    assert set(PRESETS) == set(SPECS), "every preset needs its public spec in SPECS"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_counts_match_spec(name):
    t = load(f"preset:{name}")
    pk, numa, l3, cores, pus, l3mib = SPECS[name]
    s = t.summary()
    assert (s["packages"], s["numa_nodes"], s["l3_caches"], s["cores"], s["pus"]) == (pk, numa, l3, cores, pus)
    assert t.source == f"preset:{name}" and t.source_kind == "preset"
    assert t.allowed == t.all_cpus == CpuSet.range(0, pus - 1), "presets are fully online and allowed, 0..N-1"
    for g in t.l3s:
        assert g.size == l3mib * MiB
    # groups split evenly
    assert len({len(g.cpus) for g in t.numa_nodes}) == 1
    assert len({len(g.cpus) for g in t.l3s}) <= 1
    # every NUMA node lies inside one package
    for n in t.numa_nodes:
        assert any(n.cpus <= p.cpus for p in t.packages)
    title = PRESETS[name].title
    assert "\n" not in title and len(title) <= 59


@pytest.mark.parametrize(
    "name, cpu, siblings",
    [
        # x86 2P: sibling of N is N + total cores
        ("epyc-9654-2p-nps1", 0, "0,192"),
        ("epyc-9654-2p-nps1", 191, "191,383"),
        ("epyc-7763-2p", 64, "64,192"),
        ("xeon-8480-2p-snc4", 56, "56,168"),
        ("teach-4c", 1, "1,5"),
        # POWER SMT8: the 8 threads of a core are consecutive
        ("power10-smt8", 9, "8-15"),
        # hybrid: P-core threads consecutive 0-15, E-cores 16-23 alone
        ("core-i7-13700", 3, "2,3"),
        ("core-i7-13700", 16, "16"),
        # no SMT
        ("grace", 5, "5"),
        ("graviton4-2p", 100, "100"),
        ("altra-q80", 79, "79"),
    ],
)
def test_linux_numbering(name, cpu, siblings):
    assert load(f"preset:{name}").siblings(cpu) == parse_list(siblings)


@pytest.mark.parametrize(
    "name, node, cpus",
    [
        # NPS4: 24 cores per node, node 1 = cores 24-47 of socket 0 and their siblings
        ("epyc-9654-2p-nps4", 1, "24-47,216-239"),
        ("epyc-9654-2p-nps4", 4, "96-119,288-311"),
        # SNC4 on 56 cores: 14 cores per node
        ("xeon-8480-2p-snc4", 0, "0-13,112-125"),
        ("xeon-8480-2p-snc4", 7, "98-111,210-223"),
        ("graviton4-2p", 1, "96-191"),
    ],
)
def test_numa_grouping(name, node, cpus):
    assert load(f"preset:{name}").numa_cpus(node) == parse_list(cpus)


def test_epyc_l3_is_one_ccd_of_eight_cores():
    t = load("preset:epyc-9654-2p-nps4")
    assert t.l3_cpus(1) == parse_list("8-15,200-207")
    # NPS4: each NUMA node holds exactly 3 whole CCDs
    assert sum(1 for g in t.l3s if g.cpus <= t.numa_cpus(0)) == 3


def test_snc4_numa_nodes_share_the_package_l3():
    t = load("preset:xeon-8480-2p-snc4")
    assert t.l3_cpus(0) == t.package_cpus(0)
    assert sum(1 for n in t.numa_nodes if n.cpus <= t.l3_cpus(0)) == 4


def test_hybrid_kinds():
    t = load("preset:core-i7-13700")
    assert t.kinds == ("P", "E")
    assert CpuSet(p.os_index for p in t.pus if p.kind == "P") == parse_list("0-15")
    assert CpuSet(p.os_index for p in t.pus if p.kind == "E") == parse_list("16-23")


def test_unknown_preset_suggests_close_names():
    with pytest.raises(OmpvizError) as e:
        load("preset:epyc-9654")
    msg = str(e.value)
    assert "preset:epyc-9654-2p-nps1" in msg and "ompviz presets" in msg and "\n" not in msg
    with pytest.raises(OmpvizError, match="ompviz presets"):
        load("preset:zzzz")


def test_name_is_case_insensitive():
    assert load("preset:Grace").summary()["cores"] == 72


def test_ompviz_presets_lists_every_preset_in_80_columns():
    r = subprocess.run([sys.executable, "-m", "ompviz", "presets"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    listed = {line.split()[0] for line in lines[1:]}
    assert listed == set(PRESETS)
    for name, p in PRESETS.items():
        assert any(line.split()[0] == name and line.rstrip().endswith(p.title) for line in lines[1:])
