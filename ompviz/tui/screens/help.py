"""The help screen: help.md rendered as markdown."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP_PATH = Path(__file__).resolve().parent.parent / "help.md"


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    #help-body {
        width: 90;
        max-width: 95%;
        height: 90%;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close help"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(HELP_PATH.read_text(encoding="utf-8"), id="help-md")

    def on_mount(self) -> None:
        self.query_one("#help-body").border_title = "ompviz help"
        self.query_one("#help-body").border_subtitle = "esc / ? / q: close"
        # Focus the scrolling body so PageDown / arrows scroll at once (not only after Tab).
        self.query_one("#help-body").focus()
