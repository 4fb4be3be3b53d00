"""The topology map: ONE scrollable widget drawn with the line API (render_line -> Strip) and a strip cache.

GUIDE §2 (toolong): thousands of PU cells as one widget repaint in milliseconds; as widgets they would not.
Geometry comes from ``maplayout`` (recomputed only on resize / fold / numbering / topology change); colours come
from the current plan snapshot (only the strip cache is dropped when the plan changes).
"""

from __future__ import annotations

from typing import NamedTuple

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip
from textual.widget import Widget

from ompviz.cpuset import CpuSet
from ompviz.plan.model import Plan
from ompviz.topology.model import Topology
from ompviz.tui.memo import IdentityMemo
from ompviz.tui.widgets.maplayout import LEVEL_NAMES, LEVELS, Cell, MapLayout, build_layout
from ompviz.tui.widgets.runs import refresh_line_runs
from ompviz.tui.widgets.scrollbar import LineScrollBar
from ompviz.tui.widgets.stylescache import KeepsLines, LineStylesCache, draw_ahead
from ompviz.tui.widgets.tell import tell_app

# Rank colours (backgrounds, black text): distinguishable on dark and light themes; ranks beyond the palette
# reuse colours (the legend says which ranks share one).
PALETTE = (
    "#5fafff",
    "#ffaf5f",
    "#87d787",
    "#ff8787",
    "#d7afff",
    "#d7875f",
    "#5fd7d7",
    "#ffafd7",
    "#afafaf",
    "#87af87",
    "#d7af87",
    "#afd7ff",
)

# Marks in the last column of a cell; the legend and help explain them.
MARKS = {
    "offline": "-",
    "disallowed": "x",
    "reserved": "r",
    "overlap": "!",
    "several": "+",
    "highlight": "*",
}


_RANK_STYLES = tuple(Style(color="#000000", bgcolor=c) for c in PALETTE)  # built once: read on every cell


_UNDERLINE = Style(underline=True)  # the selected worker's cells


def rank_style(rank: int) -> Style:
    return _RANK_STYLES[rank % len(PALETTE)]


class BaseStyleCache(KeepsLines):
    """Mixin for line-drawn widgets: ``base_style`` is ``rich_style`` (which walks every ancestor on each call)
    computed once per style change, since render_line needs it for every line of every frame."""

    _base: Style | None = None
    _components: dict[str, Style] | None = None
    # Textual's text selection does not reach line-drawn widgets: render_line draws no highlight, and copying reads
    # get_selection(), which finds nothing in them. Yet a mouse press on one started a selection and the release
    # cleared it, each repainting the whole screen: two full repaints (5-10 ms each at 4,096 PUs) before a click on
    # a PU, a row or a tab was even handled.
    ALLOW_SELECT = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._styles_cache = LineStylesCache()  # Textual's, with content lines put together once per render

    @property
    def base_style(self) -> Style:
        if self._base is None:
            self._base = self.rich_style  # type: ignore[attr-defined]
        return self._base

    def component_style(self, name: str) -> Style:
        """``get_component_rich_style(name)``, kept until the styles change. Textual empties its own cache of these
        on every repaint, and recomputing one costs ~0.1-0.2 ms: a tab bar relabelled on each key press spent 1 ms
        on its two lines, the map more."""
        cache = self._components
        if cache is None:
            cache = self._components = {}
        style = cache.get(name)
        if style is None:
            style = cache[name] = self.get_component_rich_style(name)  # type: ignore[attr-defined]
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()  # type: ignore[misc]
        self._base = None
        self._components = None

    def _on_resize(self, event) -> None:
        self._base = None  # a new parent or size may come with new ancestors' styles
        self._components = None


class LineScrollView(BaseStyleCache, ScrollView):
    """Base of ompviz's line-drawn scroll views (map, tables, form, text panes).

    Textual's ScrollView re-runs its scrollbar update (and repaints both scrollbars) on EVERY layout of the screen,
    because the virtual size the compositor passes in is the region's (a ScrollView ignores it and keeps its own).
    Ours set their virtual size themselves (``set_virtual_size_quietly`` updates the scrollbars then), so when
    neither the size nor the gutter changed there is nothing to update: skipped, a layout elsewhere on the screen
    (a toast, a pane switch) no longer repaints every scrollbar of the screen one frame later."""

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        if size == self._size and self._container_size == size - self.styles.gutter.totals:
            return False  # same size, same content box: no Resize, no scrollbar work
        return super()._size_updated(size, virtual_size, container_size, layout)

    # One render_lines call draws many lines at one scroll offset and content width; scrollable_content_region walks
    # the styles (gutter, scrollbar sizes: ~15 rule lookups), and was looked up once or twice per line.
    _line_box: tuple[int, int, int] | None = None  # (scroll x, scroll y, content width) while render_lines runs

    def render_lines(self, crop: Region) -> list[Strip]:
        x, y = self.scroll_offset
        self._line_box = (x, y, self.scrollable_content_region.width)
        try:
            return super().render_lines(crop)
        finally:
            self._line_box = None

    def line_box(self) -> tuple[int, int, int]:
        """(scroll x, scroll y, content width) for render_line: looked up once per render_lines call."""
        box = self._line_box
        if box is None:  # render_line called on its own (tests, a subclass)
            x, y = self.scroll_offset
            return x, y, self.scrollable_content_region.width
        return box

    # Textual's Widget creates its scrollbars in these two properties; ours are drawn straight into strips.
    @property
    def vertical_scrollbar(self) -> ScrollBar:
        bar = self._vertical_scrollbar
        return self._new_scrollbar(vertical=True) if bar is None else bar

    @property
    def horizontal_scrollbar(self) -> ScrollBar:
        bar = self._horizontal_scrollbar
        return self._new_scrollbar(vertical=False) if bar is None else bar

    def _new_scrollbar(self, vertical: bool) -> ScrollBar:
        """What Widget's properties do, with LineScrollBar (stored before it starts, as there)."""
        thickness = self.scrollbar_size_vertical if vertical else self.scrollbar_size_horizontal
        bar = LineScrollBar(vertical=vertical, name="vertical" if vertical else "horizontal", thickness=thickness)
        bar.display = False
        if vertical:
            self._vertical_scrollbar = bar
        else:
            self._horizontal_scrollbar = bar
        self.app._start_widget(self, bar)
        return bar


def set_virtual_size_quietly(widget: Widget, size: Size) -> None:
    """Set a line-drawn ScrollView's virtual size without Textual's relayout of the whole screen.

    ``virtual_size`` is a layout reactive: every change re-arranges and repaints every widget on the screen. Our
    scroll views get their size from the CSS (not from their content), so a new virtual size can only change their
    own scrollbars: those are updated here, and a relayout happens only when one appears or disappears (the
    scrollbar reactives ask for it themselves).
    """
    old = widget.virtual_size
    if old == size:
        return
    widget.set_reactive(Widget.virtual_size, size)
    if not widget.container_size:
        return  # not laid out yet: the first layout reads the new size
    # Widget._scroll_update without its unconditional scrollbar repaints (a scrollbar costs a millisecond to draw):
    # the scrollbars repaint the lines whose look their new numbers change (LineScrollBar).
    widget._refresh_scrollbars()
    if widget.show_vertical_scrollbar and widget.styles.scrollbar_size_vertical:
        widget.vertical_scrollbar.window_virtual_size = size.height
    if widget.show_horizontal_scrollbar and widget.styles.scrollbar_size_horizontal:
        widget.horizontal_scrollbar.window_virtual_size = size.width
    widget.scroll_x = widget.validate_scroll_x(widget.scroll_x)
    widget.scroll_y = widget.validate_scroll_y(widget.scroll_y)


class MapState(NamedTuple):
    """Everything the colours depend on (an immutable snapshot handed over by the app; a NamedTuple rather than a
    frozen dataclass, whose code generation costs ~1 ms of the benchmarked start-up)."""

    owners: dict  # cpu -> tuple of ranks
    reserve: CpuSet
    highlight: CpuSet
    selected: CpuSet  # CPUs of the selected worker
    # Each rank's CPUs (rank -> CpuSet), when known: what changed between two states is then a few set operations
    # instead of a walk over every CPU of the owner maps.
    rank_cpus: dict | None = None


class TopologyMap(LineScrollView, can_focus=True):
    DEFAULT_CSS = """
    TopologyMap {
        scrollbar-gutter: stable;
        background: $surface;
    }
    TopologyMap > .topomap--header { color: $text-primary; text-style: bold; }
    TopologyMap > .topomap--label { color: $text-muted; }
    TopologyMap > .topomap--free { color: $text; background: $boost; }
    TopologyMap > .topomap--reserved { color: $text-warning; background: $warning-muted; text-style: bold; }
    TopologyMap > .topomap--disallowed { color: $text-disabled; text-style: strike; }
    TopologyMap > .topomap--offline { color: $text-disabled; text-style: italic; }
    TopologyMap > .topomap--overlap { color: $text-error; background: $error-muted; text-style: bold; }
    TopologyMap > .topomap--hover { text-style: bold reverse; }
    TopologyMap > .topomap--highlight { color: #000000; background: #ffff5f; text-style: bold; }
    """

    COMPONENT_CLASSES = {
        "topomap--header",
        "topomap--label",
        "topomap--free",
        "topomap--reserved",
        "topomap--disallowed",
        "topomap--offline",
        "topomap--overlap",
        "topomap--hover",
        "topomap--highlight",
    }

    # Messages are plain classes, not dataclasses: generating a dataclass costs ~0.4-1 ms at import and the
    # explorer's start-up is benchmarked (issue 4).
    class PuClicked(Message):
        def __init__(self, widget: TopologyMap, cpu: int) -> None:
            super().__init__()
            self.widget = widget
            self.cpu = cpu

        @property
        def control(self) -> TopologyMap:
            return self.widget

    class CellHovered(Message):
        def __init__(self, widget: TopologyMap, cpus: CpuSet, pu: int | None, role: str) -> None:
            super().__init__()
            self.widget = widget
            self.cpus = cpus  # empty when the pointer left the cells
            self.pu = pu
            self.role = role

        @property
        def control(self) -> TopologyMap:
            return self.widget

    def __init__(self, topology: Topology, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.topology = topology
        self.numbering = "os"
        self.fold = "auto"  # or one of LEVELS
        self.state = MapState({}, CpuSet(), CpuSet(), CpuSet())
        self._layout: MapLayout | None = None
        self._layout_key: tuple | None = None
        # (not `_layout_cache`: Textual's Widget uses that name and clears it on every refresh and resize)
        self._map_layouts: dict[tuple, MapLayout] = {}
        self._strips: dict[int, Strip] = {}
        # Lines drawn for states the app may show next (prepare_state) or showed before: {line: full strip} by the
        # state's owner map and layout (identity) and CPU sets (value). Dropped with the strips (new layout, theme,
        # hover): they were drawn with those.
        self._ahead: IdentityMemo[dict[int, Strip]] = IdentityMemo(self.AHEAD_STATES)
        self._on_base: dict[Style | None, Style] = {}  # cell style -> line base + it (None -> that base)
        self._cpu_lines: tuple[MapLayout, list[int]] | None = None  # (layout, the CPUs on each line as a mask)
        self._hover: Cell | None = None
        self._title = ""

    # -- inputs from the app ---------------------------------------------------------------------
    def set_topology(self, topology: Topology) -> None:
        self.topology = topology
        self._map_layouts.clear()
        self._hover = None
        self._relayout()

    def set_state(self, state: MapState) -> None:
        """New colours. Only the lines holding cells whose look can change are re-rendered (on 4,096 PUs a bind or
        places change keeps every owner, so nothing on the map is redrawn); lines drawn ahead for this state
        (prepare_state) are taken as they are."""
        old, self.state = self.state, state
        if self._layout is None or not self._strips:
            self._forget_lines()
            self.refresh()
            return
        lines = self._changed_lines(old, state)
        if not lines:
            return
        strips = self._strips
        kept = self._drawn_for(old)  # the lines going away are the old state's: kept for a way back
        for y in lines:
            strip = strips.get(y)
            if strip is not None:
                kept.setdefault(y, strip)
        drawn = self._drawn_for(state)
        for y in lines:
            strip = drawn.get(y)
            if strip is None:
                strips.pop(y, None)
            else:
                strips[y] = strip
        top = self.scroll_offset.y
        bottom = top + self.size.height  # (Widget.size walks to the screen: once, not once per line)
        # only the lines that change: one between them repainted as it was would be boxed and encoded again
        refresh_line_runs(self, [y - top for y in lines if top <= y < bottom])

    AHEAD_STATES = 13  # states drawn ahead, the most recent kept (the app's look-ahead prepares at most 12 plans)

    def prepare_state(self, state: MapState) -> int:
        """Draw ahead the lines on screen that showing ``state`` would change, and take them through the rest of a
        paint (stylescache.draw_ahead): the app's look-ahead, for a plan one key or click away. Returns the number
        of lines drawn (0 when they were drawn before or nothing would change)."""
        lay = self._layout
        if lay is None or not self._strips or not self.size.height:
            return 0  # the next paint draws every line anyway
        scroll_x, top, width = self.line_box()
        bottom = top + self.size.height
        drawn = self._drawn_for(state)
        lines = [y for y in self._changed_lines(self.state, state) if top <= y < bottom]
        missing = [y for y in lines if y not in drawn]
        if missing:
            current = self.state
            self.state = state  # (drawing reads it; nothing else runs meanwhile)
            try:
                drawn.update((y, self._render_full_line(y)) for y in missing)
            finally:
                self.state = current
        # every line, also those drawn before: the rest of their paint may have been forgotten since (a new box)
        base = self.base_style
        draw_ahead(self, {y - top: drawn[y].crop_extend(scroll_x, scroll_x + width, base) for y in lines})
        return len(missing)

    def _drawn_for(self, state: MapState) -> dict[int, Strip]:
        """The lines drawn for ``state`` (ahead, or shown before) in the current layout and styles."""
        masks = (state.reserve.mask, state.highlight.mask, state.selected.mask)  # what a line's look depends on
        return self._ahead.get((state.owners, self._layout), masks, dict)

    def _forget_lines(self) -> None:
        """Drop every drawn line, and those drawn ahead: the layout, the theme or the hovered cell changed."""
        self._strips.clear()
        self._ahead.clear()

    def _changed_lines(self, old: MapState, state: MapState) -> list[int]:
        """Layout lines whose look differs between two states."""
        # (bit masks, not CpuSets: typing 16 -> 161 ranks moves every owner, and a set per rank and operation cost
        # a millisecond of the key press)
        changed = (state.reserve.mask ^ old.reserve.mask) | (state.highlight.mask ^ old.highlight.mask)
        changed |= state.selected.mask ^ old.selected.mask
        if state.owners is not old.owners:
            if state.rank_cpus is not None and old.rank_cpus is not None:
                # a CPU's owners differ exactly when some rank gained or lost it
                o, n = old.rank_cpus, state.rank_cpus
                for rank in o.keys() | n.keys():
                    a, b = o.get(rank), n.get(rank)
                    if a is not b:
                        changed |= (0 if a is None else a.mask) ^ (0 if b is None else b.mask)
            elif state.owners != old.owners:
                o, n = old.owners, state.owners
                changed |= CpuSet(c for c in o.keys() | n.keys() if o.get(c) != n.get(c)).mask
        return self._lines_of(CpuSet.from_mask(changed)) if changed else []

    def _lines_of(self, cpus: CpuSet) -> list[int]:
        """Layout lines showing any of ``cpus`` (each line's CPU set is built once per layout)."""
        lay = self._layout
        if lay is None:
            return []
        if self._cpu_lines is None or self._cpu_lines[0] is not lay:
            masks = []
            for cells in lay.lines:
                line = 0
                for cell in cells:
                    line |= cell.cpus.mask
                masks.append(line)
            self._cpu_lines = (lay, masks)
        mask = cpus.mask
        return [y for y, line in enumerate(self._cpu_lines[1]) if line & mask]

    def set_numbering(self, numbering: str) -> None:
        self.numbering = numbering
        self._relayout()

    def set_fold(self, fold: str) -> None:
        self.fold = fold
        self._relayout()

    @property
    def hovered(self) -> Cell | None:
        """The cell under the pointer, if any."""
        return self._hover

    @property
    def level(self) -> str:
        return self._layout.level if self._layout else "pu"

    def next_fold(self) -> str:
        """auto -> pu -> core -> l3 -> numa -> auto."""
        order = ("auto", *LEVELS)
        self.set_fold(order[(order.index(self.fold) + 1) % len(order)])
        return self.fold

    # -- layout ----------------------------------------------------------------------------------
    def _content_size(self) -> tuple[int, int]:
        region = self.scrollable_content_region
        return max(region.width, 8), max(region.height, 1)

    def _build(self, width: int, level: str) -> MapLayout:
        key = (width, level, self.numbering)
        lay = self._map_layouts.get(key)
        if lay is None:
            lay = self._map_layouts[key] = build_layout(self.topology, width, level, self.numbering)
        return lay

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._forget_lines()  # the strips hold the old theme's colours

    def watch_has_focus(self, has_focus: bool) -> None:
        # A focus change restyles the map and its nine component classes (#map:focus colours the border). When the
        # app shuts down, Textual resets the focus on a screen about to be discarded: nothing is drawn again.
        if self.app.is_running:
            super().watch_has_focus(has_focus)

    def _relayout(self) -> None:
        if not self.size.width:
            return  # not laid out yet: the first layout sizes us (building it for width 0 is wasted)
        width, height = self._content_size()
        if self.fold == "auto":
            level = LEVELS[-1]
            for lv in LEVELS:
                if self._build(width, lv).height <= height:
                    level = lv
                    break
        else:
            level = self.fold
        lay = self._build(width, level)
        title = f"Topology · {LEVEL_NAMES[level]} view{' (auto)' if self.fold == 'auto' else ''} · "
        title += "logical L# numbering" if self.numbering == "logical" else "OS P# numbering"
        if lay is self._layout and title == self._title:
            return  # same geometry (e.g. the Resize event after the layout we already did): keep the strips
        self._layout = lay
        self._forget_lines()
        set_virtual_size_quietly(self, Size(lay.width, lay.height))
        if title != self._title:
            self._title = self.border_title = title
        self.refresh()

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        # Lay the map out for its new size right here, inside Textual's layout pass, so the frame painted next
        # already shows it (waiting for the Resize event paints the screen once more).
        resized = super()._size_updated(size, virtual_size, container_size, layout)
        self._relayout()
        return resized

    def on_resize(self) -> None:
        self._relayout()

    # -- drawing ---------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y, width = self.line_box()
        index = scroll_y + y
        strip = self._strips.get(index)
        if strip is None:
            strip = self._strips[index] = self._render_full_line(index)
        return strip.crop_extend(scroll_x, scroll_x + width, self.base_style)

    def _render_full_line(self, index: int) -> Strip:
        lay = self._layout
        if lay is None or index >= lay.height:
            return Strip.blank(0)
        base = self._line_base_style()
        on_base = self._on_base
        if on_base.get(None) is not base or len(on_base) > 4096:  # base + style per style, while base is the same
            on_base.clear()
            on_base[None] = base
        segments: list[Segment] = []
        x = 0
        for cell in lay.lines[index]:
            if cell.x > x:
                segments.append(Segment(" " * (cell.x - x), base))
            x = cell.x
            for text, style in self._cell_parts(cell):
                full = on_base.get(style)
                if full is None:
                    full = on_base[style] = base + style
                segments.append(Segment(text, full))
                x += len(text)
        # Neighbouring cells of one owner share a style: merged, a line has ~2.5x fewer segments, and every frame
        # Textual's compositor cuts and filters each segment of the screen (start-up and repaints are benchmarked).
        return Strip(Segment.simplify(segments), x)

    # Hooks for subclasses (the live HeatMap draws a cell in several styled parts on the widget's own style).
    def _line_base_style(self) -> Style:
        return self.base_style

    def _cell_parts(self, cell: Cell) -> list[tuple[str, Style]]:
        return [self._cell_look(cell)]

    def _cell_look(self, cell: Cell) -> tuple[str, Style]:
        cs = self.component_style
        role = cell.role
        if role == "header":
            return cell.text, cs("topomap--header")
        if role == "label":
            return cell.text, cs("topomap--label")
        st = self.state
        topo = self.topology
        mark = " "
        body = cell.text
        if role in ("pu", "offline"):
            cpu = cell.pu
            pu = topo.pu(cpu) if cpu is not None and topo.has_pu(cpu) else None
            ranks = st.owners.get(cpu, ())
            if pu is None or not pu.online:
                mark, style = MARKS["offline"], cs("topomap--offline")
            elif not pu.allowed:
                mark, style = MARKS["disallowed"], cs("topomap--disallowed")
            elif cpu in st.reserve:
                mark, style = MARKS["reserved"], cs("topomap--reserved")
            elif len(ranks) > 1:
                mark, style = MARKS["overlap"], cs("topomap--overlap")
            elif ranks:
                style = rank_style(ranks[0])
            else:
                style = cs("topomap--free")
        else:
            ranks = sorted({r for c in cell.cpus for r in st.owners.get(c, ())})
            usable = cell.cpus & topo.allowed
            if not usable:
                mark, style = MARKS["disallowed"], cs("topomap--disallowed")
            elif ranks:
                style = rank_style(ranks[0])
                if len(ranks) > 1:
                    mark = MARKS["several"]
            elif usable <= st.reserve:
                mark, style = MARKS["reserved"], cs("topomap--reserved")
            else:
                style = cs("topomap--free")
            if ranks and (cell.cpus & st.reserve):
                mark = MARKS["reserved"]
        hot = bool(st.highlight) and cell.cpus.intersects(st.highlight)
        if hot:
            style = style + cs("topomap--highlight")
            if mark == " ":
                mark = MARKS["highlight"]
        if st.selected and cell.cpus.intersects(st.selected):
            style = style + _UNDERLINE
        if self._hover is not None and self._hover.x == cell.x and self._hover.cpus == cell.cpus:
            style = style + cs("topomap--hover")
        text = body.rjust(cell.width - 1)[: cell.width - 1] + mark
        return text, style

    # -- mouse -----------------------------------------------------------------------------------
    def _cell_at_event(self, event) -> Cell | None:
        offset = event.get_content_offset(self)
        if offset is None or self._layout is None:
            return None
        sx, sy = self.scroll_offset
        cell = self._layout.cell_at(offset.x + sx, offset.y + sy)
        if cell is None or cell.role in ("header", "label"):
            return None
        return cell

    def on_mouse_move(self, event) -> None:
        cell = self._cell_at_event(event)
        if cell == self._hover:
            return
        self._set_hover(cell)
        if cell is None:
            tell_app(self, self.CellHovered(self, CpuSet(), None, ""))
        else:
            tell_app(self, self.CellHovered(self, cell.cpus, cell.pu, cell.role))

    def on_leave(self) -> None:
        if self._hover is not None:
            self._set_hover(None)

    def _set_hover(self, cell: Cell | None) -> None:
        """Move the pointer's highlight: only the lines of the old and the new hovered cell are drawn again (the
        whole map was, ~8 ms a mouse move on 4,096 PUs)."""
        old = self._hover
        self._hover = cell
        if (old is not None and not old.cpus) or (cell is not None and not cell.cpus):
            self._forget_lines()  # a cell without CPUs cannot be found by its CPUs: draw it all (not seen so far)
            self.refresh()
            return
        drawn = self._ahead.results()
        for y in {*self._hover_lines(old), *self._hover_lines(cell)}:
            self._strips.pop(y, None)
            for lines in drawn:  # drawn with the old hovered cell
                lines.pop(y, None)
            self.refresh_lines(y)

    def _hover_lines(self, cell: Cell | None) -> list[int]:
        """Layout lines drawing ``cell`` with the hover style (render_cell: same x, same CPUs)."""
        lay = self._layout
        if cell is None or lay is None:
            return []
        return [
            y for y in self._lines_of(cell.cpus) if any(c.x == cell.x and c.cpus == cell.cpus for c in lay.lines[y])
        ]

    def on_click(self, event) -> None:
        cell = self._cell_at_event(event)
        if cell is not None and cell.role == "pu" and cell.pu is not None:
            event.stop()  # handled: no need to walk it up the containers, the screen and the app before the paint
            tell_app(self, self.PuClicked(self, cell.pu))

    # -- for tests and the app -------------------------------------------------------------------
    def screen_offset_of(self, cpu: int) -> tuple[int, int] | None:
        """Widget-relative (x, y) of a PU's cell if it is visible without scrolling, else None."""
        lay = self._layout
        if lay is None:
            return None
        for y, cells in enumerate(lay.lines):
            for c in cells:
                if c.pu == cpu and c.role == "pu":
                    region = self.scrollable_content_region
                    sx, sy = self.scroll_offset
                    wx = c.x - sx + (region.x - self.region.x)
                    wy = y - sy + (region.y - self.region.y)
                    return (wx, wy)
        return None

    def plain_lines(self) -> list[str]:
        """The current layout as plain text (marks included): what a reader sees, for tests."""
        lay = self._layout
        out = []
        if lay is None:
            return out
        for cells in lay.lines:
            line = ""
            for c in cells:
                text, _ = self._cell_look(c)
                line = line.ljust(c.x) + text
            out.append(line.rstrip())
        return out


def owners_of(plan: Plan | None) -> dict:
    return plan.owner_map() if plan is not None else {}
