"""The topology model: packages, dies, NUMA nodes, L3 groups, cores and PUs, each with a CpuSet.

Every source (sysfs, hwloc XML, synthetic, lscpu, presets, snapshots) produces a list of ``PURecord`` and
calls ``build_topology``; logical indices, groupings and counts are derived here once, so all sources agree.

Indices:
- ``os_index`` of a PU: what the kernel, taskset and OpenMP use (hwloc ``P#``).
- ``logical_index``: hwloc ``L#``: depth-first order of the tree package > die > NUMA/L3 > core > PU where
  siblings are ordered by their first CPU (what hwloc does when it sorts children by cpuset).
- packages and NUMA nodes are named by OS index (``package``/``numa`` fields), cores and L3 groups by
  logical index (``core``/``l3``), as in ``ompviz show --format json``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ompviz.cpuset import CpuSet
from ompviz.errors import OmpvizError

MAX_PUS = 65_536


@dataclass(frozen=True, slots=True)
class PURecord:
    """What a source knows about one PU; grouping ids are the source's own keys (any hashable).

    ``core_key``/``l3_key`` must be unique machine-wide (e.g. ``(package, core_id)``); None = unknown.
    """

    os_index: int
    package: int | None = None
    die: int | None = None
    numa: int | None = None
    l3_key: object = None
    core_key: object = None
    kind: str | None = None
    online: bool = True
    allowed: bool = True


@dataclass(frozen=True, slots=True)
class PU:
    os_index: int
    logical_index: int | None  # None for offline PUs (hwloc gives them no L#)
    core: int | None  # logical index of the core
    l3: int | None  # logical index of the L3 group
    numa: int | None  # OS index of the NUMA node
    package: int | None  # OS index of the package
    die: int | None  # OS index of the die within its package, when known
    kind: str | None  # e.g. "P"/"E" (Intel hybrid), "big"/"little" (Arm), None when uniform/unknown
    online: bool
    allowed: bool


@dataclass(frozen=True, slots=True)
class Core:
    logical_index: int
    package: int | None
    numa: int | None
    l3: int | None
    kind: str | None
    cpus: CpuSet  # every PU of the core (online ones; offline PUs have no core)


@dataclass(frozen=True, slots=True)
class Group:
    """A package, die, NUMA node or L3 group."""

    kind: str  # "package" | "die" | "numa" | "l3"
    index: int  # OS index for package/die/numa, logical index for l3
    cpus: CpuSet
    size: int | None = None  # bytes: memory for NUMA nodes, cache size for L3


@dataclass(frozen=True, slots=True)
class Topology:
    name: str  # e.g. "AMD EPYC 9654 96-Core Processor" or a preset's title
    source: str  # what the user passed: "live", a path, "preset:x", "synthetic:..."
    source_kind: str  # live | sysfs | hwloc-xml | synthetic | lscpu | preset | snapshot | fallback
    pus: tuple[PU, ...]  # sorted by OS index
    cores: tuple[Core, ...]  # by logical index
    packages: tuple[Group, ...]
    dies: tuple[Group, ...]
    numa_nodes: tuple[Group, ...]
    l3s: tuple[Group, ...]
    cache_sizes: dict = field(default_factory=dict, compare=False)  # {"L1d": bytes, "L2": .., "L3": ..}
    notes: tuple[str, ...] = ()  # e.g. "best-effort model from psutil: no NUMA/L3 information"
    _by_os: dict = field(default_factory=dict, compare=False, repr=False)

    # -- sets ------------------------------------------------------------------------------------
    @property
    def all_cpus(self) -> CpuSet:
        return CpuSet(p.os_index for p in self.pus)

    @property
    def online(self) -> CpuSet:
        return CpuSet(p.os_index for p in self.pus if p.online)

    @property
    def allowed(self) -> CpuSet:
        """Online and allowed: the CPUs a plan may use."""
        return CpuSet(p.os_index for p in self.pus if p.online and p.allowed)

    @property
    def offline(self) -> CpuSet:
        return CpuSet(p.os_index for p in self.pus if not p.online)

    @property
    def disallowed(self) -> CpuSet:
        return CpuSet(p.os_index for p in self.pus if p.online and not p.allowed)

    @property
    def kinds(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for p in self.pus:
            if p.kind:
                seen.setdefault(p.kind, None)
        return tuple(seen)

    @property
    def smt(self) -> int:
        """Largest number of PUs in one core."""
        return max((len(c.cpus) for c in self.cores), default=1)

    # -- lookups ---------------------------------------------------------------------------------
    def pu(self, os_index: int) -> PU:
        try:
            return self._by_os[os_index]
        except KeyError:
            raise OmpvizError(f"CPU {os_index} does not exist on {self.name}") from None

    def has_pu(self, os_index: int) -> bool:
        return os_index in self._by_os

    def core_of(self, os_index: int) -> Core | None:
        c = self.pu(os_index).core
        return None if c is None else self.cores[c]

    def siblings(self, os_index: int) -> CpuSet:
        """SMT siblings of a PU, itself included."""
        core = self.core_of(os_index)
        return core.cpus if core else CpuSet([os_index])

    def numa_cpus(self, os_index: int) -> CpuSet:
        return _find(self.numa_nodes, os_index, "NUMA node")

    def l3_cpus(self, logical_index: int) -> CpuSet:
        return _find(self.l3s, logical_index, "L3 group")

    def package_cpus(self, os_index: int) -> CpuSet:
        return _find(self.packages, os_index, "package")

    def logical_to_os(self, logical: Iterable[int]) -> CpuSet:
        order = self.logical_order
        out = []
        for i in logical:
            if not 0 <= i < len(order):
                raise OmpvizError(f"logical PU L#{i} does not exist: this machine has L#0-L#{len(order) - 1}")
            out.append(order[i])
        return CpuSet(out)

    def os_to_logical(self, cpus: Iterable[int]) -> list[int]:
        out = []
        for c in cpus:
            li = self.pu(c).logical_index
            if li is None:
                raise OmpvizError(f"CPU {c} is offline and has no logical index")
            out.append(li)
        return out

    @property
    def logical_order(self) -> tuple[int, ...]:
        """OS indices in logical (L#) order, online PUs only."""
        return tuple(
            p.os_index
            for p in sorted((p for p in self.pus if p.logical_index is not None), key=lambda p: p.logical_index)
        )

    def summary(self) -> dict:
        """Counts of online PUs and the objects holding them (the keys of ``show --format json``)."""
        online = self.online
        return {
            "name": self.name,
            "source": self.source,
            "source_kind": self.source_kind,
            "packages": sum(1 for g in self.packages if g.cpus & online),
            "numa_nodes": sum(1 for g in self.numa_nodes if g.cpus & online),
            "l3_caches": sum(1 for g in self.l3s if g.cpus & online),
            "cores": sum(1 for c in self.cores if c.cpus & online),
            "pus": len(online),
        }


def _find(groups: tuple[Group, ...], index: int, what: str) -> CpuSet:
    for g in groups:
        if g.index == index:
            return g.cpus
    raise OmpvizError(f"{what} {index} does not exist")


def _first(s: set[int]) -> int:
    return min(s) if s else 1 << 30


def build_topology(
    records: Iterable[PURecord],
    *,
    name: str,
    source: str,
    source_kind: str,
    cache_sizes: dict | None = None,
    numa_sizes: dict[int, int] | None = None,
    l3_sizes: dict[object, int] | None = None,
    notes: Iterable[str] = (),
) -> Topology:
    """Derive the whole model from per-PU records (the single place where logical indices are made)."""
    recs = sorted(records, key=lambda r: r.os_index)
    if not recs:
        raise OmpvizError(f"{source}: no CPUs found")
    if len(recs) > MAX_PUS:
        raise OmpvizError(f"{source}: {len(recs)} PUs is more than ompviz handles ({MAX_PUS})")
    seen: set[int] = set()
    for r in recs:
        if r.os_index in seen:
            raise OmpvizError(f"{source}: CPU {r.os_index} is listed twice")
        seen.add(r.os_index)
    if not any(r.online for r in recs):
        raise OmpvizError(f"{source}: every CPU is offline")

    online = [r for r in recs if r.online]

    # Group members (online PUs only: offline PUs belong to no object, as in hwloc).
    def members(key) -> dict[object, set[int]]:
        d: dict[object, set[int]] = {}
        for r in online:
            k = key(r)
            if k is not None:
                d.setdefault(k, set()).add(r.os_index)
        return d

    pkg_m = members(lambda r: r.package)
    die_m = members(lambda r: None if r.die is None else (r.package, r.die))
    numa_m = members(lambda r: r.numa)
    l3_m = members(lambda r: r.l3_key)
    core_m = members(lambda r: r.core_key if r.core_key is not None else ("pu", r.os_index))

    # Depth-first order = sort by (first CPU of package, of die, of NUMA-or-L3, of core, os index).
    # Comparing first CPUs level by level is exactly hwloc's child ordering by cpuset. First CPUs and sizes are
    # computed once per group: per PU it made building a 65,536-PU machine quadratic.
    pkg_first = {k: _first(v) for k, v in pkg_m.items()}
    die_first = {k: _first(v) for k, v in die_m.items()}
    numa_first = {k: (_first(v), len(v)) for k, v in numa_m.items()}
    l3_first = {k: (_first(v), len(v)) for k, v in l3_m.items()}
    core_first = {k: _first(v) for k, v in core_m.items()}
    unknown = (0, 0)

    def dfs_key(r: PURecord):
        pkg = pkg_first.get(r.package, 1 << 30)
        die = die_first.get((r.package, r.die), 1 << 30) if r.die is not None else 0
        numa, n_sz = numa_first.get(r.numa, unknown) if r.numa is not None else unknown
        l3, l_sz = l3_first.get(r.l3_key, unknown) if r.l3_key is not None else unknown
        # whichever of NUMA/L3 is larger encloses the other
        mid = (numa, l3) if n_sz >= l_sz else (l3, numa)
        core_k = r.core_key if r.core_key is not None else ("pu", r.os_index)
        return (pkg, die, *mid, core_first[core_k], r.os_index)

    ordered = sorted(online, key=dfs_key)
    logical = {r.os_index: i for i, r in enumerate(ordered)}

    core_index: dict[object, int] = {}
    for r in ordered:
        k = r.core_key if r.core_key is not None else ("pu", r.os_index)
        core_index.setdefault(k, len(core_index))
    l3_index: dict[object, int] = {}
    for r in ordered:
        if r.l3_key is not None:
            l3_index.setdefault(r.l3_key, len(l3_index))

    pus = []
    for r in recs:
        if r.online:
            ck = r.core_key if r.core_key is not None else ("pu", r.os_index)
            pus.append(
                PU(
                    r.os_index,
                    logical[r.os_index],
                    core_index[ck],
                    None if r.l3_key is None else l3_index[r.l3_key],
                    r.numa,
                    r.package,
                    r.die,
                    r.kind,
                    True,
                    r.allowed,
                )
            )
        else:
            pus.append(PU(r.os_index, None, None, None, None, None, None, r.kind, False, r.allowed))

    by_core: dict[int, list[PURecord]] = {}
    for r in ordered:
        ck = r.core_key if r.core_key is not None else ("pu", r.os_index)
        by_core.setdefault(core_index[ck], []).append(r)
    cores = tuple(
        Core(
            i,
            rs[0].package,
            rs[0].numa,
            None if rs[0].l3_key is None else l3_index[rs[0].l3_key],
            rs[0].kind,
            CpuSet(x.os_index for x in rs),
        )
        for i, rs in sorted(by_core.items())
    )

    numa_sizes = numa_sizes or {}
    l3_sizes = l3_sizes or {}
    packages = tuple(Group("package", k, CpuSet(v)) for k, v in sorted(pkg_m.items(), key=lambda kv: kv[0]))
    dies = tuple(Group("die", k[1], CpuSet(v)) for k, v in sorted(die_m.items(), key=lambda kv: _first(kv[1])))
    numas = tuple(Group("numa", k, CpuSet(v), numa_sizes.get(k)) for k, v in sorted(numa_m.items()))
    l3s = tuple(
        Group("l3", l3_index[k], CpuSet(v), l3_sizes.get(k) or (cache_sizes or {}).get("L3"))
        for k, v in sorted(l3_m.items(), key=lambda kv: l3_index[kv[0]])
    )
    topo = Topology(
        name=name,
        source=source,
        source_kind=source_kind,
        pus=tuple(pus),
        cores=cores,
        packages=packages,
        dies=dies,
        numa_nodes=numas,
        l3s=l3s,
        cache_sizes=dict(cache_sizes or {}),
        notes=tuple(notes),
    )
    topo._by_os.update((p.os_index, p) for p in pus)
    return topo
