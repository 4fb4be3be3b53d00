"""What a terminal shows, kept from the updates Textual sends it: (character, style) per cell.

Headless, Textual writes nothing, but App._display still receives every update (a full frame, or the changed
regions). Feeding them to a ShadowTerminal tells what a real terminal would show after a run of partial updates:
tests compare it with a full repaint (nothing stale left on screen), and bench/bench_replan.py tells refreshes
that changed the screen from ones that repainted it as it was.
"""

from __future__ import annotations


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
