"""Textual's per-widget line styling (StylesCache), with the content lines put together faster.

Textual wraps every line a widget draws in its CSS box: padding, left/right border, outline, tint, opacity, hatch.
It works those out again for each line (reading the border, outline and gutter styles, building the border
styles, looking up the app), ~15-20 us a line; a `+` on 4,096 PUs repaints ~110 lines of ours, so that was ~2 ms
of every key press, more than our own drawing of those lines (measured per widget, bench_replan's setting).

``LineStylesCache`` works out once per ``render()`` (one call per widget per frame) what is the same for every
content line, and puts those lines together exactly as ``StylesCache.render_line`` does. It only does so in the
plain case: no outline, tint, opacity, text opacity or hatch; border and padding rows, and every line of a widget
with any of those, go through Textual's own code. tests/tui/test_stylescache.py compares both segment by segment.
"""

from __future__ import annotations

from textual._border import get_box
from textual._segment_tools import line_pad
from textual._styles_cache import StylesCache
from textual.geometry import Region
from textual.strip import Strip
from textual.style import Style


class LineStylesCache(StylesCache):
    _plain: tuple | None = None  # what content lines share, while render() runs in the plain case

    def render(self, styles, size, base_background, background, render_content_line, filters, *args, **kwargs):
        self._plain = self._plain_parts(styles, size, base_background, background, kwargs)
        try:
            return super().render(
                styles, size, base_background, background, render_content_line, filters, *args, **kwargs
            )
        finally:
            self._plain = None

    def _plain_parts(self, styles, size, base_background, background, kwargs) -> tuple | None:
        opacity = kwargs.get("opacity", 1.0)
        if opacity != 1.0 or styles.tint.a or styles.text_opacity != 1.0:
            return None
        if styles.has_rule("hatch") and styles.hatch != "none":
            return None
        if any(edge for edge, _ in styles.outline):
            return None
        padding = kwargs.get("padding")
        if padding is None:
            padding = styles.padding
        content_size = kwargs.get("content_size") or size
        gutter = styles.gutter
        (_, _), (border_right, border_right_color), (_, _), (border_left, border_left_color) = styles.border
        inner, outer = self.get_inner_outer(base_background, background)
        left = right = None
        if border_left:
            left_style = Style(foreground=base_background + border_left_color.multiply_alpha(opacity))
            left = get_box(border_left, inner, outer, left_style)[1][0]
        if border_right:
            right_style = Style(foreground=base_background + border_right_color.multiply_alpha(opacity))
            right = get_box(border_right, inner, outer, right_style)[1][2]
        return (
            gutter.top,
            min(size.height - gutter.bottom, gutter.top + content_size.height),  # rows with content
            content_size.width,
            padding.left,
            padding.right,
            inner.rich_style,
            left,
            right,
        )

    def render_line(self, styles, y, size, content_size, padding, base_background, background, render_content_line,
                    *args):  # fmt: skip
        plain = self._plain
        if plain is None or not plain[0] <= y < plain[1]:
            return super().render_line(
                styles, y, size, content_size, padding, base_background, background, render_content_line, *args
            )
        top, _, content_width, pad_left, pad_right, inner, left, right = plain
        # StylesCache.render_line's content case (C), without the effects the plain case does not have
        line = render_content_line(y - top).adjust_cell_length(content_width, inner)
        if pad_left or pad_right:
            line = line_pad(line, pad_left, pad_right, inner)
        if left is not None and right is not None:
            segments = [left, *line, right]
        elif left is not None:
            segments = [left, *line]
        elif right is not None:
            segments = [*line, right]
        else:
            segments = line if isinstance(line, list) else list(line)
        return Strip(segments, size.width)


class KeepsLines:
    """Mixin: ``render_lines`` hands back the lines it gave last while nothing of the widget was repainted since.

    A partial update of the screen renders every widget under the bounding box of the changed regions, line by line
    through its StylesCache, whether the widget changed or not: on a `+` on 4,096 PUs the screen, the containers,
    the header, the footer and the PU details were rendered again unchanged (~0.9 ms of an ~8 ms paint). Textual's
    StylesCache knows when a widget's lines are all current: a refresh marks the lines it repaints dirty, and a
    whole-widget refresh (styles, themes, scrolling, resizing) empties its cache. A widget with any line to draw
    again goes through Textual's render as before (drawing only the missing lines in separate calls was slower:
    each call works out the widget's background, filters and box again).
    """

    _kept: tuple[Region, list[Strip]] | None = None  # the crop and lines of the last render_lines

    def render_lines(self, crop: Region) -> list[Strip]:
        kept = self._kept
        cache = self._styles_cache  # type: ignore[attr-defined]
        # (a whole-widget refresh empties the cache but marks only the content's lines dirty, not the border's)
        if kept is not None and kept[0] == crop and cache._cache and not cache._dirty_lines:
            return kept[1]
        lines = super().render_lines(crop)  # type: ignore[misc]
        self._kept = (crop, lines)
        return lines
