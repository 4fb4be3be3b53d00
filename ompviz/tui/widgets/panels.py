"""Read-only views of a Plan: header, legend, per-worker table, thread mapping, warnings, explanation, PU info."""

from __future__ import annotations

from typing import NamedTuple

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ompviz.cpuset import CpuSet
from ompviz.plan.model import Plan, PlanWarning, Worker
from ompviz.topology.model import Topology
from ompviz.tui.memo import IdentityMemo
from ompviz.tui.widgets.runs import refresh_line_runs
from ompviz.tui.widgets.stylescache import draw_ahead
from ompviz.tui.widgets.tell import tell_app
from ompviz.tui.widgets.topomap import (
    MARKS,
    PALETTE,
    BaseStyleCache,
    LineScrollView,
    rank_style,
    set_virtual_size_quietly,
)
from ompviz.words import plural

SOURCE_NAMES = {
    "live": "live machine",
    "sysfs": "sysfs dump",
    "hwloc-xml": "hwloc XML",
    "synthetic": "synthetic",
    "lscpu": "lscpu output",
    "preset": "preset",
    "snapshot": "snapshot",
    "fallback": "best-effort (psutil)",
}


def header_text(topo: Topology) -> Text:
    s = topo.summary()
    t = Text()
    t.append(" ompviz ", "bold reverse")
    t.append(f" {topo.name} ", "bold")
    t.append("│ ", "dim")
    t.append(
        f"{s['packages']} pkg · {s['numa_nodes']} NUMA · {s['l3_caches']} L3 · {s['cores']} cores · {s['pus']} PUs"
    )
    extra = []
    if topo.kinds:
        extra.append("kinds " + "/".join(topo.kinds))
    if topo.offline:
        extra.append(f"{len(topo.offline)} offline")
    if topo.disallowed:
        extra.append(f"{len(topo.disallowed)} disallowed")
    if extra:
        t.append(" (" + ", ".join(extra) + ")", "italic")
    t.append(" │ ", "dim")
    kind = SOURCE_NAMES.get(topo.source_kind, topo.source_kind)
    t.append(kind if topo.source in ("live", "") else f"{kind}: {topo.source}", "italic")
    return t


def legend_text(plan: Plan | None) -> Text:
    t = Text()
    if plan is not None and plan.workers:
        n = len(plan.workers)
        shown = min(n, len(PALETTE))
        for i in range(shown):
            same = list(range(i, n, len(PALETTE)))
            label = ",".join(map(str, same[:3])) + ("…" if len(same) > 3 else "")
            t.append(f" {label} ", rank_style(i))
            t.append(" ")
        t.append(" ", "dim")
    for mark, what in (
        ("reserved", "reserved"),
        ("disallowed", "disallowed"),
        ("offline", "offline"),
        ("overlap", "shared"),
        ("highlight", "warning"),
    ):
        t.append(MARKS[mark], "bold #000000 on #ffff5f" if mark == "highlight" else "bold")
        t.append(f" {what} ", "dim")
    return t


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


Cell = tuple[str, Style | None]  # (text, style over the row's style)


class LineTable(LineScrollView, can_focus=True):
    """A small read-only table drawn with the line API: one cached Strip per row, a fixed header line.

    Replaces DataTable here because a DataTable renders every cell through Rich on each repaint (a fifth of the
    explorer's start-up) and rebuilds all rows on every plan. ``set_rows`` drops only the strips of rows whose
    content changed, and only visible rows are ever drawn.
    """

    DEFAULT_CSS = """
    LineTable { background: $surface; color: $foreground; }
    LineTable:focus { background-tint: $foreground 5%; }
    LineTable > .linetable--header { text-style: bold; background: $panel; color: $foreground; }
    LineTable > .linetable--even-row { background: $surface-lighten-1 50%; }
    LineTable:dark > .linetable--even-row { background: $surface-darken-1 40%; }
    LineTable > .linetable--cursor {
        background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground;
        text-style: $block-cursor-blurred-text-style;
    }
    LineTable:focus > .linetable--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    """
    COMPONENT_CLASSES = {"linetable--header", "linetable--even-row", "linetable--cursor"}
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "move(-10)", "Page up", show=False),
        Binding("pagedown", "move(10)", "Page down", show=False),
        Binding("home", "move(-1000000000)", "First", show=False),
        Binding("end", "move(1000000000)", "Last", show=False),
    ]

    class RowHighlighted(Message):
        def __init__(self, table: LineTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

    show_cursor = True
    MAX_WIDTHS: tuple[int, ...] = ()  # per column; longer text is clipped with an ellipsis
    # The column that gets the width the others leave (clipped with an ellipsis to fit the widget) instead of
    # running off the right edge; None: every column at its own width, scrolling sideways.
    FILL_COLUMN: int | None = None
    # A column that gives up width (clipped with "…" too) when the fill column would get fewer than FILL_MIN
    # characters, down to SHRINK_MIN (or its header's width).
    SHRINK_COLUMN: int | None = None
    FILL_MIN = 16
    SHRINK_MIN = 16

    def __init__(self, headers: tuple[str, ...], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._headers = headers
        self._rows: list[tuple[Cell, ...]] = []
        self._keys: list[str] = []
        self._widths = [len(h) for h in headers]
        self._shown_widths = list(self._widths)  # _widths with FILL_COLUMN fitted to the widget
        self._strips: dict[int, Strip] = {}  # row index -> strip (header is -1)
        # Rows drawn ahead (prepare_rows) or shown before: {row index: strip} by the rows (identity), the fitted
        # widths and the cursor; dropped when the styles (theme, focus) they were drawn in change.
        self._ahead: IdentityMemo[dict[int, Strip]] = IdentityMemo(self.AHEAD_ROWS)
        self.cursor_row = 0

    # -- data ------------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._rows)

    def row_plain(self, index: int) -> tuple[str, ...]:
        return tuple(text for text, _ in self._rows[index])

    def set_rows(self, rows: list[tuple[Cell, ...]], keys: list[str] | None = None, cursor: int | None = None) -> None:
        """Show ``rows`` (with the cursor on row ``cursor``, default: where it is); only rows that differ from what
        is shown are re-rendered, and rows drawn ahead for these rows (prepare_rows) are taken as they are."""
        widths, fitted = self._widths_for(rows)
        changed: list[int] | None = None  # rows to repaint; None: all of them
        if widths != self._widths or fitted != self._shown_widths:
            self._drawn_for(self._rows, self._shown_widths, self.cursor_row).update(self._strips)  # a way back
            self._widths = widths
            self._shown_widths = fitted
            self._strips.clear()
        else:
            old = self._rows
            changed = [i for i, row in enumerate(rows) if i >= len(old) or old[i] != row]
            changed += range(len(rows), len(old))
            strips = self._strips
            kept = self._drawn_for(old, self._shown_widths, self.cursor_row)  # kept for a way back
            for i in changed:
                strip = strips.pop(i, None)
                if strip is not None and i < len(old):
                    kept.setdefault(i, strip)
        self._rows = rows
        self._keys = keys if keys is not None else [str(i) for i in range(len(rows))]
        cursor = min(self.cursor_row if cursor is None else cursor, max(len(rows) - 1, 0))
        if cursor != self.cursor_row and changed is not None:
            changed += (cursor, self.cursor_row)
            self._strips.pop(self.cursor_row, None)
            self._strips.pop(cursor, None)
        self.cursor_row = cursor
        strips = self._strips
        for i, strip in self._drawn_for(rows, fitted, cursor).items():
            strips.setdefault(i, strip)  # (the rows kept are the same as drawn ahead)
        shown = self._shown_widths
        set_virtual_size_quietly(self, Size(sum(shown) + 2 * len(shown), len(rows) + 1))
        if changed is None:
            self.refresh()
        else:
            self._refresh_rows(changed)

    AHEAD_ROWS = 13  # row lists drawn ahead, the most recent kept (the app's look-ahead prepares at most 12 plans)

    def prepare_rows(self, rows: list[tuple[Cell, ...]], cursor: int | None = None) -> int:
        """Draw ahead the rows on screen that ``set_rows(rows, cursor=cursor)`` would draw again, and take them
        through the rest of a paint (stylescache.draw_ahead): the app's look-ahead, for a plan one key or click
        away. Returns the number of lines drawn (0 when they were drawn before)."""
        height = self.size.height - 1  # rows under the header line
        if height <= 0 or not self._strips:
            return 0  # not shown yet, or the next paint draws every line anyway
        widths, fitted = self._widths_for(rows)
        cursor = min(self.cursor_row if cursor is None else cursor, max(len(rows) - 1, 0))
        drawn = self._drawn_for(rows, fitted, cursor)
        scroll_x, top, width = self.line_box()
        shown = range(top, top + height)
        if widths == self._widths and fitted == self._shown_widths:
            old = self._rows
            moved = (cursor, self.cursor_row) if cursor != self.cursor_row else ()
            indices = [i for i in shown if (i < len(rows) or i < len(old)) and (
                i >= len(rows) or i >= len(old) or old[i] != rows[i] or i in moved)]  # fmt: skip
        else:
            indices = [-1, *shown]
        missing = [i for i in indices if i < len(rows) and i not in drawn]
        if missing:
            saved = self._rows, self._shown_widths, self.cursor_row
            self._rows, self._shown_widths, self.cursor_row = rows, fitted, cursor  # (drawing reads them)
            try:
                drawn.update((i, self._render_row(i)) for i in missing)
            finally:
                self._rows, self._shown_widths, self.cursor_row = saved
        # every line, also those drawn before: the rest of their paint may have been forgotten since (a new box)
        base, blank = self.base_style, self._blank_line()
        draw_ahead(
            self,
            {
                (0 if i < 0 else i - top + 1): (
                    blank if i >= len(rows) else drawn[i].crop_extend(scroll_x, scroll_x + width, base)
                )
                for i in indices
            },
        )
        return len(missing)

    def _drawn_for(self, rows: list, fitted: list[int], cursor: int) -> dict[int, Strip]:
        """The rows drawn for ``rows`` (ahead, or shown before) at these column widths and this cursor, in the
        current styles."""
        return self._ahead.get((rows,), (tuple(fitted), cursor), dict)

    def _widths_for(self, rows: list[tuple[Cell, ...]]) -> tuple[list[int], list[int]]:
        """The columns' widths for ``rows``, and those widths fitted to the widget."""
        widths = [len(h) for h in self._headers]
        for row in rows:
            for i, (text, _) in enumerate(row):
                if len(text) > widths[i]:
                    widths[i] = len(text)
        for i, m in enumerate(self.MAX_WIDTHS):
            widths[i] = min(widths[i], m)
        return widths, self._fit_widths(widths, self._row_width(len(rows)))

    def _row_width(self, n_rows: int, size: Size | None = None) -> int:
        """Columns the rows get with ``n_rows`` rows at ``size`` (default: now): the vertical scrollbar's are taken
        off when the rows will not fit, so the fill column is cut for it at once instead of a horizontal scrollbar
        showing for a frame (every scrollbar shown or hidden costs the screen a layout)."""
        size = self.size if size is None else size
        if not size.width:
            return 0
        gutter = self.styles.gutter
        width = size.width - gutter.width
        overflow = self.styles.overflow_y
        if overflow == "scroll" or (overflow == "auto" and n_rows + 1 > size.height - gutter.height):
            width -= self.styles.scrollbar_size_vertical
        return width

    def _fit_widths(self, widths: list[int], content_width: int | None = None) -> list[int]:
        """``widths`` with FILL_COLUMN cut to what ``content_width`` (default: the widget's now) leaves."""
        f = self.FILL_COLUMN
        if content_width is None:
            content_width = self.scrollable_content_region.width if self.is_mounted and self.size.width else 0
        if f is None or content_width <= 0:
            return list(widths)
        others = sum(w for i, w in enumerate(widths) if i != f) + 2 * len(widths)
        room = content_width - others
        out = list(widths)
        s = self.SHRINK_COLUMN
        if s is not None and room < self.FILL_MIN and widths[f] > room:
            # the fill column would be a stub: the shrinkable column gives up width (down to a floor) first
            floor = max(len(self._headers[s]), self.SHRINK_MIN)
            give = max(0, min(self.FILL_MIN - room, out[s] - floor))
            out[s] -= give
            room += give
        # at least a few characters (the header is clipped with "…" too); only a very narrow table scrolls
        out[f] = min(widths[f], max(room, 6))
        return out

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        # Fit the fill column to the new width before Textual sizes the scrollbars from the virtual size: fitted
        # only in on_resize (after the layout), the unfitted first guess shows a horizontal scrollbar for one
        # layout and costs the whole screen another layout and repaint (at start-up, a benchmark: issue 4).
        if self.FILL_COLUMN is not None and size.width and size != self._size:
            shown = self._fit_widths(self._widths, self._row_width(len(self._rows), size))
            if shown != self._shown_widths:
                self._shown_widths = shown
                self._strips.clear()
                self.set_reactive(Widget.virtual_size, Size(sum(shown) + 2 * len(shown), len(self._rows) + 1))
        return super()._size_updated(size, virtual_size, container_size, layout)

    def on_resize(self) -> None:
        shown = self._fit_widths(self._widths)
        if shown != self._shown_widths:
            self._shown_widths = shown
            self._strips.clear()
            set_virtual_size_quietly(self, Size(sum(shown) + 2 * len(shown), len(self._rows) + 1))
            self.refresh()

    def _refresh_rows(self, rows: list[int]) -> None:
        """Repaint only these rows (those on screen): every repainted line costs Textual the same, changed or not."""
        top = self.scroll_offset.y
        bottom = top + max(self.size.height - 1, 0)  # (Widget.size walks to the screen: once, not per row)
        refresh_line_runs(self, [i - top + 1 for i in rows if top <= i < bottom])  # +1: the header line

    def move_cursor(self, row: int) -> None:
        row = min(max(row, 0), max(len(self._rows) - 1, 0))
        if row != self.cursor_row:
            self._strips.pop(self.cursor_row, None)
            self._strips.pop(row, None)
            self._refresh_rows([self.cursor_row, row])
            self.cursor_row = row
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        visible = max(self.scrollable_content_region.height - 1, 1)
        top = self.scroll_offset.y
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False)

    def action_move(self, delta: int) -> None:
        if not self.show_cursor or not self._rows:
            self.scroll_to(y=self.scroll_offset.y + delta, animate=False)
            return
        before = self.cursor_row
        self.move_cursor(self.cursor_row + delta)
        if self.cursor_row != before:
            tell_app(self, self.RowHighlighted(self, self._keys[self.cursor_row]))

    def on_click(self, event) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1 or not self.show_cursor:
            return
        row = self.scroll_offset.y + offset.y - 1
        if 0 <= row < len(self._rows) and row != self.cursor_row:
            self.move_cursor(row)
            tell_app(self, self.RowHighlighted(self, self._keys[row]))

    # -- drawing ---------------------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # theme or focus changed the component styles the strips were built with
        self._ahead.clear()

    def on_focus(self) -> None:
        self._strips.pop(self.cursor_row, None)
        self._ahead.clear()  # the cursor row was drawn unfocused

    def on_blur(self) -> None:
        self._strips.pop(self.cursor_row, None)
        self._ahead.clear()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y, width = self.line_box()
        index = -1 if y == 0 else scroll_y + y - 1
        strip = self._strips.get(index)
        if strip is None:
            if index >= len(self._rows):
                return self._blank_line()
            strip = self._strips[index] = self._render_row(index)
        return strip.crop_extend(scroll_x, scroll_x + width, self.base_style)

    def _blank_line(self) -> Strip:
        """A line below the last row."""
        return _blank(self.size.width, self.base_style)

    def _render_row(self, index: int) -> Strip:
        cs = self.component_style
        if index < 0:
            base = cs("linetable--header")
            cells: tuple[Cell, ...] = tuple((h, None) for h in self._headers)
        else:
            cells = self._rows[index]
            if self.show_cursor and index == self.cursor_row:
                base = cs("linetable--cursor")
            elif index % 2:
                base = cs("linetable--even-row")
            else:
                base = self.base_style
        segments = []
        widths = self._shown_widths
        for (text, style), w in zip(cells, widths, strict=True):
            if len(text) > w:
                text = text[: w - 1] + "…"
            segments.append(Segment(" " + text.ljust(w) + " ", base + style if style else base))
        return Strip(Segment.simplify(segments), sum(widths) + 2 * len(widths))  # fewer segments to composite


class WorkerTable(LineTable):
    """One row per worker: rank, CPUs, OMP_NUM_THREADS (Threads), OMP_PROC_BIND (Bind), OMP_PLACES."""

    MAX_WIDTHS = (6, 32, 15, 13, 1000)
    FILL_COLUMN = 4  # OMP_PLACES takes what the other columns leave, ending in "…" when cut
    SHRINK_COLUMN = 1  # long CPU lists (4,096 PUs) give way so OMP_PLACES keeps FILL_MIN characters

    def __init__(self, *, id: str | None = None) -> None:
        # Short headers for the two narrow values (the full variable names are in the sidebar's environment), so
        # OMP_PLACES, the long one, gets the room.
        super().__init__(("Rank", "CPUs", "Threads", "Bind", "OMP_PLACES"), id=id)
        self._plan: Plan | None = None
        self._memo: IdentityMemo[tuple[list, list[str]]] = IdentityMemo()  # rows by plan

    def show_plan(self, plan: Plan | None, selected_rank: int | None = None) -> None:
        if plan is self._plan:
            return
        self._plan = plan
        rows, keys = self._rows_of(plan) if plan is not None else ([], [])
        cursor = keys.index(str(selected_rank)) if selected_rank is not None and str(selected_rank) in keys else None
        self.set_rows(rows, keys, cursor)
        if cursor is not None:
            self._scroll_to_cursor()

    def prepare(self, plan: Plan, selected_rank: int | None = None) -> int:
        """Build the rows of a plan that may be shown next (the explorer's look-ahead), and draw those on screen
        it changes, so showing it is quick. Returns the number of lines drawn."""
        rows, keys = self._rows_of(plan)
        cursor = keys.index(str(selected_rank)) if selected_rank is not None and str(selected_rank) in keys else None
        return self.prepare_rows(rows, cursor)

    def _rows_of(self, plan: Plan) -> tuple[list, list[str]]:
        return self._memo.get((plan,), (), lambda: _worker_rows(plan))


def _worker_rows(plan: Plan) -> tuple[list, list[str]]:
    rows, keys = [], []
    for w in plan.workers:
        env = w.env_dict
        places = env.get("OMP_PLACES", "(unset)")
        rows.append(
            (
                (f" {w.rank} ", rank_style(w.rank)),
                (_clip(w.cpus.to_list(), 32), None),
                (env.get("OMP_NUM_THREADS", "(unset)"), None),
                (env.get("OMP_PROC_BIND", "(unset)"), None),
                # bounded here (a 4,096-PU list is long); clipped to the column with "…" when drawn. The
                # full text is in the sidebar and the export.
                (places[:1001], None),
            )
        )
        keys.append(str(w.rank))
    return rows, keys


class ThreadTable(LineTable):
    """The selected worker's threads under libgomp and LLVM side by side; rows that differ are highlighted, and the
    title says how many do (they may be scrolled out of sight on a big machine)."""

    show_cursor = False

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(("thr", "libgomp: place → CPUs", "LLVM libomp: place → CPUs"), id=id)
        self._shown: tuple | None = None
        self._memo: IdentityMemo[tuple[list, str, int]] = IdentityMemo()  # content by worker

    def show_worker(self, worker: Worker | None) -> int:
        """Returns the number of threads placed differently by the two runtimes."""
        if self._shown is not None and self._shown[0] is worker:
            return self._shown[1]
        rows, title, diff = self._content(worker)
        set_border_title(self, title)
        self._shown = (worker, diff)
        self.set_rows(rows)
        return diff

    def prepare(self, worker: Worker | None) -> int:
        """Build the rows of a worker that may be shown next (the explorer's look-ahead), and draw those on screen
        it changes. Returns the number of lines drawn."""
        return self.prepare_rows(self._content(worker)[0])

    def _content(self, worker: Worker | None) -> tuple[list, str, int]:
        return self._memo.get((worker,), (), lambda: _thread_rows(worker))


def set_border_title(widget: Widget, title: str) -> None:
    """Set ``widget``'s border title, repainting the top border line that shows it (Textual's setter repaints the
    whole widget: a table whose title counts its threads was redrawn on every plan)."""
    if title == widget.border_title:
        return
    # what Widget.border_title's setter stores, without its refresh of every line
    widget._border_title = widget.render_str(title).expand_tabs(4).split()[0]
    if widget.styles.border_top[0]:
        # refresh() takes regions of the content (inside border and padding): the top border line is above it
        left, top = widget.content_offset
        widget.refresh(Region(-left, -top, widget.size.width, 1))


def _thread_rows(worker: Worker | None) -> tuple[list, str, int]:
    """(rows, title, number of threads the runtimes place differently)."""
    if worker is None:
        return [], "Threads", 0
    diff = 0
    rows = []
    n = max(len(worker.gnu), len(worker.llvm))
    red = Style(bold=True, color="red")
    for i in range(n):
        g = worker.gnu[i] if i < len(worker.gnu) else None
        ll = worker.llvm[i] if i < len(worker.llvm) else None
        differs = (g is None) != (ll is None) or (g is not None and ll is not None and g.cpus != ll.cpus)
        diff += differs
        style = red if differs else None
        rows.append(((str(i), None), (_placement(g), style), (_placement(ll), style)))
    title = f"Rank {worker.rank}: {plural(n, 'thread')} · " + (
        f"{diff} {'differs' if diff == 1 else 'differ'} between runtimes" if diff else "same in both runtimes"
    )
    return rows, title, diff


def _placement(tp) -> str:
    if tp is None:
        return "—"
    where = "unbound" if tp.place is None else f"place {tp.place}"
    return f"{where} → {tp.cpus.to_list()}"


SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "bold cyan"}
SEVERITY_ICON = {"error": "✖", "warning": "▲", "info": "ℹ"}


class WarningList(OptionList):
    """Planner warnings; highlighting one tells the app which PUs/ranks to highlight on the map."""

    class Selected(Message):
        def __init__(self, warning: PlanWarning | None) -> None:
            super().__init__()
            self.warning = warning

    def __init__(self, plan: Plan | None = None, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._initial = plan
        self._warnings: tuple[PlanWarning, ...] = ()

    def on_mount(self) -> None:
        self.show_plan(self._initial)

    def show_plan(self, plan: Plan | None) -> None:
        self._warnings: tuple[PlanWarning, ...] = plan.warnings if plan is not None else ()
        self.clear_options()
        if not self._warnings:
            self.add_option(Option(Text("No warnings for this plan.", "dim"), disabled=True))
            return
        for i, w in enumerate(self._warnings):
            t = Text()
            t.append(f"{SEVERITY_ICON.get(w.severity, '•')} ", SEVERITY_STYLE.get(w.severity, ""))
            t.append(w.message)
            refs = []
            if w.ranks:
                refs.append("ranks " + CpuSet(w.ranks).to_list())
            if w.cpus:
                refs.append("CPUs " + _clip(w.cpus.to_list(), 40))
            if refs:
                t.append("  [" + "; ".join(refs) + "]", "dim")
            t.append(f"  ({w.code})", "dim italic")
            self.add_option(Option(t, id=str(i)))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        ws = getattr(self, "_warnings", ())
        idx = event.option_index
        tell_app(self, self.Selected(ws[idx] if 0 <= idx < len(ws) else None))

    def on_blur(self) -> None:
        pass


class TabBar(BaseStyleCache, Widget, can_focus=True):
    """The panel tabs as one line-drawn widget (label line + underline); click or left/right switch tabs."""

    DEFAULT_CSS = """
    TabBar { height: 2; width: 1fr; }
    TabBar > .tabbar--tab { color: $foreground 50%; }
    TabBar > .tabbar--active { color: $foreground; text-style: bold; }
    TabBar:focus > .tabbar--active { background: $block-cursor-background; color: $block-cursor-foreground; }
    TabBar > .tabbar--bar { color: $foreground 10%; }
    TabBar > .tabbar--bar-active { color: $block-cursor-background; }
    """
    COMPONENT_CLASSES = {"tabbar--tab", "tabbar--active", "tabbar--bar", "tabbar--bar-active"}
    BINDINGS = [
        Binding("left", "step(-1)", "Previous tab", show=False),
        Binding("right", "step(1)", "Next tab", show=False),
    ]

    class Activated(Message):
        def __init__(self, tab: str) -> None:
            super().__init__()
            self.tab = tab

    def __init__(self, tabs: dict[str, str], active: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.labels = dict(tabs)  # pane id -> label
        self.active = active

    def set_label(self, tab: str, label: str) -> None:
        if self.labels.get(tab) != label:
            self.labels[tab] = label
            self.refresh()

    def set_active(self, tab: str) -> None:
        if tab != self.active:
            self.active = tab
            self.refresh()

    def _spans(self) -> list[tuple[str, int, int]]:
        out, x = [], 0
        for tab, label in self.labels.items():
            w = len(label) + 2
            out.append((tab, x, x + w))
            x += w + 1
        return out

    def render_line(self, y: int) -> Strip:
        cs = self.component_style
        base = self.base_style
        segments: list[Segment] = []
        x = 0
        for tab, x0, x1 in self._spans():
            if x0 > x:
                segments.append(Segment(" " * (x0 - x), base if y == 0 else cs("tabbar--bar")))
            active = tab == self.active
            if y == 0:
                segments.append(Segment(f" {self.labels[tab]} ", cs("tabbar--active" if active else "tabbar--tab")))
            else:
                segments.append(Segment("━" * (x1 - x0), cs("tabbar--bar-active" if active else "tabbar--bar")))
            x = x1
        width = self.size.width
        if x < width:
            segments.append(Segment((" " if y == 0 else "━") * (width - x), base if y == 0 else cs("tabbar--bar")))
        return Strip(segments).crop(0, width)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.refresh()

    def on_click(self, event) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        for tab, x0, x1 in self._spans():
            if x0 <= offset.x < x1:
                tell_app(self, self.Activated(tab))

    def action_step(self, delta: int) -> None:
        tabs = list(self.labels)
        i = tabs.index(self.active) if self.active in tabs else 0
        tell_app(self, self.Activated(tabs[(i + delta) % len(tabs)]))


class KeyBar(BaseStyleCache, Widget):
    """The footer as ONE widget: the screen's shown bindings as `key description`, the palette key on the right.

    Textual's Footer is one widget per key and recomposes on every focus change; this draws a line instead.
    Clicking a key presses it.
    """

    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $footer-background; color: $footer-foreground; }
    KeyBar > .keybar--key { color: $footer-key-foreground; background: $footer-key-background; text-style: bold; }
    KeyBar > .keybar--description { color: $footer-description-foreground; background: $footer-description-background; }
    KeyBar > .keybar--separator { color: $foreground 20%; }
    """
    COMPONENT_CLASSES = {"keybar--key", "keybar--description", "keybar--separator"}

    def __init__(
        self, *, short: dict[str, str] | None = None, priority: tuple[str, ...] = (), id: str | None = None
    ) -> None:
        super().__init__(id=id)
        # When the full footer does not fit: action -> shorter label, and the actions to keep (most important
        # first, shown even if the binding is hidden at full width, e.g. `c` when the narrow screen hides the form).
        # Other keys are dropped first, whole items at a time: a label is never cut mid-word.
        self._short = short or {}
        self._priority = priority
        self._spans: list[tuple[int, int, str]] = []  # x0, x1, key
        self._drawn: tuple | None = None  # the full-width items and palette key last drawn

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_updated)

    def _bindings_updated(self, _screen) -> None:
        # Focus moves signal this often (at start-up twice) with the same keys: repaint only when they differ.
        if self._items() != self._drawn:
            self.refresh()

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _items(
        self, narrow: bool = False
    ) -> tuple[list[tuple[str, str, str, bool]], tuple[str, str, str, bool] | None]:
        app = self.app
        seen: set[str] = set()
        items, palette, rank = [], None, []
        active = list(self.screen.active_bindings.values())
        shown_actions = {b.action for _n, b, _e, _t in active if b.show}
        for _node, binding, enabled, _tip in active:
            if binding.action == "app.command_palette" or binding.key == app.COMMAND_PALETTE_BINDING:
                if app.ENABLE_COMMAND_PALETTE:
                    palette = (binding.key, app.get_key_display(binding), binding.description, enabled)
                continue
            # a hidden binding is added only for an action no shown key offers (ctrl+q when q Quit is there: no)
            hidden_ok = narrow and binding.action in self._priority and binding.action not in shown_actions
            wanted = binding.show or hidden_ok
            if not wanted or binding.action in seen:
                continue
            seen.add(binding.action)
            desc = self._short.get(binding.action, binding.description) if narrow else binding.description
            items.append((binding.key, app.get_key_display(binding), desc, enabled))
            rank.append(binding.action)
        if narrow:
            # drop the least important keys (not listed, the last first; then listed ones from the end) until
            # the compact items " k label" fit
            def cost(i: int) -> int:
                return 3 + len(items[i][1]) + len(items[i][2])

            keep = list(range(len(items)))
            order = sorted(
                keep,
                key=lambda i: (
                    rank[i] in self._priority,
                    -self._priority.index(rank[i]) if rank[i] in self._priority else -i,
                ),
            )
            width = self.size.width
            for i in order:
                if sum(cost(j) for j in keep) <= width:
                    break
                keep.remove(i)
            items = [items[i] for i in keep]
        return items, palette

    def render_line(self, y: int) -> Strip:
        cs = self.component_style
        key_style, desc_style = cs("keybar--key"), cs("keybar--description")
        dim = Style(dim=True)
        items, palette = self._drawn = self._items()
        width = self.size.width
        narrow = sum(3 + len(shown) + len(desc) for _, shown, desc, _ in items) > width
        if narrow:
            items, palette = self._items(narrow=True)
        segments: list[Segment] = []
        spans: list[tuple[int, int, str]] = []
        x = 0
        for key, shown, desc, enabled in items:
            text_key, text_desc = f" {shown} ", f"{desc} "
            k, d = (key_style, desc_style) if enabled else (key_style + dim, desc_style + dim)
            segments += [Segment(text_key, k), Segment(text_desc, d)]
            spans.append((x, x + len(text_key) + len(text_desc), key))
            x += len(text_key) + len(text_desc)
        tail: list[Segment] = []
        if palette is not None:
            key, shown, desc, _ = palette
            tail = [Segment("▕", cs("keybar--separator")), Segment(shown, key_style), Segment(f" {desc} ", desc_style)]
            tail_w = sum(len(s.text) for s in tail)
            if x + tail_w <= width:
                segments.append(Segment(" " * (width - x - tail_w), self.base_style))
                spans.append((width - tail_w, width, key))
                segments += tail
        self._spans = spans
        return Strip(segments).crop_extend(0, width, self.base_style)

    def on_click(self, event) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        for x0, x1, key in self._spans:
            if x0 <= offset.x < x1:
                self.app.simulate_key(key)
                return


def _breaks(plain: str, width: int) -> list[int]:
    """Where to fold a line: after the last space within the width when there is one in its second half (lists
    such as GOMP_CPU_AFFINITY keep their numbers whole), else at the width (OMP_PLACES has no spaces)."""
    out, start = [], 0
    while len(plain) - start > width:
        cut = plain.rfind(" ", start + width // 2, start + width)
        cut = cut + 1 if cut >= 0 else start + width
        out.append(cut)
        start = cut
    return out


class TextLine(BaseStyleCache, Widget):
    """One line of styled text ending in "…" when it does not fit (the legend), drawn as a strip: a Static renders
    through Textual's content pipeline on every update (~1 ms for the one line, on each change of rank count)."""

    DEFAULT_CSS = "TextLine { height: 1; }"

    def __init__(self, text: Text | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = text if text is not None else Text()
        self._strip: Strip | None = None  # the line drawn at _strip_width
        self._strip_width = -1
        self._memo: IdentityMemo[Strip] = IdentityMemo()  # drawn lines by text and (width, base style)

    @property
    def text(self) -> Text:
        return self._text

    def update(self, text: Text) -> None:
        if text != self._text:
            self._text = text
            self._strip = None
            self.refresh()

    def prepare(self, text: Text) -> None:
        """Draw a text that may be shown next (the explorer's look-ahead: the legend of a plan made ahead)."""
        width = self.content_size.width
        if width > 0:
            self._memo.get((text,), (width, self.base_style), lambda: self._draw(text, width))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strip = None

    def _draw(self, text: Text, width: int) -> Strip:
        text = text.copy()
        text.truncate(width, overflow="ellipsis")
        segments = Segment.simplify(text.render(self.app.console, end=""))
        return Strip(segments).apply_style(self.base_style).crop_extend(0, width, self.base_style)

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        if y:
            return Strip.blank(width, self.base_style)
        if self._strip is None or self._strip_width != width:
            text = self._text
            self._strip = self._memo.get((text,), (width, self.base_style), lambda: self._draw(text, width))
            self._strip_width = width
        return self._strip


def _blank(width: int, style: Style, _kept: dict = {}) -> Strip:  # noqa: B006 (the kept lines)
    """A blank line: the same Strip for the same width and style (a paint keeps its work on the Strip)."""
    key = (width, style)
    strip = _kept.get(key)
    if strip is None:
        if len(_kept) > 64:
            _kept.clear()
        strip = _kept[key] = Strip.blank(width, style)
    return strip


class _Folded(NamedTuple):
    """A text folded at one width, and its lines as drawn in one base style (only those drawn so far)."""

    parts: list[Text]
    strips: dict[int, Strip]


class TextView(LineScrollView):
    """Scrollable styled text folded at the widget's width, drawn with the line API: only visible lines are
    rendered, and a new text does not relayout the screen (a Static in a VerticalScroll did both on every plan)."""

    # Folded at its width, the text never needs a horizontal scrollbar. Without overflow-x hidden, a vertical
    # scrollbar appearing (a longer environment) narrowed the text below its folded width: a horizontal bar came,
    # the refold sent it away, and one key press cost two extra layouts and three paints over 60 ms.
    DEFAULT_CSS = "TextView { background: transparent; overflow-x: hidden; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = Text()
        self._folded: _Folded | None = None  # self._text at _folded_key
        self._folded_key: tuple | None = None  # (width, base style)
        # Folded texts by text and (width, base style): the explorer's look-ahead prepares the next plan's text,
        # folded and its first screen drawn, and the change that shows it finds them ready.
        self._memo: IdentityMemo[_Folded] = IdentityMemo()

    @property
    def _parts(self) -> list[Text] | None:
        return None if self._folded is None else self._folded.parts

    @property
    def _strips(self) -> dict[int, Strip]:
        """The current text's drawn lines (tests drop them to compare the screen with a full repaint)."""
        return {} if self._folded is None else self._folded.strips

    def update(self, text: Text) -> None:
        old = self._folded
        self._text = text
        self._folded = None
        if self.scroll_offset.y:
            self.scroll_to(y=0, animate=False)
            self.refresh()
            return
        parts = self._fold()
        if old is None or self._folded is None:
            self.refresh()
            return
        # Repaint only the lines that differ (a new bind policy changes one line of the environment; a `+` the
        # rank's CPU list at the top and where its places end, not the places in between).
        old_parts = old.parts
        changed = [i for i, part in enumerate(parts) if i >= len(old_parts) or old_parts[i] != part]
        changed += range(len(parts), len(old_parts))
        height = self.size.height
        refresh_line_runs(self, [i for i in changed if i < height])  # (not scrolled: content line = screen line)

    @property
    def plain(self) -> str:
        return self._text.plain

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        # Fold for the new width inside Textual's layout pass, so the next frame is already the final one.
        resized = super()._size_updated(size, virtual_size, container_size, layout)
        self._fold()
        return resized

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._folded = None  # drawn in the old base style: looked up again under the new one

    def prepare(self, text: Text) -> int:
        """Fold a text that may be shown next and draw its first screen, taken through the rest of a paint
        (stylescache.draw_ahead): the explorer's look-ahead. Returns the number of lines drawn."""
        width = self.line_box()[2]
        if width <= 0:
            return 0
        base = self.base_style
        folded = self._memo.get((text,), (width, base), lambda: _Folded(_fold_text(text, width), {}))
        strips, drawn, height = folded.strips, 0, self.size.height
        lines = range(min(height, len(folded.parts)))
        for index in lines:
            if index not in strips:
                strips[index] = self._draw(folded.parts[index])
                drawn += 1
        if not self.scroll_offset.y:  # (shown from its first line: update() scrolls back there)
            # every line, also those drawn before: the rest of their paint may have been forgotten since (a new box);
            # and the blank lines under a shorter text
            ahead = {index: strips[index].crop_extend(0, width, base) for index in lines}
            ahead.update((index, _blank(width, base)) for index in range(len(lines), height))
            draw_ahead(self, ahead)
        return drawn

    def _fold(self) -> list[Text]:
        width = self.line_box()[2]
        if width <= 0:
            return []  # not laid out yet: folding at a made-up width would be thrown away (and is slow at 1)
        key = (width, self.base_style)
        if self._folded is None or key != self._folded_key:
            text = self._text
            self._folded = self._memo.get((text,), key, lambda: _Folded(_fold_text(text, width), {}))
            self._folded_key = key
            set_virtual_size_quietly(self, Size(width, len(self._folded.parts)))
        return self._folded.parts

    def _draw(self, part: Text) -> Strip:
        segments = list(part.render(self.app.console, end=""))
        return Strip(Segment.simplify(segments)).apply_style(self.base_style)

    def render_line(self, y: int) -> Strip:
        parts = self._fold()
        _, scroll_y, width = self.line_box()
        index = scroll_y + y
        if index >= len(parts) or self._folded is None:
            return _blank(width, self.base_style)
        strips = self._folded.strips
        strip = strips.get(index)
        if strip is None:
            strip = strips[index] = self._draw(parts[index])
        return strip.crop_extend(0, width, self.base_style)


def _fold_text(text: Text, width: int) -> list[Text]:
    """``text`` folded at ``width``, one Text per screen line, trailing blank lines dropped."""
    parts: list[Text] = []
    for line in text.split("\n", allow_blank=True):
        plain = line.plain
        parts.extend(line.divide(_breaks(plain, width)) if len(plain) > width else (line,))
    while parts and not parts[-1].plain:
        parts.pop()
    return parts


def explain_text(plan: Plan | None, lines: tuple[str, ...]) -> Text:
    t = Text()
    if plan is None:
        t.append("No plan yet.", "dim")
        return t
    r = plan.request
    head = f"{plural(r.ranks, 'rank')} · strategy {r.strategy} · SMT {r.smt} · places {r.places} · bind {r.bind}"
    t.append(head + "\n\n", "bold")
    for line in lines:
        t.append("• ", "bold")
        t.append(line + "\n")
    return t


def pu_info_text(topo: Topology, plan: Plan | None, cpus: CpuSet, pu: int | None, owners: dict | None = None) -> Text:
    """Details of the hovered cell: one PU, or a folded group of PUs. ``owners``: the plan's owner_map()."""
    t = Text()
    if not cpus:
        t.append("Hover a PU for details; click it to toggle reserved.", "dim")
        return t
    if owners is None:
        owners = plan.owner_map() if plan is not None else {}
    if pu is not None and topo.has_pu(pu):
        p = topo.pu(pu)
        t.append(f"PU P#{p.os_index}", "bold")
        t.append(f"  L#{p.logical_index if p.logical_index is not None else '-'}\n")
        where = []
        if p.core is not None:
            where.append(f"core L#{p.core}")
        if p.l3 is not None:
            where.append(f"L3 #{p.l3}")
        if p.numa is not None:
            where.append(f"NUMA {p.numa}")
        if p.package is not None:
            where.append(f"package {p.package}")
        if p.kind:
            where.append(f"kind {p.kind}")
        t.append(", ".join(where) + "\n")
        state = []
        if not p.online:
            state.append("offline")
        elif not p.allowed:
            state.append("not allowed for this process")
        if plan is not None and pu in plan.request.reserve:
            state.append("reserved")
        sib = topo.siblings(pu) if p.online else CpuSet()
        if len(sib) > 1:
            state.append("SMT siblings " + sib.to_list())
        if state:
            t.append(", ".join(state) + "\n")
        ranks = owners.get(pu, ())
        if plan is not None and ranks:
            for w in plan.workers:
                if w.rank in ranks:
                    rt = plan.request.runtime
                    thr = [tp.thread for tp in w.threads(rt) if pu in tp.cpus]
                    t.append(f"rank {w.rank}", rank_style(w.rank))
                    name = "libgomp" if rt == "gnu" else "LLVM"
                    t.append(f" threads {CpuSet(thr).to_list() or 'none'} ({name})\n" if thr else " (no thread here)\n")
        elif plan is not None:
            t.append("not used by any rank\n", "dim")
        return t
    t.append(f"{len(cpus)} PUs: ", "bold")
    t.append(_clip(cpus.to_list(), 60) + "\n")
    ranks = sorted({r for c in cpus for r in owners.get(c, ())})
    if ranks:
        t.append("ranks " + _clip(CpuSet(ranks).to_list(), 40) + "\n")
    return t


ENV_VALUE_LIMIT = 4000  # characters of one variable shown in the sidebar; export has the whole text


def _env_value(value: str) -> str:
    # 4,096-PU plans have OMP_PLACES/GOMP_CPU_AFFINITY of tens of kB: wrapping them all on every change would cost
    # more than the plan. Say plainly that the rest is cut.
    if len(value) <= ENV_VALUE_LIMIT:
        return value
    return value[:ENV_VALUE_LIMIT] + f"… (+{len(value) - ENV_VALUE_LIMIT:,} more characters: export shows all)"


def worker_env_text(worker: Worker | None, error: str | None = None) -> Text:
    """The selected worker's environment (each value up to ENV_VALUE_LIMIT characters) and its equivalents."""
    t = Text()
    if error:
        t.append(error + "\n\n", "bold red")
    if worker is None:
        t.append("No worker selected.", "dim")
        return t
    t.append(f"rank {worker.rank}", rank_style(worker.rank))
    t.append(f"  {len(worker.cpus)} CPUs: {worker.cpus.to_list()}\n")
    if not worker.env:
        t.append("no OpenMP variables (not bound)\n", "italic")
    for k, v in worker.env:
        t.append(k, "bold")
        t.append(f"={_env_value(v)}\n")
    for k, v in worker.alt_env:
        t.append(k, "dim bold")
        t.append(f"={_env_value(v)}\n", "dim")
    return t
