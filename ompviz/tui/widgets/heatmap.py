"""The live heatmap: the explorer's topology map (same layout, folding, numbering, scrolling, mouse) with each cell
shaded by CPU utilisation and marked with the OpenMP threads that last ran on it.

Cell look (a PU cell is its number plus one mark column, e.g. ``12`` + mark):
- the number keeps the map's numbering (OS P# or logical L#) and stays readable: black or white text, whichever
  contrasts with the heat colour behind it;
- the background is the CPU's utilisation over the last interval (the whole machine's /proc/stat, so other load
  shows too), on a 6-step ramp of xterm-256 cube colours: they render exactly in 256-colour terminals, truecolor
  adds nothing to lose, and being data colours they stay the same in every theme (like the rank palette);
- the mark column is the OpenMP thread number on the rank's colour (the explorer's palette): superscript
  ``⁰``-``⁹`` then ``a``-``z`` for threads 10-35, ``#`` beyond, ``+`` when several threads last ran there (the
  table has them all). "r0t3" would not fit a 3-column cell on a 384-PU machine; rank = colour, thread = a
  superscript does, and a superscript cannot be misread as part of the OS number next to it.
Offline and disallowed PUs keep the explorer's marks; a reserved PU without a thread keeps ``r``.
Folded cells (core, L3, NUMA) show the mean utilisation of their CPUs and ``+``/digit for threads on them.

PU and core cells are one column wider than the explorer's and start with a blank, unshaded column: in the explorer
the mark column is usually blank and separates the numbers, here it holds a thread mark, and without the gap the
cells of a 2-CPU machine read ``0⁰1⁰`` (and ``9+10`` on a 2-digit one). The shared layout has no gap option, so the
map is laid out as if OS/logical numbers had one more digit (:class:`_OneMoreDigit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.style import Style
from rich.text import Text

from ompviz.cpuset import CpuSet
from ompviz.live.sampler import Sample
from ompviz.topology.model import PU, Topology
from ompviz.tui.widgets.maplayout import Cell, MapLayout, build_layout
from ompviz.tui.widgets.topomap import MARKS, PALETTE, TopologyMap

# (lower bound in %, background, text colour). All from the xterm 256-colour cube (levels 00 5f 87 af d7 ff).
HEAT_RAMP = (
    (5.0, "#005faf", "#ffffff"),  # blue
    (25.0, "#008787", "#ffffff"),  # teal
    (45.0, "#5faf00", "#000000"),  # green
    (65.0, "#d7af00", "#000000"),  # amber
    (85.0, "#d75f00", "#000000"),  # orange
    (95.0, "#d70000", "#ffffff"),  # red: saturated
)
IDLE_BELOW = HEAT_RAMP[0][0]
# Superscript digits read as annotations next to the OS number ("12³" = thread 3 on CPU 12), where plain digits
# would run into the number ("123"); threads 10-35 get letters, which cannot be mistaken for an OS number either.
THREAD_DIGITS = "⁰¹²³⁴⁵⁶⁷⁸⁹abcdefghijklmnopqrstuvwxyz"


def heat_style(util: float) -> Style | None:
    """The heat colour for a utilisation in percent; None below :data:`IDLE_BELOW` (drawn as an idle cell)."""
    chosen = None
    for lo, bg, fg in HEAT_RAMP:
        if util >= lo:
            chosen = Style(color=fg, bgcolor=bg)
    return chosen


def thread_mark(threads: tuple[tuple[int, int], ...]) -> str:
    """Mark for the (rank, OpenMP thread) pairs on one cell: a digit/letter for one thread, '+' for several."""
    if not threads:
        return " "
    if len(threads) > 1:
        return "+"
    t = threads[0][1]
    return THREAD_DIGITS[t] if 0 <= t < len(THREAD_DIGITS) else "#"


@dataclass(frozen=True, slots=True)
class HeatState:
    """Everything the heat colours depend on: an immutable snapshot built from one Sample on the UI thread."""

    util: tuple[float | None, ...] = ()  # index = OS CPU id (Sample.cpu_util)
    on_cpu: dict = field(default_factory=dict)  # cpu -> ((rank, omp thread), ...) that last ran there
    reserve: CpuSet = field(default_factory=CpuSet)
    planned: CpuSet = field(default_factory=CpuSet)  # the selected thread's planned place (underlined)
    current: CpuSet = field(default_factory=CpuSet)  # the CPU the selected thread is on (reversed)

    @classmethod
    def from_sample(cls, sample: Sample | None, reserve: CpuSet | None = None, **kw) -> HeatState:
        reserve = reserve or CpuSet()
        if sample is None:
            return cls(reserve=reserve, **kw)
        on: dict[int, list[tuple[int, int]]] = {}
        for w in sample.workers:
            if not w.alive:
                continue
            for t in w.threads:
                if t.cpu is not None and t.omp_thread is not None:
                    on.setdefault(t.cpu, []).append((w.rank, t.omp_thread))
        return cls(sample.cpu_util, {c: tuple(sorted(v)) for c, v in on.items()}, reserve, **kw)

    def util_of(self, cpus: CpuSet) -> float | None:
        vals = [self.util[c] for c in cpus if c < len(self.util) and self.util[c] is not None]
        return sum(vals) / len(vals) if vals else None

    def threads_on(self, cpus: CpuSet) -> tuple[tuple[int, int], ...]:
        out: list[tuple[int, int]] = []
        for c in cpus:
            out.extend(self.on_cpu.get(c, ()))
        return tuple(sorted(out))


def heat_legend() -> Text:
    """One line explaining the ramp and the marks."""
    t = Text()
    t.append("CPU busy ", "bold")
    t.append(f" <{IDLE_BELOW:.0f}% ", "reverse dim")
    bounds = [lo for lo, _, _ in HEAT_RAMP] + [100.0]
    for i, (lo, bg, fg) in enumerate(HEAT_RAMP):
        hi = bounds[i + 1]
        label = f" {lo:.0f}+% " if hi >= 100 else f" {lo:.0f}-{hi:.0f} "
        t.append(label, Style(color=fg, bgcolor=bg))
    t.append("  mark: ", "bold")
    t.append("³", Style(color="#000000", bgcolor=PALETTE[0]))
    t.append(" OpenMP thread 3 (colour = rank)  ", "dim")
    t.append("+", "bold")
    t.append(" several  ", "dim")
    for name, what in (("reserved", "reserved"), ("disallowed", "disallowed"), ("offline", "offline")):
        t.append(MARKS[name], "bold")
        t.append(f" {what}  ", "dim")
    return t


class _OneMoreDigit:
    """A read-only view of a Topology with one extra online PU whose OS and logical numbers have one more digit
    than any real one. It belongs to no core, so it is never drawn; it only makes ``build_layout`` size every PU and
    core cell one column wider (cell width = widest number + mark column). Everything else is the real topology."""

    __slots__ = ("_topo", "pus", "_extra")

    def __init__(self, topo: Topology) -> None:
        online = [p for p in topo.pus if p.online]
        max_os = max((p.os_index for p in online), default=0)
        max_li = max((p.logical_index for p in online if p.logical_index is not None), default=0)
        extra = PU(10 ** len(str(max_os)), 10 ** len(str(max_li)), None, None, None, None, None, None, True, True)
        self._topo, self._extra, self.pus = topo, extra, (*topo.pus, extra)

    def pu(self, os_index: int) -> PU:
        return self._extra if os_index == self._extra.os_index else self._topo.pu(os_index)

    def __getattr__(self, name: str):
        return getattr(self._topo, name)


GAP_ROLES = ("pu", "core")  # cells laid out one column wider: their first column is the gap


class HeatMap(TopologyMap):
    """TopologyMap whose cells show utilisation and threads (see the module docstring)."""

    DEFAULT_CSS = """
    HeatMap > .heatmap--idle { color: $text; background: $boost; }
    """
    COMPONENT_CLASSES = TopologyMap.COMPONENT_CLASSES | {"heatmap--idle"}

    def __init__(self, topology, *, id: str | None = None) -> None:
        super().__init__(topology, id=id)
        self.heat = HeatState()

    def set_heat(self, heat: HeatState) -> None:
        self.heat = heat
        self._strips.clear()
        self.refresh()

    def _build(self, width: int, level: str) -> MapLayout:
        """TopologyMap._build (same cache), laid out with a gap column before every PU/core cell."""
        key = (width, level, self.numbering)
        lay = self._map_layouts.get(key)
        if lay is None:
            lay = self._map_layouts[key] = build_layout(_OneMoreDigit(self.topology), width, level, self.numbering)
        return lay

    def _cell_look(self, cell: Cell) -> tuple[str, Style]:
        """The base class's contract (text, one style) for plain_lines and anything else that asks."""
        parts = self._cell_parts(cell)
        return "".join(t for t, _ in parts), parts[0][1]

    def _cell_parts(self, cell: Cell) -> list[tuple[str, Style]]:
        """[(gap, plain)] + [(number, style), (mark, style)]: the mark column has its own colour (the rank's), the
        gap column before a PU/core cell none (it keeps neighbouring cells apart)."""
        role = cell.role
        if role in ("header", "label"):
            return [super()._cell_look(cell)]
        if role in GAP_ROLES and cell.width > 2:
            gap = Cell(cell.x + 1, cell.width - 1, cell.text, role, cell.cpus, cell.pu)
            return [(" ", Style()), *self._cell_parts_body(gap)]
        return self._cell_parts_body(cell)

    def _cell_parts_body(self, cell: Cell) -> list[tuple[str, Style]]:
        role = cell.role
        cs = self.component_style
        topo = self.topology
        h = self.heat
        body_w = cell.width - 1
        body = cell.text.rjust(body_w)[:body_w]
        if role in ("pu", "offline"):
            cpu = cell.pu
            pu = topo.pu(cpu) if cpu is not None and topo.has_pu(cpu) else None
            if pu is None or not pu.online:
                return [(body + MARKS["offline"], cs("topomap--offline"))]
            if not pu.allowed:
                return [(body + MARKS["disallowed"], cs("topomap--disallowed"))]
        elif not (cell.cpus & topo.allowed):
            return [(body + MARKS["disallowed"], cs("topomap--disallowed"))]
        util = h.util_of(cell.cpus)
        hs = None if util is None else heat_style(util)
        style = hs if hs is not None else cs("heatmap--idle")
        threads = h.threads_on(cell.cpus)
        mark = thread_mark(threads)
        if threads:
            mark_style = Style(color="#000000", bgcolor=PALETTE[threads[0][0] % len(PALETTE)], bold=True)
        elif cell.cpus & h.reserve:
            mark, mark_style = MARKS["reserved"], cs("topomap--reserved")
        else:
            mark_style = style
        extra = Style()
        if h.planned and cell.cpus.intersects(h.planned):
            extra += Style(underline=True)
        if h.current and cell.cpus.intersects(h.current):
            extra += Style(reverse=True, bold=True)
        if self._hover is not None and self._hover.role == cell.role and self._hover.cpus == cell.cpus:
            extra += cs("topomap--hover")
        return [(body, style + extra), (mark, mark_style + extra)]

    def _line_base_style(self) -> Style:
        return self.rich_style
