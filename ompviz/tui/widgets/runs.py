"""Partial repaints of line-drawn widgets."""

from __future__ import annotations

from collections.abc import Iterable

from textual.geometry import Region
from textual.widget import Widget


def line_runs(lines: Iterable[int]) -> list[tuple[int, int]]:
    """(first line, number of lines) of each run of consecutive lines."""
    out: list[tuple[int, int]] = []
    for y in sorted(set(lines)):
        if out and out[-1][0] + out[-1][1] == y:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((y, 1))
    return out


def refresh_line_runs(widget: Widget, lines: Iterable[int]) -> None:
    """Repaint these lines of ``widget``, one refresh per run of consecutive lines. Lines count from the top of
    its content area as shown (inside border and padding, not scrolled: what ``Widget.refresh`` takes)."""
    width = widget.size.width
    for start, count in line_runs(lines):
        widget.refresh(Region(0, start, width, count))
