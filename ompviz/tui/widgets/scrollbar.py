"""Scrollbars drawn straight into strips.

Textual draws a scrollbar through its most general path: ``render()`` builds a Rich renderable, a Rich console
renders it into segments, and the widget style cache pads and styles every line again. That costs ~1 ms per
scrollbar, and a key press that changes how much a table or a text pane holds repaints its scrollbar: on the
4,096-PU machine a `+` redrew three of them, ~3 ms of the replan-and-repaint budget (issue 4, bench/bench_replan.py).

``LineScrollBar`` builds the same segments (``ScrollBarRender.render_bar``, the glyphs, colours and mouse actions
Textual uses) and styles them the way Textual's path does, once per look (size, numbers, colours); anything
unusual (a custom renderer, borders, padding, tint, opacity, a text selection, transparent scrollbars) takes
Textual's own path. tests/tui/test_scrollbar.py compares both paths line by line.

When its numbers change (the pane holds more or less, or scrolled), Textual repaints the whole bar; every line
repainted costs the compositor the same, changed or not, and a `+` on 4,096 PUs changed three bars of 15-28 lines
whose thumb moved by a line or two. ``LineScrollBar`` repaints only the lines whose look changed.
"""

from __future__ import annotations

from collections.abc import Collection
from math import ceil

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.dom import NoScreen
from textual.geometry import Region
from textual.reactive import Reactive
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.strip import Strip

from ompviz.tui.widgets.runs import line_runs

_BACK = Color.parse("#555555")  # ScrollBarRender's defaults for a style without colours
_BAR = Color.parse("bright_magenta")


def _shown(strip: Strip) -> list[tuple[str, Style | None]]:
    """What a terminal shows of a line: its text and styles without the mouse actions (a line of the track says
    "scroll up" above the thumb and "scroll down" below it; clicks read them from a fresh drawing, not the screen)."""
    return [(seg.text, seg.style.clear_meta_and_links() if seg.style else None) for seg in strip]


class LineScrollBar(ScrollBar):
    _drawn: tuple | None = None
    _lines: list[Strip] = []  # the lines of the look ``_drawn``: what the terminal shows once pending repaints land

    # ScrollBar's numbers, without the whole-bar repaint: the watchers below repaint the lines that changed.
    window_virtual_size: Reactive[int] = Reactive(100, repaint=False)
    window_size: Reactive[int] = Reactive(0, repaint=False)
    position: Reactive[float] = Reactive(0, repaint=False)

    _numbers_changed = False  # since the last paint: the lines to repaint are worked out when it comes

    def watch_window_virtual_size(self) -> None:
        self._numbers_moved()

    def watch_window_size(self) -> None:
        self._numbers_moved()

    def watch_position(self) -> None:
        self._numbers_moved()

    def _numbers_moved(self) -> None:
        if not self._numbers_changed and self._on_screen():
            self._numbers_changed = True
            # Ask for a paint without naming lines (no region would mean the whole bar): which lines changed is
            # known once every number of this frame is set, when the compositor collects the regions.
            self.refresh(Region(0, 0, 0, 0))

    def _on_screen(self) -> bool:
        """Whether the last layout put this bar on the screen. Textual keeps a pane's bars while they are hidden and
        still sets their numbers; a refresh of a widget the compositor does not show makes it lay out the whole
        screen again the next time any widget asks for its region (typing a rank count did, for the thread table's
        hidden bar). A bar that is not shown needs no repaint: the layout that shows it paints it whole, from the
        numbers it has then."""
        try:
            compositor = self.screen._compositor
        except NoScreen:
            return False
        # The maps the last paint was drawn from. Not ``visible_widgets``: that caches, and a bar's numbers are set
        # during a layout too, where it would keep the old map's answer for the paint that follows.
        shown = compositor._visible_map if compositor._visible_map is not None else compositor._full_map
        return self in shown

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False):
        # Textual shows and hides a pane's bars by their ``display`` (a refresh with a layout). It asks the compositor
        # to update a bar shown by that layout before the layout is done; the compositor, which does not show the
        # bar yet, then lays the whole screen out a second time at the next region lookup (typing a rank count
        # did, as the thread table's bar came and went). A bar not on the screen has nothing to repaint: the
        # layout or scroll that shows it paints it whole.
        if repaint and not recompose and self.is_mounted and not self._on_screen():
            self._styles_cache.clear()  # what Textual's path (unusual bars) drew is stale when it shows again
            return super().refresh(*regions, repaint=False, layout=layout)
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _exchange_repaint_regions(self) -> Collection[Region]:
        regions = super()._exchange_repaint_regions()
        if self._numbers_changed:
            self._numbers_changed = False
            width, height = self.size
            changed = self._changed_lines(width, height)
            if changed is None:
                return [*regions, Region(0, 0, width, height)]
            return [*regions, *(Region(0, y, width, n) for y, n in line_runs(changed))]
        return regions

    def _changed_lines(self, width: int, height: int) -> list[int] | None:
        """The lines that look different with the current numbers than in the last drawing (None: all of them)."""
        old = self._lines
        if not width or not height or self._drawn is None or len(old) != height or not self._plain():
            return None
        look = self._look(width, height)
        if look == self._drawn:
            return []
        new = self._draw(look)
        self._lines, self._drawn = new, look  # what the paint that follows draws
        return [y for y in range(height) if _shown(new[y]) != _shown(old[y])]

    def _size_updated(self, size, virtual_size, container_size, layout: bool = True) -> bool:
        # Textual's Widget stores the new "virtual size" through a layout reactive, so a scrollbar that merely
        # changed length (its pane grew or shrank in a layout) asked for a SECOND layout of the whole screen and
        # was painted a frame later. A scrollbar has no content to lay out: store it without asking.
        return super()._size_updated(size, virtual_size, container_size, layout=False)

    def _bar_style(self) -> Style:
        """The style ScrollBar.render() gives its renderable (same rules, same order)."""
        styles = self.parent.styles  # type: ignore[union-attr]
        if self.grabbed:
            background, color = styles.scrollbar_background_active, styles.scrollbar_color_active
        elif self.mouse_over:
            background, color = styles.scrollbar_background_hover, styles.scrollbar_color_hover
        else:
            background, color = styles.scrollbar_background, styles.scrollbar_color
        if background.a < 1:
            base_background, _ = self.parent.background_colors  # type: ignore[union-attr]
            background = base_background + background
        color = background + color
        return Style.from_color(color.rich_color, background.rich_color)

    def _plain(self) -> bool:
        """True when Textual's path would add nothing to the bar's own segments but the widget's base style."""
        styles = self.styles
        return (
            self.renderer is ScrollBarRender
            and self.parent is not None
            and self.screen.styles.scrollbar_color.a != 0
            and not any(kind for kind, _ in styles.border)
            and not any(kind for kind, _ in styles.outline)
            and styles.padding == (0, 0, 0, 0)
            and not styles.tint.a
            and self.opacity == 1.0
            and styles.text_opacity == 1.0
            and styles.content_align == ("left", "top")
            and self.text_selection is None
            and not (styles.has_rule("hatch") and styles.hatch != "none")
        )

    def _look(self, width: int, height: int) -> tuple:
        """Everything the bar's lines are drawn from."""
        style = self._bar_style()
        base = self.visual_style.rich_style
        window = self.window_size if self.window_size < self.window_virtual_size else 0
        return (width, height, ceil(self.window_virtual_size), ceil(window), self.position, self.vertical, style, base)

    def render_lines(self, crop: Region) -> list[Strip]:
        width, height = self.size
        if not width or not height or not self._plain():
            self._drawn = None  # drawn by Textual: the next change repaints the whole bar
            return super().render_lines(crop)
        look = self._look(width, height)
        if look != self._drawn:
            self._lines = self._draw(look)
            self._drawn = look
        strips = self._lines[crop.y : crop.bottom]
        filters = self.get_line_filters()
        if filters:
            background = self.background_colors[1]
            for line_filter in filters:
                strips = [strip.apply_filter(line_filter, background) for strip in strips]
        x1, x2 = crop.column_span
        if (x1, x2) != (0, width):
            strips = [strip.crop(x1, x2) for strip in strips]
        return strips

    @staticmethod
    def _draw(look: tuple) -> list[Strip]:
        width, height, virtual, window, position, vertical, style, base = look
        segments = ScrollBarRender.render_bar(
            size=height if vertical else width,
            virtual_size=virtual,
            window_size=window,
            position=position,
            thickness=width if vertical else height,
            vertical=vertical,
            back_color=style.bgcolor or _BACK,
            bar_color=style.color or _BAR,
        ).segments
        # Textual renders the bar with the widget's style underneath (post_render's _Styled): base + segment style.
        styled = {}
        lines: list[Strip] = []
        if vertical:
            for seg in segments:
                strip = styled.get(seg)
                if strip is None:
                    strip = styled[seg] = Strip([Segment(seg.text, base + seg.style)], width)
                lines.append(strip)
        else:
            row = [Segment(seg.text, base + seg.style) for seg in segments[:width]]
            lines = [Strip(row, width)] * height
        return lines
