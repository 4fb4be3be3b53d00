"""Textual's per-widget line styling (StylesCache), with the content lines put together faster.

Textual wraps every line a widget draws in its CSS box: padding, left/right border, outline, tint, opacity, hatch.
It works those out again for each line (reading the border, outline and gutter styles, building the border
styles, looking up the app), ~15-20 us a line; a `+` on 4,096 PUs repaints ~110 lines of ours, so that was ~2 ms
of every key press, more than our own drawing of those lines (measured per widget, bench_replan's setting).

``LineStylesCache`` works out once per ``render()`` (one call per widget per frame) what is the same for every
content line, and puts those lines together exactly as ``StylesCache.render_line`` does. It only does so in the
plain case: no outline, tint, opacity, text opacity or hatch; border and padding rows, and every line of a widget
with any of those, go through Textual's own code. tests/tui/test_stylescache.py compares both segment by segment.

Drawing ahead: every later step of a paint keeps its result on the Strip it started from (a filter's, the
compositor's division at the widget edges, the escape sequences a terminal is sent), so a content line that was
put in its box once is painted again for the cost of a few lookups. ``draw_ahead`` runs those steps for lines that
are not shown yet and keeps the boxed line on its content line (``LineStylesCache.boxed``): the explorer's
look-ahead draws what the next key would show, and the key's paint finds it done.
"""

from __future__ import annotations

from itertools import count

from textual._border import get_box
from textual._segment_tools import line_pad
from textual._styles_cache import StylesCache
from textual.geometry import Region
from textual.strip import Strip
from textual.style import Style

_BOX_KEYS = count()  # a key for each box any widget had: never reused


class LineStylesCache(StylesCache):
    _plain: tuple | None = None  # what content lines share, while render() runs in the plain case
    _last_plain: tuple | None = None  # the last plain parts worked out: the lines boxed below share its box

    def __init__(self) -> None:
        super().__init__()
        # A content line's boxed line is kept on the content line itself, in one of its own caches, under a key
        # that is new with each new box: it lives exactly as long as the content line (the widget's caches decide
        # that), and a new box never finds a line boxed in the old one.
        self.forget_boxed()

    def render(self, styles, size, base_background, background, render_content_line, filters, *args, **kwargs):
        self._plain = self.plain_parts(styles, size, base_background, background, kwargs)
        try:
            return super().render(
                styles, size, base_background, background, render_content_line, filters, *args, **kwargs
            )
        finally:
            self._plain = None

    def plain_parts(self, styles, size, base_background, background, kwargs) -> tuple | None:
        """What every content line's box shares in the plain case (None otherwise). The same value comes back as
        the same object while it does not change; a new one forgets the lines boxed in the old."""
        plain = self._plain_parts(styles, size, base_background, background, kwargs)
        if plain is None:
            return None
        last = self._last_plain
        if plain == last:
            return last
        if last is None or plain[2:] != last[2:]:  # another box; (the rows with content do not change a line's box)
            self.forget_boxed()
        self._last_plain = plain
        return plain

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
            size.width,
        )

    def render_line(self, styles, y, size, content_size, padding, base_background, background, render_content_line,
                    *args):  # fmt: skip
        plain = self._plain
        if plain is None or not plain[0] <= y < plain[1]:
            return super().render_line(
                styles, y, size, content_size, padding, base_background, background, render_content_line, *args
            )
        return self.boxed(plain, render_content_line(y - plain[0]))

    def boxed(self, plain: tuple, content: Strip, keep: bool = False) -> Strip:
        """``content`` (a content line) put in the widget's box (``plain``, from ``plain_parts``): the line boxed
        before if it was kept, else a new one, kept with ``keep`` (drawing ahead) while the box is the same. A
        paint keeps nothing: Textual's own cache holds the lines shown, and keeping every line ever boxed cost
        1.3 MiB more at start-up (the lines of earlier widths and texts)."""
        kept = content._line_length_cache  # (a FIFOCache of the Strip's; Textual keys it by (length, style))
        strip = kept.get(self._box_key)
        if strip is None:
            strip = self._box(plain, content)
            if keep and plain is self._last_plain:
                kept[self._box_key] = strip
        return strip

    def forget_boxed(self) -> None:
        """Box every content line anew from now on (a new box; tests compare the screen with a repaint from
        scratch)."""
        self._box_key = ("ompviz-box", next(_BOX_KEYS))

    def _box(self, plain: tuple, content: Strip) -> Strip:
        _, _, content_width, pad_left, pad_right, inner, left, right, width = plain
        # StylesCache.render_line's content case (C), without the effects the plain case does not have
        line = content.adjust_cell_length(content_width, inner)
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
        return Strip(segments, width)


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


def draw_ahead(widget, lines: dict[int, Strip]) -> int:
    """Run what painting ``lines`` would do after the widget drew them, without painting: the box
    (LineStylesCache.boxed), the app's line filters, the compositor's division at the widgets' edges on each screen
    line and the escape sequences of each part. Each step keeps its result on the Strip it was given, so the paint
    that shows these lines later finds every step done.

    ``lines``: content line (``render_line``'s y) -> the Strip ``render_line`` will return for it then. Nothing is
    drawn for a widget that is not on the screen, nor in any case but the plain one; lines outside the box are
    skipped. Returns how many lines were taken through every step (for tests)."""
    cache = widget._styles_cache
    if not isinstance(cache, LineStylesCache) or not lines:
        return 0
    try:
        compositor = widget.screen._compositor
        region, clip = compositor.visible_widgets[widget]
    except Exception:  # not on a screen, or not shown on it: painted when shown, as without drawing ahead
        return 0
    styles = widget.styles
    base_background, background = widget.background_colors
    kwargs = {"padding": styles.padding, "content_size": widget.content_region.size, "opacity": widget.opacity}
    plain = cache.plain_parts(styles, region.size, base_background, background, kwargs)
    if plain is None:
        return 0
    top, end = plain[0], plain[1]
    filters = widget.get_line_filters()
    console = widget.app.console
    # the compositor renders a widget whole when its clip holds it (Compositor._get_renders), cut at these columns
    whole = clip.contains_region(region)
    cuts = compositor.cuts
    first_cut, last_cut = region.column_span
    done = 0
    for y, content in lines.items():
        row = y + top
        if not top <= row < end:
            continue
        strip = cache.boxed(plain, content, keep=True)
        for line_filter in filters:
            strip = strip.apply_filter(line_filter, background)
        screen_y = region.y + row
        if not whole or not 0 <= screen_y < len(cuts):
            continue
        final_cuts = [cut for cut in cuts[screen_y] if last_cut >= cut >= first_cut]
        for part in strip.divide([cut - region.x for cut in final_cuts[1:]]):
            part.render(console)
        done += 1
    return done
