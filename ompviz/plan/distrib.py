"""hwloc_distrib(): the same sets as ``hwloc-distrib N``.

Port of ``hwloc_distrib()`` in hwloc/include/hwloc/helper.h (hwloc 2.x), flags 0 and no ``until`` limit:

    tot_weight = sum of the roots' PU counts
    for each root i (children in order), weight = its PU count (roots with 0 PUs are skipped):
        chunk = ceil((givenweight + weight) * n / tot_weight) - ceil(givenweight * n / tot_weight)
        if root is a leaf or chunk <= 1: the next `chunk` sets are root's whole cpuset;
            a root given 0 sets is OR-ed into the previous set (so no CPU is left out)
        else recurse into root's children with `chunk`

The tree is hwloc's CPU tree: Machine > (every object the source recorded above the core: PU.levels, e.g.
Package > Die > Group(Cluster) > L3 > L2 shared by several cores) > Core > PU, children in hwloc logical (L#)
order, every cpuset restricted to the candidate CPUs (like ``hwloc-distrib --restrict``). NUMA nodes are memory
children in hwloc 2 and take no part, but the Group hwloc creates for a NUMA node whose CPUs match no other object
does (the sources record it). Objects with one child (private L2/L1) change nothing. Sources that do not record
the chain (lscpu, presets, old snapshots) give Machine > Package > Die > L3 > Core > PU; tree_warning() says so.
"""

from __future__ import annotations

from ompviz.cpuset import CpuSet
from ompviz.plan.model import PlanWarning
from ompviz.topology.model import Topology


class _Node:
    """A node of the machine's CPU tree over all its cores; plans look at it through a CPU mask (``bits``)."""

    __slots__ = ("mask", "children", "pus", "cores")

    def __init__(self) -> None:
        self.mask = 0
        self.children: dict[object, _Node] = {}
        self.pus: tuple[int, ...] = ()  # a core's PUs in logical order; their leaves are made on demand
        self.cores: list[tuple[int, int]] = []  # (position in logical order, mask) of the cores below


def _full_tree(topology: Topology) -> _Node:
    """Machine > Package > Die > L3 > Core over every core, children created in hwloc's logical order.

    Built once per topology (Topology.memo); hwloc_distrib() then only visits the few top levels it splits, so a
    4,096-PU plan no longer walks every core. CPUs the topology cannot place (not online) are not part of hwloc's
    tree either.
    """
    root = _Node()
    by_os = topology._by_os
    # A source that records hwloc's chain (PURecord.levels) leaves it empty for cores right under the Machine:
    # one PU with levels means every core's chain is known.
    known = any(p.levels for p in topology.pus)
    for pos, core in enumerate(topology.cores):  # logical order
        m = core.cpus.mask
        if not m:
            continue
        p = by_os[core.cpus.first]
        if known:  # the source recorded hwloc's whole chain of objects above the core
            keys = tuple(("level", k) for k in p.levels)
        else:
            keys = (
                ("package", p.package),
                ("die", (p.package, p.die)) if p.die is not None else None,
                ("l3", p.l3) if p.l3 is not None else None,
            )
        node = root
        node.mask |= m
        node.cores.append((pos, m))
        for k in keys:
            if k is None:
                continue
            child = node.children.get(k)
            if child is None:
                child = node.children[k] = _Node()
            child.mask |= m
            child.cores.append((pos, m))
            node = child
        leaf = node.children[("core", core.logical_index)] = _Node()
        leaf.mask = m
        leaf.cores.append((pos, m))
        leaf.pus = tuple(sorted(core.cpus.ids, key=lambda c: by_os[c].logical_index))
    return root


def _children(node: _Node, bits: int) -> list[_Node]:
    # Children in hwloc logical order over the CPUs in ``bits``: the order they first appear walking the cores (by
    # L#) that have CPUs in ``bits``. That is not always the order of their first CPU (16em64t-4s2c2t-offlines.xml:
    # package L#2 = {6} comes before L#3 = {3,15}), nor always the order over all cores (a child whose first cores
    # are all outside ``bits`` may come later), hence the sort by the first core with CPUs in ``bits``.
    if node.pus:
        out = []
        for c in node.pus:
            if bits >> c & 1:
                leaf = _Node()
                leaf.mask = 1 << c
                out.append(leaf)
        return out
    firsts = []
    for child in node.children.values():
        if child.mask & bits:
            firsts.append((next(pos for pos, m in child.cores if m & bits), child))
    firsts.sort(key=lambda pc: pc[0])
    return [c for _, c in firsts]


def _distrib(roots: list[_Node], bits: int, n: int, out: list[int]) -> None:
    tot = sum((r.mask & bits).bit_count() for r in roots)
    given = givenweight = 0
    for root in roots:
        mask = root.mask & bits
        weight = mask.bit_count()
        if not weight:
            continue
        chunk = ((givenweight + weight) * n + tot - 1) // tot - (givenweight * n + tot - 1) // tot
        if (not root.children and not root.pus) or chunk <= 1:
            if chunk:
                out.extend([mask] * chunk)
            else:
                out[-1] |= mask  # hwloc asserts a previous set exists: the first chunk is never empty
        else:
            _distrib(_children(root, bits), bits, chunk, out)
        given += chunk
        givenweight += weight


def distrib(topology: Topology, n: int, cpus: CpuSet | None = None) -> list[CpuSet]:
    """n CPU sets as hwloc_distrib() would return them over ``cpus`` (default: the allowed CPUs)."""
    if n < 1:
        return []
    cpus = topology.allowed if cpus is None else cpus
    root: _Node = topology.memo("plan.distrib_tree", _full_tree)  # type: ignore[assignment]
    bits = cpus.mask
    if not root.mask & bits:
        return []
    out: list[int] = []
    _distrib([root], bits, n, out)
    return [CpuSet.from_mask(m) for m in out]


def singlify(s: CpuSet) -> CpuSet:
    """``hwloc_bitmap_singlify``: keep only the first CPU (what ``hwloc-distrib --single`` prints)."""
    return CpuSet.from_mask(s.mask & -s.mask) if s else s


def tree_warning(topology: Topology) -> PlanWarning | None:
    """An info warning for ``--strategy distrib`` when the topology source did not record hwloc's CPU tree
    (PU.levels): the split then follows package > die > L3 only, and real ``hwloc-distrib`` may differ on machines
    with clusters, shared L2 caches or Group objects. None when the tree is known (or there is one core only)."""
    if any(p.levels for p in topology.pus) or len(topology.cores) < 2:
        return None
    return PlanWarning(
        "distrib-tree-unknown",
        "info",
        # the text must not name the source kind: a saved config replans from a snapshot and must warn identically
        "distrib: this topology source does not record hwloc's whole CPU tree (clusters, shared L2, "
        "Groups), so ranks are split over packages, dies and L3 only; `hwloc-distrib` may differ where the machine "
        "has such levels: load an lstopo XML or a sysfs dump for exact sets",
    )
