"""Partial repaints of line-drawn widgets."""

from __future__ import annotations

from collections.abc import Iterable

from textual.geometry import Region
from textual.widget import Widget


def refresh_line_runs(widget: Widget, lines: Iterable[int]) -> None:
    """Repaint these lines of ``widget``, one refresh per run of consecutive lines. Lines count from the top of
    its content area as shown (inside border and padding, not scrolled: what ``Widget.refresh`` takes)."""
    width = widget.size.width
    start = prev = None
    for y in [*sorted(set(lines)), None]:
        if start is not None and prev is not None and (y is None or y != prev + 1):
            widget.refresh(Region(0, start, width, prev - start + 1))
            start = None
        if start is None:
            start = y
        prev = y
