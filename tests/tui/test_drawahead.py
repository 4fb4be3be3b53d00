"""Drawing ahead (ompviz.tui.widgets.stylescache.draw_ahead, TopologyMap.prepare_state, LineTable.prepare_rows,
TextView.prepare): the look-ahead draws the lines a plan one key or click away would change and takes them through
the rest of a paint; the key's paint then finds every step done, and the screen is what a full repaint draws."""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import asynccontextmanager, contextmanager

from asyncrun import look_ahead_done, sync
from rich.segment import Segment
from rich.style import Style
from shadow import full_repaint_differences, mirror
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget
from tui_machines import zen4_like

from ompviz.plan.model import PlanRequest
from ompviz.tui.app import OmpvizApp
from ompviz.tui.widgets.controls import Controls
from ompviz.tui.widgets.panels import LineTable, TextView, ThreadTable, WorkerTable
from ompviz.tui.widgets.stylescache import LineStylesCache, draw_ahead
from ompviz.tui.widgets.topomap import BaseStyleCache, TopologyMap

COLOURS = [Style(color="#000000", bgcolor=c) for c in ("#5fafff", "#ffaf5f", "#87d787")]


class Lines(BaseStyleCache, Widget):
    """Coloured cells; ``version`` changes every line."""

    version = 0

    def content(self, y: int, version: int) -> Strip:
        cells = [Segment(f"{y}:{version}:{i} ", COLOURS[(i + y + version) % 3]) for i in range(9)]
        return Strip(Segment.simplify(cells))

    def __init__(self) -> None:
        super().__init__()
        self.drawn: dict[tuple[int, int], Strip] = {}  # (y, version) -> content line, as a widget keeps them

    def line(self, y: int, version: int) -> Strip:
        strip = self.drawn.get((y, version))
        if strip is None:
            strip = self.drawn[y, version] = self.content(y, version)
        return strip

    def render_line(self, y: int) -> Strip:
        return self.line(y, self.version)


class Boxes(App[None]):
    CSS = """
    Lines { height: 12; border: round $primary; padding: 0 1; }
    #left { width: 50; }
    #right { width: 1fr; border: none; padding: 0; }
    """

    def compose(self) -> ComposeResult:
        left, right = Lines(), Lines()
        left.id, right.id = "left", "right"
        yield left
        yield right


@asynccontextmanager
async def boxes():
    """The two-widget app running, its first frame painted, a shadow terminal following it."""
    app = Boxes()
    shadow = mirror(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        yield app, pilot, shadow


@contextmanager
def paint_work():
    """What paints do while the block runs: content lines put in their box, strips whose escape sequences are
    built (not empty ones: the compositor makes those at every cut), segment lists divided at the cuts."""
    work: Counter[str] = Counter()
    box, render, divide = LineStylesCache._box, Strip.render, Segment.divide

    def counted_box(self, plain, content):
        work["boxed"] += 1
        return box(self, plain, content)

    def counted_render(self, console):
        if self._render_cache is None and self.cell_length:
            work["escape sequences built"] += 1
        return render(self, console)

    def counted_divide(segments, cuts):
        work["divided"] += 1
        return divide(segments, cuts)

    LineStylesCache._box = counted_box
    Strip.render = counted_render
    Segment.divide = counted_divide
    try:
        yield work
    finally:
        LineStylesCache._box, Strip.render, Segment.divide = box, render, divide


@sync
async def test_a_paint_of_lines_drawn_ahead_finds_every_step_done():
    async with boxes() as (app, pilot, shadow):
        for widget in app.query(Lines):
            height = widget.content_region.height
            assert draw_ahead(widget, {y: widget.line(y, 1) for y in range(height)}) == height
            assert draw_ahead(widget, {height + 3: widget.line(0, 1)}) == 0  # below the box: skipped
        with paint_work() as work:
            for widget in app.query(Lines):
                widget.version = 1
                widget.refresh()
            await pilot.pause()
        assert work == Counter(), dict(work)
        # a line drawn ahead was boxed once and kept: the same Strip comes back; a line painted is not kept
        left = app.query_one("#left", Lines)
        cache = left._styles_cache
        plain = cache._last_plain
        assert cache.boxed(plain, left.line(0, 1)) is cache.boxed(plain, left.line(0, 1))
        assert cache.boxed(plain, left.line(0, 2)) is not cache.boxed(plain, left.line(0, 2))
        assert left.styles.gutter.top == 1  # (its content line 0 is the widget's line 1: drawn ahead there too)
        assert await full_repaint_differences(app, pilot, shadow) == []


@sync
async def test_a_new_box_forgets_the_lines_boxed_in_the_old_one():
    async with boxes() as (app, pilot, shadow):
        left = app.query_one("#left", Lines)
        cache = left._styles_cache
        line = left.line(0, 1)
        draw_ahead(left, {0: line})
        assert cache.boxed(cache._last_plain, line).text[0] == "│"  # the round border's side
        left.styles.border = ("heavy", "red")  # another box: the line boxed before would show the old border
        left.version = 1
        await pilot.pause()
        boxed = cache.boxed(cache._last_plain, line)
        assert boxed.text[0] == boxed.text[-1] == "┃", boxed.text
        assert await full_repaint_differences(app, pilot, shadow) == []


@sync
async def test_a_widget_that_only_changes_height_keeps_its_boxed_lines():
    """The explorer's form grows when a strategy brings its own fields (manual, vllm) and the environment pane under
    it shrinks: the pane's lines, drawn ahead by the look-ahead, keep their box, and are painted without being boxed
    or encoded again."""
    async with boxes() as (app, pilot, shadow):
        left = app.query_one("#left", Lines)
        draw_ahead(left, {y: left.line(y, 0) for y in range(left.content_region.height)})
        with paint_work() as work:
            left.styles.height = 9
            await pilot.pause()
            await pilot.pause()
        assert left.region.height == 9
        assert work["boxed"] == 0 and work["escape sequences built"] == 0, dict(work)
        assert await full_repaint_differences(app, pilot, shadow) == []


@sync
async def test_a_widget_not_on_screen_draws_nothing_ahead():
    async with boxes() as (app, pilot, _):
        left = app.query_one("#left", Lines)
        left.display = False
        await pilot.pause()
        assert draw_ahead(left, {0: left.line(0, 1)}) == 0
        assert draw_ahead(Lines(), {0: Strip.blank(3)}) == 0  # never mounted


# -- in the explorer ---------------------------------------------------------------------------------------------
async def _quiet(pilot, app: OmpvizApp) -> None:
    await asyncio.sleep(0.35)  # the first look-ahead waits for the first screen to be read
    await look_ahead_done(pilot, app)


@contextmanager
def drawing_in_changes(app: OmpvizApp):
    """Lines drawn and boxed, by widget, inside a change and its paints (not by the look-ahead in between)."""
    drawn: Counter[str] = Counter()
    inside: list[bool] = []
    saved = []

    def watch(cls, name, label):
        original = getattr(cls, name)

        def counted(self, *args):
            if inside:
                drawn[f"{label(self)} {name}"] += 1
            return original(self, *args)

        saved.append((cls, name, original))
        setattr(cls, name, counted)

    def owner(cache) -> str:
        for widget in app.screen.walk_children():
            if getattr(widget, "_styles_cache", None) is cache:
                return widget.id or type(widget).__name__
        return "?"

    def inside_of(cls, name):
        original = getattr(cls, name)

        def wrapped(self, *args, **kwargs):
            inside.append(True)
            try:
                return original(self, *args, **kwargs)
            finally:
                inside.pop()

        saved.append((cls, name, original))
        setattr(cls, name, wrapped)

    watch(TopologyMap, "_render_full_line", lambda w: "map")
    watch(LineTable, "_render_row", lambda w: w.id)
    watch(TextView, "_draw", lambda w: w.id)
    watch(LineStylesCache, "_box", owner)
    inside_of(Screen, "_compositor_refresh")
    inside_of(OmpvizApp, "set_request")
    try:
        yield drawn
    finally:
        for cls, name, original in reversed(saved):
            setattr(cls, name, original)


PREVIEW = ("map", "workers", "threads", "worker-env", "pu-info")


def mirror_from_now(app: OmpvizApp):
    """``mirror`` for an app already running: the shadow starts as the screen is now composed."""
    shadow = mirror(app)
    shadow.apply(app.screen._compositor.render_update(full=True), app.console)
    return shadow


@sync
async def test_keys_typing_and_clicks_paint_what_was_drawn_ahead():
    """On a 384-PU machine in the PU view: `+`, `-`, `b`, `s`, a digit typed in the ranks field and deleted, and a
    click on the PU under the pointer each change the map's colours and the preview's rows and environment (a click
    also the PU's details). The look-ahead drew those lines: the change draws and boxes none of them, and the
    terminal then shows exactly what a full repaint draws."""
    app = OmpvizApp(zen4_like(), PlanRequest(ranks=8, strategy="spread"), optional_screens={})
    async with app.run_test(size=(160, 50)) as pilot:
        topology_map = app.query_one(TopologyMap)
        topology_map.set_fold("pu")
        topology_map.focus()
        await _quiet(pilot, app)
        steps = [("plus", 9), ("minus", 8), ("b", 8), ("s", 8), ("type", 81), ("backspace", 8), ("click", 8)]
        for key, ranks in steps:
            if key == "type":
                form = app.query_one(Controls)
                form.focus()
                form.select_field("ranks")
                await _quiet(pilot, app)
                key = "1"
            if key == "click":
                topology_map.focus()
                await _quiet(pilot, app)
                x, y = topology_map.screen_offset_of(100)
                await pilot.hover(TopologyMap, offset=(x + 1, y))  # the pointer rests on PU 100 first
                await _quiet(pilot, app)
            before = (app.query_one(WorkerTable)._rows, app.query_one(ThreadTable)._rows, topology_map.state)
            details = app.query_one("#pu-info", TextView).plain
            shadow = mirror_from_now(app)
            with drawing_in_changes(app) as drawn:
                if key == "click":
                    await pilot.click(TopologyMap, offset=(x + 1, y))
                else:
                    await pilot.press(key)
                for _ in range(3):
                    await pilot.pause()
            assert app.request.ranks == ranks, key
            after = (app.query_one(WorkerTable)._rows, app.query_one(ThreadTable)._rows, topology_map.state)
            assert all(a is not b for a, b in zip(before, after, strict=True)), f"{key}: the preview did not change"
            if key == "click":
                assert "reserved" in app.query_one("#pu-info", TextView).plain and "reserved" not in details
            assert {k: v for k, v in drawn.items() if k.split()[0] in PREVIEW} == {}, f"{key}: {dict(drawn)}"
            assert await full_repaint_differences(app, pilot, shadow) == [], key
            app._plan_ahead_soon()  # (that check dropped every line drawn, ahead too)
            await _quiet(pilot, app)
        assert 100 in app.request.reserve


@sync
async def test_lines_a_change_takes_away_are_kept_for_the_way_back():
    """Without the look-ahead: `+` then `-` shows the earlier plan again (kept by the plan cache); its map lines
    and rows are the ones shown before, not drawn again (they are boxed again: only lines drawn ahead keep their
    box)."""
    app = OmpvizApp(zen4_like(), PlanRequest(ranks=8, strategy="spread"), optional_screens={})
    app._plan_ahead_soon = lambda: None  # type: ignore[method-assign]
    shadow = mirror(app)
    async with app.run_test(size=(160, 50)) as pilot:
        topology_map = app.query_one(TopologyMap)
        topology_map.set_fold("pu")
        topology_map.focus()
        await pilot.pause()
        await pilot.press("plus")
        await pilot.pause()
        with drawing_in_changes(app) as drawn:
            await pilot.press("minus")
            for _ in range(3):
                await pilot.pause()
        assert app.request.ranks == 8
        assert {k: v for k, v in drawn.items() if k.split()[0] in ("map", "workers") and "_box" not in k} == {}, dict(
            drawn
        )
        assert drawn["map _box"] > 0  # (the lines did change)
        assert await full_repaint_differences(app, pilot, shadow) == []


@sync
async def test_a_new_theme_or_hover_never_shows_lines_drawn_for_the_old_one():
    """Lines drawn ahead hold the theme's colours and the hovered cell: a theme change forgets them, a hover moved
    drops the lines of the cells it leaves and enters; the screen after the next key is what a full repaint
    draws."""
    app = OmpvizApp(zen4_like(), PlanRequest(ranks=8, strategy="spread"), optional_screens={})
    async with app.run_test(size=(160, 50)) as pilot:
        topology_map = app.query_one(TopologyMap)
        topology_map.set_fold("pu")
        topology_map.focus()
        await _quiet(pilot, app)
        assert topology_map._ahead
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        assert not any(topology_map._ahead.results())
        await _quiet(pilot, app)
        for cpu in (5, 6):
            x, y = topology_map.screen_offset_of(cpu)
            await pilot.hover(TopologyMap, offset=(x + 1, y))
            await _quiet(pilot, app)
        shadow = mirror_from_now(app)
        await pilot.press("plus")
        for _ in range(3):
            await pilot.pause()
        assert await full_repaint_differences(app, pilot, shadow) == []
