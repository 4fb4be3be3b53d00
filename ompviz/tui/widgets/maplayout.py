"""Geometry of the topology map: which text cell sits where, for a width, a fold level and a numbering.

Pure (no Textual): the map widget turns these cells into styled strips and looks cells up for the mouse.
Hierarchy drawn: package header line, then blocks of cores that share (package, NUMA node, L3, core kind),
flowed left to right. Fold levels, finest first:

- ``pu``   one column per core, one row per SMT sibling: every PU's number is visible;
- ``core`` one cell per core (its first PU's number);
- ``l3``   one cell per block (L3 group of one NUMA node and one core kind) with its CPU list;
- ``numa`` one cell per NUMA node (or package when NUMA is unknown) with its CPU list.
"""

from __future__ import annotations

import bisect
import math
from typing import NamedTuple

from ompviz.cpuset import CpuSet
from ompviz.topology.model import Core, Topology

LEVELS = ("pu", "core", "l3", "numa")
LEVEL_NAMES = {"pu": "PU", "core": "core", "l3": "L3", "numa": "NUMA"}


# Immutable records as NamedTuples rather than frozen dataclasses: the explorer's start-up is benchmarked (issue 4)
# and generating a frozen dataclass costs ~1 ms at import; building the 4,096-PU layout makes ~5,000 Cells, which
# a NamedTuple also constructs faster.
_NO_CPUS = CpuSet()


class Cell(NamedTuple):
    x: int
    width: int  # columns, including the trailing mark column for data cells
    text: str
    role: str  # header | label | pu | core | l3 | numa | offline
    cpus: CpuSet = _NO_CPUS  # OS indices this cell stands for
    pu: int | None = None  # OS index when the cell is one PU


class MapLayout(NamedTuple):
    level: str
    numbering: str  # "os" | "logical"
    width: int
    lines: tuple[tuple[Cell, ...], ...]
    starts: tuple[tuple[int, ...], ...] = ()  # per line, each cell's x (for bisect in cell_at)

    @property
    def height(self) -> int:
        return len(self.lines)

    def cell_at(self, x: int, y: int) -> Cell | None:
        if not 0 <= y < len(self.lines):
            return None
        starts = self.starts[y]
        i = bisect.bisect_right(starts, x) - 1
        if i < 0:
            return None
        cell = self.lines[y][i]
        return cell if x < cell.x + cell.width else None


def _number(topo: Topology, os_index: int, numbering: str) -> str:
    if numbering == "logical":
        li = topo.pu(os_index).logical_index
        return "-" if li is None else str(li)
    return str(os_index)


def _cpus_text(topo: Topology, cpus: CpuSet, numbering: str) -> str:
    if numbering == "logical":
        return CpuSet(topo.os_to_logical(cpus)).to_list()
    return cpus.to_list()


def _blocks(topo: Topology) -> list[tuple[object, list[list[Core]]]]:
    """[(package id, [block of cores sharing package/NUMA/L3/kind, ...])] in logical order."""
    out: list[tuple[object, list[list[Core]]]] = []
    last_key = object()
    for core in topo.cores:
        if not out or out[-1][0] != core.package:
            out.append((core.package, []))
            last_key = object()
        key = (core.numa, core.l3, core.kind)
        if key != last_key:
            out[-1][1].append([])
            last_key = key
        out[-1][1][-1].append(core)
    return out


def _block_label(core: Core) -> str:
    parts = []
    if core.numa is not None:
        parts.append(f"NUMA {core.numa}")
    if core.l3 is not None:
        parts.append(f"L3 #{core.l3}")
    if core.kind:
        parts.append(f"{core.kind}-cores" if len(core.kind) <= 2 else core.kind)
    return " · ".join(parts) or "cores"


def _package_header(topo: Topology, pkg: object, blocks: list[list[Core]]) -> str:
    cores = [c for b in blocks for c in b]
    cpus = CpuSet.union_all(c.cpus for c in cores)
    numas = sorted({c.numa for c in cores if c.numa is not None})
    l3s = {c.l3 for c in cores if c.l3 is not None}
    head = "Machine" if pkg is None else f"Package P#{pkg}"
    parts = [f"{len(cores)} cores", f"{len(cpus)} PUs"]
    if numas:
        parts.append(("NUMA " if len(numas) == 1 else "NUMA nodes ") + CpuSet(numas).to_list())
    if l3s:
        parts.append(f"{len(l3s)} L3")
    return f"{head}: " + ", ".join(parts)


def _flow(items: list[tuple[int, list[list[Cell]]]], width: int) -> list[list[Cell]]:
    """Place blocks (width, lines of cells at x relative to the block) left to right, wrapping rows."""
    lines: list[list[Cell]] = []
    row: list[tuple[int, list[list[Cell]]]] = []
    x = 0

    def flush() -> None:
        if not row:
            return
        height = max(len(b[1]) for b in row)
        out = [[] for _ in range(height)]
        for bx, blines in row:
            for i, cells in enumerate(blines):
                out[i].extend(_shift(c, bx) for c in cells)
        lines.extend(out)

    for bw, blines in items:
        if row and x + bw > width:
            flush()
            row = []
            x = 0
        row.append((x, blines))
        x += bw + 1  # one blank column between blocks
    flush()
    return lines


def _shift(c: Cell, dx: int) -> Cell:
    return Cell(c.x + dx, c.width, c.text, c.role, c.cpus, c.pu)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def build_layout(topo: Topology, width: int, level: str = "pu", numbering: str = "os") -> MapLayout:
    """Lay the machine out in ``width`` columns at fold ``level`` (see module doc)."""
    width = max(width, 8)
    online = [p.os_index for p in topo.pus if p.online]
    digits = max(len(_number(topo, c, numbering)) for c in online) if online else 1
    cellw = digits + 1  # number + one mark column (reserved/disallowed/... or blank)
    lines: list[list[Cell]] = []

    for pkg, blocks in _blocks(topo):
        lines.append([Cell(0, 0, _fit(_package_header(topo, pkg, blocks), width), "header")])
        items: list[tuple[int, list[list[Cell]]]] = []
        if level in ("pu", "core"):
            for block in blocks:
                items.append(_core_block(topo, block, width, cellw, level, numbering))
        elif level == "l3":
            one_numa = len({c.numa for b in blocks for c in b}) == 1
            for block in blocks:
                cpus = CpuSet.union_all(c.cpus for c in block)
                label = _block_label(block[0]).replace("NUMA ", "N").replace("L3 #", "L3#")
                if one_numa and block[0].numa is not None:
                    label = label.split(" · ", 1)[-1]  # the package header already names its only NUMA node
                text = _fit(f"{label}: {_cpus_text(topo, cpus, numbering)}", width - 1)
                items.append((len(text) + 1, [[Cell(0, len(text) + 1, text, "l3", cpus)]]))
        else:
            by_numa: dict[object, CpuSet] = {}
            for block in blocks:
                for c in block:
                    by_numa[c.numa] = by_numa.get(c.numa, CpuSet()) | c.cpus
            for numa, cpus in by_numa.items():
                label = "all" if numa is None else f"NUMA {numa}"
                text = _fit(f"{label}: {_cpus_text(topo, cpus, numbering)}", width - 1)
                items.append((len(text) + 1, [[Cell(0, len(text) + 1, text, "numa", cpus)]]))
        lines.extend(_flow(items, width))

    offline = [p.os_index for p in topo.pus if not p.online]
    if offline:
        lines.append([Cell(0, 0, _fit(f"Offline PUs: {CpuSet(offline).to_list()}", width), "header")])
        if level == "pu":
            ow = max(len(str(c)) for c in offline) + 1
            per = max(1, width // ow)
            for i in range(0, len(offline), per):
                lines.append(
                    [Cell(k * ow, ow, str(c), "offline", CpuSet([c]), c) for k, c in enumerate(offline[i : i + per])]
                )

    final = []
    for cells in lines:
        fixed = tuple(c if c.width else Cell(c.x, len(c.text), c.text, c.role, c.cpus, c.pu) for c in cells)
        final.append(fixed)
    starts = tuple(tuple(c.x for c in cells) for cells in final)
    return MapLayout(level, numbering, width, tuple(final), starts)


def _core_block(
    topo: Topology, block: list[Core], width: int, cellw: int, level: str, numbering: str
) -> tuple[int, list[list[Cell]]]:
    n = len(block)
    max_per_row = max(1, width // cellw)
    rows = math.ceil(n / max_per_row)
    per_row = math.ceil(n / rows)  # balanced rows rather than a long row and a stub
    smt = max(len(c.cpus) for c in block) if level == "pu" else 1
    label = _block_label(block[0])
    if level == "pu":
        # Say what a column is, so wrapped rows of cores are never mistaken for SMT siblings.
        per_core = f"{smt} PU{'s' if smt > 1 else ''}/core"
        if rows > 1 or len(label) + len(per_core) + 3 <= per_row * cellw:
            label += f" · {per_core}"
    bw = min(width, max(per_row * cellw, len(label)))
    out: list[list[Cell]] = [[Cell(0, 0, _fit(label, bw), "label", CpuSet.union_all(c.cpus for c in block))]]
    for r in range(rows):
        if r and smt > 1:
            out.append([])  # blank line between wrapped groups of SMT rows
        chunk = block[r * per_row : (r + 1) * per_row]
        for s in range(smt):
            cells = []
            for k, core in enumerate(chunk):
                ids = core.cpus.ids
                if level == "core":
                    # logical: the core's own L# (0 1 2 ...), not its first PU's L# (0 2 4 ... with SMT2);
                    # OS: the first PU's P# (hwloc core P#s repeat across packages and are not CPU numbers)
                    if numbering == "logical":
                        text = str(core.logical_index)
                    else:
                        text = _number(topo, min(ids), numbering)
                    cells.append(Cell(k * cellw, cellw, text, "core", core.cpus))
                elif s < len(ids):
                    cpu = ids[s]
                    cells.append(Cell(k * cellw, cellw, _number(topo, cpu, numbering), "pu", CpuSet([cpu]), cpu))
            out.append(cells)
    return bw, out


def auto_level(topo: Topology, width: int, height: int, numbering: str = "os") -> str:
    """The finest fold level whose layout fits ``height`` lines (the coarsest when none fits)."""
    for level in LEVELS:
        if build_layout(topo, width, level, numbering).height <= height:
            return level
    return LEVELS[-1]
