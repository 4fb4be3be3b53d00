"""LineScrollBar draws what Textual's ScrollBar draws: same text, same styles (colours, reverse, mouse actions in the
meta), line by line, for vertical and horizontal bars, every thumb position, hover and grab, cropped renders, other
themes and scrollbar colours. The reference is Textual's own ScrollBar.render_lines on the same widget."""

from __future__ import annotations

import asyncio

from rich.segment import Segment
from shadow import calls_of
from textual.app import App, ComposeResult
from textual.geometry import Offset, Region, Size
from textual.scrollbar import ScrollBar
from textual.strip import Strip

from ompviz.tui.widgets.scrollbar import LineScrollBar
from ompviz.tui.widgets.topomap import LineScrollView, set_virtual_size_quietly


class Pane(LineScrollView):
    DEFAULT_CSS = "Pane { width: 40; height: 12; overflow: scroll scroll; }"

    def render_line(self, y: int) -> Strip:
        return Strip.blank(self.scrollable_content_region.width, self.base_style)


class Demo(App[None]):
    CSS = "#thick { scrollbar-size: 3 2; } #coloured { scrollbar-color: red; scrollbar-background: #203040 50%; }"

    def compose(self) -> ComposeResult:
        yield Pane(id="plain")
        yield Pane(id="thick")
        yield Pane(id="coloured")


def _cells(strips: list[Strip]) -> list[list[tuple[str, object]]]:
    """Each line as (character, style) cells: segment boundaries may differ, what the terminal shows may not."""
    out = []
    for strip in strips:
        line = []
        for seg in Segment.simplify(list(strip)):
            line.extend((ch, seg.style) for ch in seg.text)
        out.append(line)
    return out


def _reference(bar: ScrollBar, crop: Region) -> list[Strip]:
    bar._set_dirty()  # forget Textual's cached lines: render from scratch
    return ScrollBar.render_lines(bar, crop)


def _check(bar: LineScrollBar) -> int:
    width, height = bar.size
    crops = [Region(0, 0, width, height)]  # what the compositor asks: parts of the bar, never beyond it
    if height > 2:
        crops.append(Region(0, 1, width, height - 2))
    if width > 2:
        crops.append(Region(1, 0, width - 2, height))
    for crop in crops:
        assert _cells(LineScrollBar.render_lines(bar, crop)) == _cells(_reference(bar, crop)), (bar.vertical, crop)
    return len(crops)


def test_line_scrollbar_matches_textual_scrollbar():
    async def run() -> int:
        app = Demo()
        checked = 0
        async with app.run_test(size=(130, 14)) as pilot:
            await pilot.pause()
            for pane in app.query(Pane):
                for virtual in (Size(41, 13), Size(80, 30), Size(300, 500), Size(39, 11)):
                    set_virtual_size_quietly(pane, virtual)
                    await pilot.pause()
                    for frac in (0.0, 0.13, 0.5, 0.77, 1.0):
                        pane.scroll_to(pane.max_scroll_x * frac, pane.max_scroll_y * frac, animate=False)
                        await pilot.pause()
                        for bar in (pane.vertical_scrollbar, pane.horizontal_scrollbar):
                            assert isinstance(bar, LineScrollBar)
                            assert bar.display and bar.size, "the demo shows both bars"
                            assert bar._plain()
                            checked += _check(bar)
                            bar.mouse_over = True
                            checked += _check(bar)
                            bar.grabbed = Offset(0, 0)
                            checked += _check(bar)
                            bar.grabbed, bar.mouse_over = None, False
            app.theme = "textual-light"
            await pilot.pause()
            for pane in app.query(Pane):
                for bar in (pane.vertical_scrollbar, pane.horizontal_scrollbar):
                    checked += _check(bar)
        return checked

    assert asyncio.run(run()) > 500


def test_unusual_scrollbars_take_textuals_path():
    """A custom renderer or a styled bar (here: a tint) is drawn by Textual itself."""

    class Other(ScrollBar.renderer):  # type: ignore[name-defined,misc]
        pass

    async def run() -> None:
        app = Demo()
        async with app.run_test(size=(130, 14)) as pilot:
            pane = app.query_one("#plain", Pane)
            set_virtual_size_quietly(pane, Size(80, 30))
            await pilot.pause()
            bar = pane.vertical_scrollbar
            assert bar._plain()
            bar.renderer = Other
            assert not bar._plain()
            bar.renderer = ScrollBar.renderer
            bar.styles.tint = "red 20%"
            assert not bar._plain()
            crop = Region(0, 0, *bar.size)
            assert _cells(bar.render_lines(crop)) == _cells(_reference(bar, crop))

    asyncio.run(run())


def test_clicking_and_dragging_the_bar_scroll_the_pane():
    """The bar's mouse actions travel in the strips' styles: a click on the track below the thumb scrolls down,
    dragging the thumb scrolls too (Textual's ScrollBar handles both; our strips must carry its meta)."""

    async def run() -> None:
        app = Demo()
        async with app.run_test(size=(130, 14)) as pilot:
            pane = app.query_one("#plain", Pane)
            set_virtual_size_quietly(pane, Size(80, 300))
            await pilot.pause()
            bar = pane.vertical_scrollbar
            x, y = bar.region.x, bar.region.bottom - 1
            assert pane.scroll_y == 0
            await pilot.click(offset=(x, y))
            await pilot.pause()
            assert pane.scroll_y > 0, "a click on the lower track scrolls down"
            pane.scroll_to(y=0, animate=False)
            await pilot.pause()
            await pilot.mouse_down(offset=(x, bar.region.y))
            await pilot.hover(offset=(x, bar.region.y + 5))
            await pilot.mouse_up(offset=(x, bar.region.y + 5))
            await pilot.pause()
            assert pane.scroll_y > 0, "dragging the thumb scrolls"

    asyncio.run(run())


def test_a_pane_resized_by_a_layout_costs_one_layout_not_two():
    """Switching to manual grows the request form, which shrinks the environment pane below it, and its scrollbar
    with it. Textual's Widget stored the scrollbar's new size through a layout reactive, so the screen was laid out
    a second time and the bar painted a frame later; LineScrollBar stores it without asking for a layout."""
    from textual.screen import Screen
    from tui_machines import zen4_like

    from ompviz.plan.model import PlanRequest
    from ompviz.tui.app import OmpvizApp

    async def run() -> None:
        app = OmpvizApp(zen4_like(), PlanRequest(ranks=4, strategy="distrib"), optional_screens={})
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            env = app.query_one("#worker-env", LineScrollView)
            assert env.show_vertical_scrollbar
            before = env.vertical_scrollbar.size
            with calls_of(Screen, "_refresh_layout") as layouts:
                await pilot.press("s")  # distrib -> manual: the form gains the lists field
                for _ in range(10):
                    await pilot.pause()
                    await asyncio.sleep(0.02)
            assert app.request.strategy == "manual"
            assert env.vertical_scrollbar.size != before, "the pane (and its scrollbar) was resized"
            assert len(layouts) == 1, f"{len(layouts)} layouts for one key press"

    asyncio.run(run())


def test_new_numbers_repaint_only_the_lines_of_the_bar_that_change():
    """Textual repaints a whole scrollbar when its pane holds more or scrolls; the compositor's work is per line
    repainted, changed or not. LineScrollBar repaints the lines whose look changed, and the terminal still ends up
    as a full repaint draws it (a shadow terminal fed with Textual's updates is compared with one)."""
    from shadow import full_repaint_differences, mirror

    async def run() -> None:
        app = Demo()
        shadow = mirror(app)
        async with app.run_test(size=(130, 20)) as pilot:
            pane = app.query_one("#plain", Pane)
            set_virtual_size_quietly(pane, Size(200, 40))
            app.set_focus(None)  # a focus change restyles (and wholly repaints) the panes and their bars
            await pilot.pause()
            await asyncio.sleep(0.1)
            bar = pane.vertical_scrollbar
            assert isinstance(bar, LineScrollBar) and bar.size.height > 8
            repainted: list[Region] = []  # what the compositor is given to repaint for the bar
            original = bar._exchange_repaint_regions

            def exchange():
                regions = original()
                repainted.extend(r for r in regions if r.area)
                return regions

            bar._exchange_repaint_regions = exchange  # type: ignore[method-assign]
            changes = [
                lambda: set_virtual_size_quietly(pane, Size(200, 44)),  # a little more content: the thumb shrinks
                lambda: pane.scroll_to(y=1, animate=False),  # scrolled a line
                lambda: pane.scroll_to(y=30, animate=False),  # to the end
                lambda: set_virtual_size_quietly(pane, Size(200, 80)),  # twice as much: half the thumb
            ]
            for change in changes:
                repainted.clear()
                change()
                await pilot.pause()
                lines = sorted({y for r in repainted for y in range(r.y, r.bottom)})
                assert lines, "a change of the bar's numbers repainted nothing"
                assert len(lines) < bar.size.height, f"the whole bar ({len(lines)} lines) for a small change"
            bar._exchange_repaint_regions = original  # type: ignore[method-assign]
            assert _check(bar)  # it draws what Textual draws (after the steps: the check repaints the whole bar)
            # the track above the thumb was not repainted when the thumb went down, yet a click there scrolls up
            # (Textual reads a click's action from a fresh drawing of the line, not from what was painted)
            before = pane.scroll_offset.y
            await pilot.click(offset=(bar.region.x, bar.region.y + 1))
            await pilot.pause()
            assert pane.scroll_offset.y < before
            assert await full_repaint_differences(app, pilot, shadow) == []

    asyncio.run(run())


class AutoPane(Pane):
    DEFAULT_CSS = "AutoPane { width: 40; height: 12; overflow: hidden auto; }"


class AutoDemo(App[None]):
    def compose(self) -> ComposeResult:
        yield AutoPane()


def test_a_bar_that_comes_or_goes_costs_one_arrangement_and_shows_as_a_full_repaint_draws_it():
    """Typing a rank count makes the thread table's bar come and go. Textual asks the compositor to update a bar
    shown by a layout before that layout is done; the compositor, which does not show the bar yet, then arranged
    the whole screen a second time at the next region lookup. A bar not on the screen has nothing to repaint, and
    the layout that shows it paints it whole: the terminal must end up as a full repaint draws it."""
    from shadow import full_repaint_differences, mirror
    from textual._compositor import Compositor

    steps = [(40, True), (5, False), (30, True), (36, True), (8, False)]  # content height, bar shown

    async def run(n: int) -> None:
        app = AutoDemo()
        shadow = mirror(app)
        async with app.run_test(size=(60, 20)) as pilot:
            pane = app.query_one(AutoPane)
            app.set_focus(None)
            await pilot.pause()
            await asyncio.sleep(0.1)
            assert not pane.show_vertical_scrollbar
            with calls_of(Compositor, "_arrange_root") as arrangements:
                for height, shown in steps[:n]:
                    arrangements.clear()
                    set_virtual_size_quietly(pane, Size(38, height))
                    for _ in range(3):
                        await pilot.pause()
                    assert pane.show_vertical_scrollbar is shown
                    assert len(arrangements) <= 1, f"{len(arrangements)} arrangements of the screen for one change"
            assert await full_repaint_differences(app, pilot, shadow) == [], steps[n - 1]

    for n in range(1, len(steps) + 1):  # the terminal after each step (a shadow checks once)
        asyncio.run(run(n))


def test_typing_a_rank_count_lays_nothing_out_on_a_wide_screen():
    """16 -> 161 ranks on 4,096 PUs: the thread table goes from 65 rows to 6, the environment from 66 lines to 13.
    On a wide screen the preview panes always show their bars, so no bar comes or goes and the screen is not laid
    out again (a layout cost ~3 ms of the key press); the tables fit their columns to the bar that is there."""
    from textual.screen import Screen
    from tui_machines import big4096

    from ompviz.plan.model import PlanRequest
    from ompviz.tui.app import OmpvizApp
    from ompviz.tui.widgets.controls import Controls
    from ompviz.tui.widgets.panels import LineTable

    async def run() -> None:
        app = OmpvizApp(big4096(), PlanRequest(ranks=16, strategy="spread"), optional_screens={})
        async with app.run_test(size=(160, 50)) as pilot:
            form = app.query_one(Controls)
            form.focus()
            form.select_field("ranks")
            await pilot.pause()
            with calls_of(Screen, "_refresh_layout") as layouts:
                for key, ranks in (("1", 161), ("backspace", 16), ("2", 162)):
                    await pilot.press(key)
                    for _ in range(3):
                        await pilot.pause()
                    assert app.request.ranks == ranks
                    assert layouts == [], f"{key}: {len(layouts)} layouts"
            for table in app.query(LineTable):
                assert not table.show_horizontal_scrollbar or table.id == "threads", table.id
                assert table.show_vertical_scrollbar, table.id

    asyncio.run(run())
