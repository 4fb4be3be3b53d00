"""hwloc_distrib(): the same sets as ``hwloc-distrib N``.

Port of ``hwloc_distrib()`` in hwloc/include/hwloc/helper.h (hwloc 2.x), flags 0 and no ``until`` limit:

    tot_weight = sum of the roots' PU counts
    for each root i (children in order), weight = its PU count (roots with 0 PUs are skipped):
        chunk = ceil((givenweight + weight) * n / tot_weight) - ceil(givenweight * n / tot_weight)
        if root is a leaf or chunk <= 1: the next `chunk` sets are root's whole cpuset;
            a root given 0 sets is OR-ed into the previous set (so no CPU is left out)
        else recurse into root's children with `chunk`

The tree is hwloc's CPU tree as ompviz models it: Machine > Package > Die > L3 > Core > PU, children in hwloc
logical (L#) order, every cpuset restricted to the candidate CPUs (like ``hwloc-distrib --restrict``). NUMA nodes
are memory children in hwloc 2 and take no part. Levels ompviz does not model (L2 shared by several cores as on
Knights Landing tiles, Group objects such as Arm clusters) would split differently in hwloc; levels with one child
(private L2/L1) change nothing.
"""

from __future__ import annotations

from ompviz.cpuset import CpuSet
from ompviz.plan.places import ids_of, with_ids
from ompviz.topology.model import Topology


class _Node:
    __slots__ = ("mask", "children", "pus")

    def __init__(self) -> None:
        self.mask = 0
        self.children: dict[object, _Node] = {}
        self.pus: tuple[int, ...] = ()  # a core's PUs in logical order; their leaf nodes are made on demand


def _tree(topology: Topology, cpus: CpuSet) -> _Node:
    """Machine > Package > Die > L3 > Core (PU leaves made lazily: a 4,096-PU tree costs one pass over cores)."""
    root = _Node()
    bits = cpus.mask
    by_os = topology._by_os
    for core in topology.cores:  # logical order: children get created in hwloc's order
        m = core.cpus.mask & bits
        if not m:
            continue
        p = by_os[core.cpus.first]
        keys = (
            ("package", p.package),
            ("die", (p.package, p.die)) if p.die is not None else None,
            ("l3", p.l3) if p.l3 is not None else None,
        )
        node = root
        node.mask |= m
        for k in keys:
            if k is None:
                continue
            child = node.children.get(k)
            if child is None:
                child = node.children[k] = _Node()
            child.mask |= m
            node = child
        leaf = node.children[("core", core.logical_index)] = _Node()
        leaf.mask = m
        leaf.pus = tuple(sorted((c for c in core.cpus.ids if bits >> c & 1), key=lambda c: by_os[c].logical_index))
    # CPUs the topology cannot place (not online) are not part of hwloc's tree either.
    return root


def _children(node: _Node) -> list[_Node]:
    # Children in hwloc logical order: the order they first appear walking cores by L#. That is not always the
    # order of their first CPU (16em64t-4s2c2t-offlines.xml: package L#2 = {6} comes before L#3 = {3,15}).
    if node.pus:
        out = []
        for c in node.pus:
            leaf = _Node()
            leaf.mask = 1 << c
            out.append(leaf)
        return out
    return list(node.children.values())


def _distrib(roots: list[_Node], n: int, out: list[int]) -> None:
    tot = sum(r.mask.bit_count() for r in roots)
    given = givenweight = 0
    for root in roots:
        weight = root.mask.bit_count()
        if not weight:
            continue
        chunk = ((givenweight + weight) * n + tot - 1) // tot - (givenweight * n + tot - 1) // tot
        if (not root.children and not root.pus) or chunk <= 1:
            if chunk:
                out.extend([root.mask] * chunk)
            else:
                out[-1] |= root.mask  # hwloc asserts a previous set exists: the first chunk is never empty
        else:
            _distrib(_children(root), chunk, out)
        given += chunk
        givenweight += weight


def distrib(topology: Topology, n: int, cpus: CpuSet | None = None) -> list[CpuSet]:
    """n CPU sets as hwloc_distrib() would return them over ``cpus`` (default: the allowed CPUs)."""
    if n < 1:
        return []
    cpus = topology.allowed if cpus is None else cpus
    root = _tree(topology, cpus)
    if not root.mask:
        return []
    out: list[int] = []
    _distrib([root], n, out)
    return [with_ids(ids_of(m), m) for m in out]


def singlify(s: CpuSet) -> CpuSet:
    """``hwloc_bitmap_singlify``: keep only the first CPU (what ``hwloc-distrib --single`` prints)."""
    return CpuSet.from_mask(s.mask & -s.mask) if s else s
