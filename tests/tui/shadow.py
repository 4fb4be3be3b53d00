"""What a terminal shows, kept from the updates Textual sends it: (character, style) per cell.

Headless, Textual writes nothing, but App._display still receives every update (a full frame, or the changed
regions). Feeding them to a ShadowTerminal tells what a real terminal would show after a run of partial updates:
tests compare it with a full repaint (``mirror`` then ``full_repaint_differences``: nothing stale left on screen),
and bench/bench_replan.py tells refreshes that changed the screen from ones that repainted it as it was.
``refreshes_of`` records what a widget asks to repaint (tests that a change repaints only what it changes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ompviz.tui.memo import IdentityMemo


class ShadowTerminal:
    """What a terminal shows: (character, style) per cell, updated from Textual's compositor updates."""

    def __init__(self) -> None:
        self.cells: dict[tuple[int, int], tuple[str, object]] = {}

    def apply(self, update, console) -> bool:
        """Apply one update; True when some cell changed."""
        from rich.cells import cell_len
        from rich.segment import ControlType

        changed = False
        x = y = 0
        cells = self.cells
        x0 = getattr(getattr(update, "region", None), "x", 0)
        for seg in update.__rich_console__(console, console.options):
            if seg.control:
                for code in seg.control:
                    if code[0] == ControlType.CURSOR_MOVE_TO:
                        x, y = code[1] - 1, code[2] - 1
                continue
            if seg.text == "\n":
                x, y = x0, y + 1
                continue
            for ch in seg.text:
                cell = (ch, seg.style)
                if cells.get((x, y)) != cell:
                    cells[x, y] = cell
                    changed = True
                x += cell_len(ch)
        return changed


def mirror(app) -> ShadowTerminal:
    """A ShadowTerminal fed with every update ``app`` sends its terminal (install before the app runs);
    ``full_repaint_differences`` stops the feeding."""
    shadow = ShadowTerminal()
    display = app._display

    def feed(screen, update) -> None:
        display(screen, update)
        if update is not None and hasattr(update, "__rich_console__"):
            shadow.apply(update, app.console)

    app._display = feed
    shadow.stop = lambda: setattr(app, "_display", display)  # type: ignore[attr-defined]
    return shadow


async def full_repaint_differences(app, pilot, shadow: ShadowTerminal) -> list[tuple[int, int]]:
    """(row, column) of every cell where ``shadow`` differs from a full repaint drawn from scratch: every widget
    restyled from the stylesheet, every drawn-line cache dropped, the whole screen repainted."""
    shadow.stop()  # type: ignore[attr-defined]
    app.refresh_css(animate=False)
    redraw_from_scratch(app)
    await pilot.pause()
    truth = ShadowTerminal()
    truth.apply(app.screen._compositor.render_update(full=True), app.console)
    assert len(truth.cells) == app.size.width * app.size.height
    return sorted((y, x) for (x, y), cell in truth.cells.items() if shadow.cells.get((x, y)) != cell)


def redraw_from_scratch(app) -> None:
    """Drop every drawn-line cache of the screen's widgets and ask for a repaint of the whole screen."""
    for widget in app.screen.walk_children():
        for cache in ("_strips", "_painted", "_ahead"):  # (_ahead: lines drawn ahead, and kept for the way back)
            if isinstance(getattr(widget, cache, None), (dict, IdentityMemo)):
                getattr(widget, cache).clear()
        forget_boxed = getattr(getattr(widget, "_styles_cache", None), "forget_boxed", None)
        if forget_boxed is not None:
            forget_boxed()
        widget.refresh()
    app.screen.refresh()


@contextmanager
def refreshes_of(widget) -> Iterator[list]:
    """The regions ``widget.refresh`` is asked to repaint while the block runs ("all": the whole widget)."""
    calls: list = []
    original = widget.refresh

    def refresh(*regions, **kwargs):
        calls.extend(regions or ["all"])
        return original(*regions, **kwargs)

    widget.refresh = refresh
    try:
        yield calls
    finally:
        widget.refresh = original


@contextmanager
def calls_of(cls: type, name: str) -> Iterator[list]:
    """The instances whose method ``cls.name`` is called while the block runs, one entry per call (a screen's
    layouts: ``calls_of(Screen, "_refresh_layout")``; the compositor's arrangements of the whole screen)."""
    calls: list = []
    original = getattr(cls, name)

    def counted(self, *args, **kwargs):
        calls.append(self)
        return original(self, *args, **kwargs)

    setattr(cls, name, counted)
    try:
        yield calls
    finally:
        setattr(cls, name, original)
