"""Widgets of the explorer. The map draws with the line API; the rest are small views of a Plan."""
