"""Curated machines (``--topology preset:NAME``), described from public specs.

Each preset is generated from a few numbers (packages, cores, SMT, NUMA nodes and L3 groups per package) with the
CPU numbering Linux really uses on that machine:
- ``split``: x86 servers and desktops enumerate one hardware thread of every core first (package by package),
  then the second threads: the SMT siblings of CPU N are N + (total cores), N + 2*(total cores), ...
- ``consecutive``: the threads of a core are numbered one after another (POWER SMT8, Intel hybrid P-cores);
  with no SMT both schemes coincide (Graviton, Grace, Altra).
Cores of a package are split evenly and in order between its NUMA nodes and its L3 groups, which is how these
parts are built (e.g. EPYC 9654: 12 CCDs of 8 cores, each CCD one 32 MiB L3; NPS4 = 3 CCDs per NUMA node).
Memory per NUMA node is left unknown: it depends on how the machine was populated.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from ompviz.errors import OmpvizError
from ompviz.topology.model import PURecord, Topology, build_topology

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True, slots=True)
class CoreBlock:
    """``count`` cores per package with ``smt`` threads each, of one kind (hybrid parts have several blocks)."""

    count: int
    smt: int = 1
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    title: str  # one line: vendor model, sockets x cores x SMT, NUMA mode
    model: str  # the CPU model name, as /proc/cpuinfo or lscpu shows it
    packages: int
    blocks: tuple[CoreBlock, ...]
    numa_per_package: int = 1
    l3_per_package: int | None = 1  # None: the machine exposes no L3 to Linux
    l3_size: int | None = None  # bytes, per L3 group
    numbering: str = "split"  # "split" | "consecutive" (see module docstring)
    cache_sizes: tuple[tuple[str, int], ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def cores_per_package(self) -> int:
        return sum(b.count for b in self.blocks)

    @property
    def pus_per_package(self) -> int:
        return sum(b.count * b.smt for b in self.blocks)

    def records(self) -> list[PURecord]:
        cpp = self.cores_per_package
        total_cores = cpp * self.packages
        if cpp % self.numa_per_package or (self.l3_per_package and cpp % self.l3_per_package):
            raise ValueError(f"preset {self.name}: {cpp} cores do not split evenly into NUMA/L3 groups")
        cores_per_numa = cpp // self.numa_per_package
        cores_per_l3 = cpp // self.l3_per_package if self.l3_per_package else None
        out: list[PURecord] = []
        next_cpu = 0  # for "consecutive" numbering
        for pkg in range(self.packages):
            c = 0  # core index within the package
            for block in self.blocks:
                for _ in range(block.count):
                    gcore = pkg * cpp + c
                    numa = pkg * self.numa_per_package + c // cores_per_numa
                    l3 = None if cores_per_l3 is None else ("l3", pkg, c // cores_per_l3)
                    for t in range(block.smt):
                        if self.numbering == "split":
                            cpu = gcore + t * total_cores
                        else:
                            cpu = next_cpu
                            next_cpu += 1
                        out.append(
                            PURecord(
                                os_index=cpu,
                                package=pkg,
                                numa=numa,
                                l3_key=l3,
                                core_key=("core", pkg, c),
                                kind=block.kind,
                            )
                        )
                    c += 1
        return out

    def build(self, source: str | None = None) -> Topology:
        return build_topology(
            self.records(),
            name=self.model,
            source=source or f"preset:{self.name}",
            source_kind="preset",
            cache_sizes=dict(self.cache_sizes) | ({"L3": self.l3_size} if self.l3_size else {}),
            notes=(f"preset: {self.title}", *self.notes),
        )


def _p(*args, **kw) -> Preset:
    return Preset(*args, **kw)


_LIST = (
    _p(
        "epyc-9654-2p-nps1",
        "AMD EPYC 9654 2P: 2 x 96c x SMT2, NPS1, 8 cores per L3",
        "AMD EPYC 9654 96-Core Processor",
        2,
        (CoreBlock(96, 2),),
        numa_per_package=1,
        l3_per_package=12,
        l3_size=32 * MiB,
        cache_sizes=(("L1d", 32 * KiB), ("L1i", 32 * KiB), ("L2", 1 * MiB)),
    ),
    _p(
        "epyc-9654-2p-nps4",
        "AMD EPYC 9654 2P: 2 x 96c x SMT2, NPS4, 8 cores per L3",
        "AMD EPYC 9654 96-Core Processor",
        2,
        (CoreBlock(96, 2),),
        numa_per_package=4,
        l3_per_package=12,
        l3_size=32 * MiB,
        cache_sizes=(("L1d", 32 * KiB), ("L1i", 32 * KiB), ("L2", 1 * MiB)),
    ),
    _p(
        "epyc-7763-2p",
        "AMD EPYC 7763 2P: 2 x 64c x SMT2, NPS1, 8 cores per L3",
        "AMD EPYC 7763 64-Core Processor",
        2,
        (CoreBlock(64, 2),),
        numa_per_package=1,
        l3_per_package=8,
        l3_size=32 * MiB,
        cache_sizes=(("L1d", 32 * KiB), ("L1i", 32 * KiB), ("L2", 512 * KiB)),
    ),
    _p(
        "xeon-8480-2p-snc4",
        "Intel Xeon Platinum 8480+ 2P: 2 x 56c x SMT2, SNC4",
        "Intel(R) Xeon(R) Platinum 8480+",
        2,
        (CoreBlock(56, 2),),
        numa_per_package=4,
        l3_per_package=1,
        l3_size=105 * MiB,
        cache_sizes=(("L1d", 48 * KiB), ("L1i", 32 * KiB), ("L2", 2 * MiB)),
        notes=("sub-NUMA clustering splits memory, not the L3: Linux still shows one L3 per package",),
    ),
    _p(
        "xeon-8480-2p",
        "Intel Xeon Platinum 8480+ 2P: 2 x 56c x SMT2, SNC off",
        "Intel(R) Xeon(R) Platinum 8480+",
        2,
        (CoreBlock(56, 2),),
        numa_per_package=1,
        l3_per_package=1,
        l3_size=105 * MiB,
        cache_sizes=(("L1d", 48 * KiB), ("L1i", 32 * KiB), ("L2", 2 * MiB)),
    ),
    _p(
        "grace",
        "NVIDIA Grace: 1 x 72c, no SMT, 1 NUMA",
        "NVIDIA Grace (Neoverse-V2)",
        1,
        (CoreBlock(72, 1),),
        l3_size=114 * MiB,
        cache_sizes=(("L1d", 64 * KiB), ("L1i", 64 * KiB), ("L2", 1 * MiB)),
        notes=("GH200 nodes add GPU memory as extra CPU-less NUMA nodes, not shown here",),
    ),
    _p(
        "grace-superchip",
        "NVIDIA Grace Superchip: 2 x 72c, no SMT, 1 NUMA per CPU",
        "NVIDIA Grace (Neoverse-V2)",
        2,
        (CoreBlock(72, 1),),
        l3_size=114 * MiB,
        cache_sizes=(("L1d", 64 * KiB), ("L1i", 64 * KiB), ("L2", 1 * MiB)),
    ),
    _p(
        "graviton3",
        "AWS Graviton3 (c7g.16xlarge): 1 x 64c, no SMT, 1 NUMA",
        "AWS Graviton3 (Neoverse-V1)",
        1,
        (CoreBlock(64, 1),),
        l3_size=32 * MiB,
        cache_sizes=(("L1d", 64 * KiB), ("L1i", 64 * KiB), ("L2", 1 * MiB)),
    ),
    _p(
        "graviton4-2p",
        "AWS Graviton4 2P (c8g.48xlarge): 2 x 96c, no SMT, 2 NUMA",
        "AWS Graviton4 (Neoverse-V2)",
        2,
        (CoreBlock(96, 1),),
        l3_size=36 * MiB,
        cache_sizes=(("L1d", 64 * KiB), ("L1i", 64 * KiB), ("L2", 2 * MiB)),
    ),
    _p(
        "altra-q80",
        "Ampere Altra Q80-30: 1 x 80c, no SMT, 1 NUMA (monolithic)",
        "Ampere Altra Q80-30 (Neoverse-N1)",
        1,
        (CoreBlock(80, 1),),
        l3_per_package=None,
        cache_sizes=(("L1d", 64 * KiB), ("L1i", 64 * KiB), ("L2", 1 * MiB)),
        notes=("the 32 MiB system-level cache is not described to Linux as a CPU cache: no L3 groups",),
    ),
    _p(
        "power10-smt8",
        "IBM POWER10 chip: 1 x 15c x SMT8, 1 NUMA",
        "POWER10 (architected), altivec supported",
        1,
        (CoreBlock(15, 8),),
        l3_per_package=15,
        l3_size=8 * MiB,
        numbering="consecutive",
        cache_sizes=(("L1d", 32 * KiB), ("L1i", 48 * KiB), ("L2", 2 * MiB)),
        notes=("POWER10 has an 8 MiB L3 region per SMT8 core",),
    ),
    _p(
        "core-i7-13700",
        "Intel Core i7-13700 hybrid: 1 x (8 P-cores x SMT2 + 8 E)",
        "13th Gen Intel(R) Core(TM) i7-13700",
        1,
        (CoreBlock(8, 2, "P"), CoreBlock(8, 1, "E")),
        l3_size=30 * MiB,
        numbering="consecutive",
        notes=("Linux numbers P-core threads 0-15 (siblings 2k, 2k+1), then E-cores 16-23",),
    ),
    _p(
        "teach-4c",
        "Teaching box (like Core i7-7700): 1 x 4c x SMT2, 1 NUMA",
        "Intel(R) Core(TM) i7-7700 CPU @ 3.60GHz",
        1,
        (CoreBlock(4, 2),),
        l3_size=8 * MiB,
        cache_sizes=(("L1d", 32 * KiB), ("L1i", 32 * KiB), ("L2", 256 * KiB)),
    ),
)

PRESETS: dict[str, Preset] = {p.name: p for p in _LIST}


def load_preset(name: str) -> Topology:
    key = name.strip().lower()
    preset = PRESETS.get(key)
    if preset is None:
        close = difflib.get_close_matches(key, list(PRESETS), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join('preset:' + c for c in close)}? " if close else ""
        raise OmpvizError(f"preset:{name}: no such preset; {hint}'ompviz presets' lists them all")
    return preset.build(f"preset:{preset.name}")
