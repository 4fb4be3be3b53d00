"""LineStylesCache (ompviz.tui.widgets.stylescache) against Textual's own StylesCache, segment by segment.

Every line-drawn widget of ompviz has its content lines put in their CSS box by LineStylesCache's faster path; the
strips must be exactly what Textual's StylesCache makes (text, style, cell length), for every CSS the box can
have: borders of each kind and side, padding, titles, colours, focus tint; and outline, tint, opacity, text
opacity and hatch, which must go through Textual's own code. And in the real explorer, at two sizes and two themes.
"""

from __future__ import annotations

import asyncio

import pytest
from rich.segment import Segment
from rich.style import Style
from textual._styles_cache import StylesCache
from textual.app import App
from textual.containers import Vertical
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from ompviz.tui.widgets.stylescache import LineStylesCache
from ompviz.tui.widgets.topomap import BaseStyleCache

PALETTE = [Style(color="#000000", bgcolor=c) for c in ("#5fafff", "#ffaf5f", "#87d787")]


class Lines(BaseStyleCache, Widget, can_focus=True):
    """Coloured cells, a different pattern per line; some lines shorter than the content width (padded by the box)."""

    def render_line(self, y: int) -> Strip:
        n = 3 + (y * 7) % 11
        segs = [Segment(f"{y}:{i} ", PALETTE[(i + y) % 3]) for i in range(n)]
        return Strip(segs)


PLAIN = [
    "",
    "border: round red;",
    "border: solid $primary 40%; border-title-color: $text-muted;",
    "border-top: solid $primary 40%; padding: 0 1;",
    "border-left: heavy green;",
    "border-right: tall blue; padding: 0 2 0 0;",
    "border: double yellow; padding: 1 2;",
    "padding: 2 0 1 3; background: $surface;",
    "border: round $accent; background: transparent;",
    "border: ascii white; padding: 0 1; background: #202020 50%;",
    "background-tint: $foreground 5%; border: round red;",
    "border-left: heavy green; border-right: solid red 50%; padding: 0 1 0 2;",
]
FALLBACK = [
    "outline: solid red;",
    "outline-left: heavy blue; border: round red;",
    "tint: red 30%;",
    "opacity: 60%;",
    "text-opacity: 50%;",
    "hatch: cross $primary;",
]


def host(css_list: list[str]):
    class Host(App[None]):
        CSS = "\n".join(f"#w{i} {{ height: 9; {css} }}" for i, css in enumerate(css_list))

        def compose(self):
            with Vertical():
                for i in range(len(css_list)):
                    w = Lines(id=f"w{i}")
                    w.border_title = f"title {i}" if i % 2 else None
                    w.border_subtitle = "sub" if i % 3 == 0 else None
                    yield w

    return Host()


def both(widget: Widget, crop: Region) -> tuple[list[Strip], list[Strip]]:
    return LineStylesCache().render_widget(widget, crop), StylesCache().render_widget(widget, crop)


def same(a: list[Strip], b: list[Strip]) -> bool:
    return [(list(s), s.cell_length) for s in a] == [(list(s), s.cell_length) for s in b]


def compare_all(app: App, widgets) -> int:
    n = 0
    for w in widgets:
        size = w.region.size
        for crop in (size.region, Region(0, 1, size.width, max(size.height - 2, 1)), Region(2, 0, 7, size.height)):
            ours, textual = both(w, crop)
            assert same(ours, textual), (w.id, w.styles.css, crop)
            n += len(ours)
    return n


def textual_rows(widgets, monkeypatch):
    """(widget, the rows LineStylesCache left to Textual's StylesCache.render_line) for each widget."""
    calls: list[int] = []
    original = StylesCache.render_line
    monkeypatch.setattr(StylesCache, "render_line", lambda self, *a: calls.append(a[1]) or original(self, *a))
    out = []
    for w in widgets:
        calls.clear()
        LineStylesCache().render_widget(w, w.region.size.region)
        out.append((w, sorted(calls)))
    monkeypatch.undo()
    return out


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
def test_plain_boxes_match_textual_and_take_the_fast_path(theme, monkeypatch):
    async def run() -> None:
        app = host(PLAIN)
        async with app.run_test(size=(60, 120)) as pilot:
            app.theme = theme
            app.query_one("#w10").focus()  # the focus tint changes the background colours
            await pilot.pause()
            widgets = list(app.query(Lines))
            assert compare_all(app, widgets) > 200
            # and the fast path is really taken: Textual's line code only for border and padding rows
            for w, rows in textual_rows(widgets, monkeypatch):
                gutter = w.styles.gutter
                assert rows == [*range(gutter.top), *range(w.region.height - gutter.bottom, w.region.height)]

    asyncio.run(run())


def test_effects_go_through_textual(monkeypatch):
    async def run() -> None:
        app = host(FALLBACK)
        async with app.run_test(size=(60, 70)) as pilot:
            await pilot.pause()
            widgets = list(app.query(Lines))
            assert compare_all(app, widgets) > 100
            for w, rows in textual_rows(widgets, monkeypatch):
                assert rows == list(range(w.region.height))  # every line: Textual's own

    asyncio.run(run())


@pytest.mark.parametrize("size", [(160, 50), (80, 24)])
def test_the_explorer_widgets_match_textual(size):
    from tui_machines import big4096

    from ompviz.plan.model import PlanRequest
    from ompviz.tui.app import OmpvizApp

    async def run() -> None:
        app = OmpvizApp(big4096(), PlanRequest(ranks=16, strategy="spread"), optional_screens={})
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            for theme in ("textual-dark", "textual-light"):
                app.theme = theme
                await pilot.pause()
                widgets = [w for w in app.screen.walk_children(Widget) if isinstance(w._styles_cache, LineStylesCache)]
                widgets = [w for w in widgets if w.region.size.width and w.region.size.height]
                assert {type(w).__name__ for w in widgets} >= {"TopologyMap", "KeyBar", "TextLine"}
                assert compare_all(app, widgets) > 20

    asyncio.run(run())


def test_unchanged_widgets_hand_back_their_lines_and_changed_ones_draw_again():
    """KeepsLines: a partial update renders every widget under its bounding box; one whose lines are all current
    (nothing marked dirty, nothing emptied by a whole-widget refresh) hands back the same lines. A repainted line, a
    whole refresh, a new style and a new size each draw again, and what is handed back is what a fresh render draws."""

    class Counting(Lines):
        drawn = 0
        shift = 0

        def render_line(self, y: int) -> Strip:
            self.drawn += 1
            return super().render_line(y + self.shift)

    class Demo(App[None]):
        CSS = "Counting { width: 30; height: 5; border: round red; }"

        def compose(self):
            yield Counting()

    async def run() -> None:
        app = Demo()
        async with app.run_test(size=(60, 12)) as pilot:
            await pilot.pause()
            w = app.query_one(Counting)
            crop = Region(0, 0, *w.outer_size)  # what the compositor asks: the widget with its border

            def fresh() -> list:
                w._kept = None
                w._styles_cache.clear()
                return [list(s) for s in w.render_lines(crop)]

            first = w.render_lines(crop)
            drawn = w.drawn
            assert w.render_lines(crop) is first and w.drawn == drawn  # nothing changed: the same lines, none drawn
            w.shift = 1
            w.refresh(Region(0, 1, 28, 1))  # one content line repainted
            second = w.render_lines(crop)
            assert second is not first and w.drawn == drawn + 1
            assert [list(s) for s in second][2] != [list(s) for s in first][
                2
            ]  # (line 1 of the content, under the border)
            assert w.render_lines(crop) is second
            w.refresh()  # the whole widget
            third = w.render_lines(crop)
            assert third is not second and [list(s) for s in third] == fresh()
            w.styles.border = ("heavy", "blue")  # a new style refreshes the whole widget
            await pilot.pause()
            fourth = w.render_lines(crop)
            assert fourth is not third and [list(s) for s in fourth] == fresh()
            w.styles.width = 20  # a new size
            await pilot.pause()
            crop = Region(0, 0, *w.outer_size)  # what the compositor asks: the widget with its border
            assert [list(s) for s in w.render_lines(crop)] == fresh()
            # only a border (no content line): a whole refresh marks no line dirty, it empties the cache
            w.styles.height = 2
            await pilot.pause()
            crop = Region(0, 0, *w.outer_size)
            before = w.render_lines(crop)
            assert w.render_lines(crop) is before
            w.styles.border = ("double", "green")
            await pilot.pause()
            assert not w._styles_cache._dirty_lines
            assert [list(s) for s in w.render_lines(crop)] == fresh() != [list(s) for s in before]

    asyncio.run(run())
