"""Load a topology: a file path, a preset from the list, or a synthetic description.

The dialog calls the core's ``load()`` itself so a bad source is reported inline and the dialog stays open;
on success it dismisses with the new Topology.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from ompviz.errors import OmpvizError
from ompviz.topology.model import Topology


def preset_items() -> list[tuple[str, str]]:
    """(name, title) of every preset; empty if the presets module is unavailable."""
    try:
        from ompviz.topology.presets import PRESETS
    except ImportError:
        return []
    return [(name, p.title) for name, p in PRESETS.items()]


class LoadScreen(ModalScreen[Topology | None]):
    DEFAULT_CSS = """
    LoadScreen { align: center middle; }
    #load-body {
        width: 90;
        max-width: 95%;
        height: auto;
        max-height: 90%;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    #load-presets { height: auto; max-height: 14; }
    #load-error { display: none; color: $text-error; height: auto; }
    #load-error.-shown { display: block; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, loader: Callable[[str], Topology]) -> None:
        super().__init__()
        self._loader = loader

    def compose(self) -> ComposeResult:
        with Vertical(id="load-body"):
            yield Label("File: hwloc XML, lscpu output, sysfs dump (dir or tarball), ompviz snapshot, or 'live'")
            yield Input(placeholder="/path/to/machine.xml", id="load-path")
            yield Label("Synthetic (hwloc syntax):")
            yield Input(placeholder="pack:2 numa:2 l3:4 core:8 pu:2", id="load-synthetic")
            yield Label("Preset (enter to load):")
            yield OptionList(
                *[Option(f"{name:<18} {title}", id=name) for name, title in preset_items()], id="load-presets"
            )
            yield Static("", id="load-error")

    def on_mount(self) -> None:
        body = self.query_one("#load-body")
        body.border_title = "Load a topology"
        body.border_subtitle = "enter: load · esc: cancel"
        self.query_one("#load-path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            return
        if event.input.id == "load-synthetic" and not text.startswith("synthetic:"):
            text = "synthetic:" + text
        self._try(text)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._try(f"preset:{event.option.id}")

    def _try(self, source: str) -> None:
        try:
            topo = self._loader(source)
        except OmpvizError as e:
            self._show_error(str(e))
            return
        except Exception as e:  # a reader bug must not take the explorer down; say what failed
            self._show_error(f"{source}: could not be read ({type(e).__name__}: {e})")
            return
        self.dismiss(topo)

    def _show_error(self, message: str) -> None:
        err = self.query_one("#load-error", Static)
        err.update(message)
        err.add_class("-shown")
