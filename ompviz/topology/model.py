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

from collections.abc import Callable, Iterable
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
    # hwloc's CPU-tree ancestors of this PU's core below the Machine, outermost first (Package, Die, Groups such as
    # Arm clusters or NUMA-derived groups, caches...), each a hashable key unique machine-wide. Only the shape of
    # the tree matters (hwloc_distrib() splits at objects with several children); an object whose CPUs equal its
    # parent's may be listed or not. () = the source does not know: the tree is package > die > L3 then.
    levels: tuple[object, ...] = ()


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
    levels: tuple[object, ...] = ()  # PURecord.levels; () for offline PUs and sources that do not know


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
    # Derived lookups (TopologyIndex), built on first use: the planner re-plans on every keystroke in the TUI
    # and must not rebuild sets from every PU each time. A dict because the dataclass is frozen.
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def index(self) -> TopologyIndex:
        """Per-topology lookups computed once (sets, masks, per-core lists, SMT layout); see TopologyIndex."""
        idx = self._memo.get("index")
        # dataclasses.replace() shares the memo dict with the copy: only trust it for the very same objects
        if idx is None or not idx.made_from(self):
            idx = TopologyIndex(self)
            self._memo["index"] = idx
        return idx

    def memo(self, key: object, compute: Callable[[Topology], object]) -> object:
        """``compute(self)`` cached on this topology under ``key``: for values derived only from the topology
        (e.g. the places an abstract OMP_PLACES name expands to). Keys must come from a small fixed set."""
        idx = self.index  # validates the memo against this topology's PUs first
        try:
            return idx.extra[key]
        except KeyError:
            v = idx.extra[key] = compute(self)
            return v

    # -- sets ------------------------------------------------------------------------------------
    @property
    def all_cpus(self) -> CpuSet:
        return self.index.all_cpus

    @property
    def online(self) -> CpuSet:
        return self.index.online

    @property
    def allowed(self) -> CpuSet:
        """Online and allowed: the CPUs a plan may use."""
        return self.index.allowed

    @property
    def offline(self) -> CpuSet:
        return self.index.offline

    @property
    def disallowed(self) -> CpuSet:
        return self.index.disallowed

    @property
    def kinds(self) -> tuple[str, ...]:
        return self.index.kinds

    @property
    def smt(self) -> int:
        """Largest number of PUs in one core."""
        return self.index.smt

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
        return self.index.logical_order

    def summary(self) -> dict:
        """Counts of online PUs and the objects holding them (the keys of ``show --format json``)."""
        idx = self.index
        return {
            "name": self.name,
            "source": self.source,
            "source_kind": self.source_kind,
            "packages": idx.n_packages,
            "numa_nodes": idx.n_numa_nodes,
            "l3_caches": idx.n_l3s,
            "cores": idx.n_cores,
            "pus": idx.online_mask.bit_count(),
        }


class TopologyIndex:
    """Lookups derived from one topology, computed once (``Topology.index``) instead of per call.

    CPU sets are kept both as CpuSets (shared: CpuSet is immutable) and as int masks for mask algebra. The SMT
    layout is kept as *shapes*: cores grouped by the offsets of their PUs from their first PU (``(1,)`` for
    siblings N, N+1; ``(2048,)`` for N, N+2048; ``()`` for single-PU cores), each with the mask of those cores'
    first PUs. Per-core questions about a mask (which cores it touches, which PU of each core to keep) then cost a
    few big-int operations per shape instead of a Python loop over every core.
    """

    __slots__ = (
        "_src",
        "all_mask",
        "online_mask",
        "allowed_mask",
        "offline_mask",
        "disallowed_mask",
        "all_cpus",
        "online",
        "allowed",
        "offline",
        "disallowed",
        "kinds",
        "smt",
        "logical_order",
        "n_packages",
        "n_numa_nodes",
        "n_l3s",
        "n_cores",
        "core_masks",
        "core_package",
        "core_numa",
        "core_l3",
        "covered",
        "shapes",
        "core_at_first",
        "extra",
        "_attr",
        "_sets",
        "_singles",
    )

    def __init__(self, t: Topology) -> None:
        self._src = (t.pus, t.cores, t.packages, t.dies, t.numa_nodes, t.l3s)
        pus = t.pus
        self.all_mask = _mask([p.os_index for p in pus])
        self.online_mask = _mask([p.os_index for p in pus if p.online])
        self.allowed_mask = _mask([p.os_index for p in pus if p.online and p.allowed])
        self.offline_mask = self.all_mask & ~self.online_mask
        self.disallowed_mask = self.online_mask & ~self.allowed_mask
        self.all_cpus = CpuSet.from_mask(self.all_mask)
        self.online = CpuSet.from_mask(self.online_mask)
        self.allowed = CpuSet.from_mask(self.allowed_mask)
        self.offline = CpuSet.from_mask(self.offline_mask)
        self.disallowed = CpuSet.from_mask(self.disallowed_mask)
        self.kinds = tuple(dict.fromkeys(p.kind for p in pus if p.kind))
        self.smt = max((len(c.cpus) for c in t.cores), default=1)
        self.logical_order = tuple(
            p.os_index for p in sorted((p for p in pus if p.logical_index is not None), key=lambda p: p.logical_index)
        )
        on = self.online_mask
        self.n_packages = sum(1 for g in t.packages if g.cpus.mask & on)
        self.n_numa_nodes = sum(1 for g in t.numa_nodes if g.cpus.mask & on)
        self.n_l3s = sum(1 for g in t.l3s if g.cpus.mask & on)
        self.n_cores = sum(1 for c in t.cores if c.cpus.mask & on)
        self.core_masks = tuple(c.cpus.mask for c in t.cores)
        self.core_package = tuple(c.package for c in t.cores)
        self.core_numa = tuple(c.numa for c in t.cores)
        self.core_l3 = tuple(c.l3 for c in t.cores)
        covered = 0
        shapes: dict[tuple[int, ...], list[int]] = {}
        self.core_at_first: dict[int, int] = {}  # first CPU of a core -> its position in cores
        for k, c in enumerate(t.cores):
            ids = c.cpus.ids
            if ids:
                f = ids[0]
                shapes.setdefault(tuple(i - f for i in ids[1:]), []).append(f)
                self.core_at_first[f] = k
        for core_mask in self.core_masks:
            covered |= core_mask
        self.covered = covered
        self.shapes = tuple((offs, _mask(firsts)) for offs, firsts in shapes.items())
        self.extra: dict = {}
        self._attr: dict = {}
        self._sets: dict[tuple[str, object], CpuSet] = {}
        self._singles: dict[int, CpuSet] = {}

    def made_from(self, t: Topology) -> bool:
        src = self._src
        return (
            src[0] is t.pus
            and src[1] is t.cores
            and src[2] is t.packages
            and src[3] is t.dies
            and src[4] is t.numa_nodes
            and src[5] is t.l3s
        )

    # -- cores -----------------------------------------------------------------------------------
    def core_closure(self, mask: int) -> int:
        """Every PU of every core that has a PU in ``mask`` (CPUs in no core are dropped)."""
        out = 0
        for offs, firsts in self.shapes:
            hit = mask & firsts
            for d in offs:
                hit |= (mask >> d) & firsts
            if hit:
                out |= hit
                for d in offs:
                    out |= hit << d
        return out

    def cores_in(self, mask: int) -> tuple[list[int], set[int]]:
        """Positions in ``cores`` (ascending) of the cores with a CPU in ``mask``, and those lying wholly in it."""
        touched = whole = 0
        for offs, firsts in self.shapes:
            t = w = mask & firsts
            for d in offs:
                present = (mask >> d) & firsts
                t |= present
                w &= present
            touched |= t
            whole |= w
        at = self.core_at_first.__getitem__
        return sorted(map(at, CpuSet.from_mask(touched).ids)), set(map(at, CpuSet.from_mask(whole).ids))

    def one_per_core(self, mask: int, last: bool = False) -> int:
        """Of each core keep only the lowest (``last``: highest) CPU of ``mask`` in it; CPUs in no core stay."""
        keep = 0
        for offs, firsts in self.shapes:
            pending = firsts
            for d in reversed((0, *offs)) if last else (0, *offs):
                present = (mask >> d) & pending
                if present:
                    keep |= present << d
                    pending &= ~present
        return keep | (mask & ~self.covered)

    # -- per-PU attributes -------------------------------------------------------------------------
    def attr_groups(self, attr: str) -> tuple[dict[int, object], dict[object, int], int]:
        """For a PU attribute (``core``, ``l3``, ``numa``, ``package``, ``die``): {os index: value} and
        {value: mask of the PUs with it} over the PUs whose value is not None, and the mask of those PUs."""
        got = self._attr.get(attr)
        if got is None:
            value_of: dict[int, object] = {}
            members: dict[object, list[int]] = {}
            for p in self._src[0]:
                v = getattr(p, attr)
                if v is not None:
                    value_of[p.os_index] = v
                    members.setdefault(v, []).append(p.os_index)
            got = (value_of, {v: _mask(ids) for v, ids in members.items()}, _mask(list(value_of)))
            self._attr[attr] = got
        return got

    def attr_set(self, attr: str, value: object) -> CpuSet:
        """Every PU whose ``attr`` is ``value`` (see attr_groups), as a CpuSet shared between calls."""
        key = (attr, value)
        s = self._sets.get(key)
        if s is None:
            s = self._sets[key] = CpuSet.from_mask(self.attr_groups(attr)[1][value])
        return s

    @property
    def singles(self) -> dict[int, CpuSet]:
        """{os index: the one-CPU set of it} for every PU of the topology (the sets single() hands out)."""
        if len(self._singles) < len(self._src[0]):
            for p in self._src[0]:
                self.single(p.os_index)
        return self._singles

    def attr_sets(self, attr: str) -> dict[object, CpuSet]:
        """{value: attr_set(attr, value)} for every value of ``attr``."""
        key = ("sets", attr)
        got = self._attr.get(key)
        if got is None:
            got = self._attr[key] = {v: self.attr_set(attr, v) for v in self.attr_groups(attr)[1]}
        return got

    @property
    def cores_are_pu_groups(self) -> bool:
        """Whether ``cores[k].cpus`` is exactly the PUs whose ``core`` is k, for every core (true for every topology
        build_topology makes): then core_closure() and attr_groups("core") describe the same cores."""
        got = self._attr.get("cores-match")
        if got is None:
            masks = self.attr_groups("core")[1]
            got = self._attr["cores-match"] = len(masks) == len(self.core_masks) and all(
                masks.get(k) == m for k, m in enumerate(self.core_masks)
            )
        return got

    def single(self, cpu: int) -> CpuSet:
        """The one-CPU set {cpu}, shared between calls for the topology's own PUs."""
        s = self._singles.get(cpu)
        if s is None:
            s = CpuSet.from_mask(1 << cpu)
            if self.all_mask >> cpu & 1:
                self._singles[cpu] = s
        return s


def _mask(ids: list[int]) -> int:
    return CpuSet(ids).mask


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
                    r.levels,
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
