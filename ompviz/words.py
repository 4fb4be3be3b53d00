"""Wording helpers shared by every user-facing text (no imports: used by the start-up path)."""

from __future__ import annotations


def plural(n: int, noun: str, many: str | None = None, *, count: bool = True) -> str:
    """``1 CPU`` / ``2 CPUs`` (``many`` for irregular plurals); ``count=False`` gives the word alone.

    The one pluralising helper of the user-facing texts (show, plan warnings, explanations, exports, the TUI), so
    no message says "1 CPUs" or "rank(s)"."""
    word = noun if n == 1 else (many if many is not None else noun + "s")
    return f"{n} {word}" if count else word
