"""The export dialog (`e`): pick a format, see the exact text ``ompviz.export.render`` gives, copy it (OSC 52)
or save it (atomic, never overwriting without a confirmation).

The dialog owns no export logic: the text is ``render(fmt, plan, topology, command=...)``, the per-rank env files
are ``ompviz.export.files`` (the CLI's own code) and every write goes through ``ompviz.fileio.write_atomic``.
Errors become one-line notifications; the dialog stays open with everything the user typed.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from ompviz.errors import OmpvizError
from ompviz.export import EXECUTABLE, FORMATS, render
from ompviz.export.files import check_rank_dir, existing_files, rank_env_files, write_rank_env_files
from ompviz.fileio import write_atomic
from ompviz.plan.model import Plan
from ompviz.topology.model import Topology
from ompviz.words import plural

COPY_NOTE = "copied (if your terminal supports OSC 52)"
PREVIEW_LINES = 5_000  # longer texts are previewed in part (the TextArea load is the slow step)
SLOW_RENDER = 0.05  # seconds; a render slower than this is not repeated on every keystroke ...
TYPING_PAUSE = 0.3  # ... but once the user stops typing for this long


# (path, text) of the rank-N.env files `ompviz plan --format env --per-rank-dir DIR` writes.
rank_files = rank_env_files


def rank_files_preview(files: list[tuple[str, str]]) -> str:
    # The separators are comments, so the preview stays a valid dotenv text if it is copied as a whole.
    return "\n".join(f"# ---- file {path} ----\n{text}" for path, text in files)


def parse_command(text: str) -> list[str] | None:
    """The worker command typed by the user, split like a shell would (no expansion); None when empty."""
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise OmpvizError(f"command: {e}; close the quote or escape it with a backslash") from None
    return words or None


class ConfirmOverwrite(ModalScreen[bool]):
    """A small yes/no question; the safe answer (keep the file) has the focus."""

    DEFAULT_CSS = """
    ConfirmOverwrite { align: center middle; }
    ConfirmOverwrite #confirm-body {
        width: 70; max-width: 95%; height: auto;
        border: thick $error; background: $surface; padding: 0 1;
    }
    ConfirmOverwrite #confirm-message { width: 1fr; margin-bottom: 1; }
    ConfirmOverwrite #confirm-buttons { height: auto; align-horizontal: right; }
    ConfirmOverwrite Button { margin-left: 2; }
    """
    BINDINGS = [
        Binding("y", "dismiss(True)", "Overwrite"),
        Binding("n,escape", "dismiss(False)", "Keep"),
    ]

    def __init__(self, message: str) -> None:
        super().__init__()
        self._message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-body"):
            yield Static(self._message, id="confirm-message", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button("Overwrite (y)", id="confirm-yes", variant="error", compact=True)
                yield Button("Keep it (n)", id="confirm-no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#confirm-body").border_title = "File exists"
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")


class ExportScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    ExportScreen { align: center middle; }
    ExportScreen #export-body {
        width: 100%; height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
        border-title-color: $text-primary; border-subtitle-color: $text-muted;
    }
    ExportScreen.-wide #export-body { width: 96%; height: 94%; }
    ExportScreen #export-formats { width: 36; height: 1fr; margin-right: 1; }
    /* Narrow: one line of description per format (ellipsis), so the whole list stays short. */
    ExportScreen.-narrow #export-formats { width: 24; text-wrap: nowrap; text-overflow: ellipsis; }
    ExportScreen #export-main { width: 1fr; height: 1fr; }
    ExportScreen #export-desc { height: auto; color: $text-muted; }
    ExportScreen .export-row { height: 1; margin-top: 1; }
    ExportScreen .export-label { width: 10; color: $text-muted; }
    ExportScreen .export-row Input { width: 1fr; }
    ExportScreen .export-row Button { margin-left: 1; min-width: 8; width: auto; }
    ExportScreen #export-dir-row { display: none; }
    ExportScreen.-env #export-dir-row { display: block; }
    ExportScreen #export-cmd-error { display: none; height: auto; color: $text-error; }
    ExportScreen #export-cmd-error.-shown { display: block; }
    ExportScreen #export-text { height: 1fr; margin-top: 1; border: round $primary 50%; }
    ExportScreen #export-text:focus { border: round $accent; }
    /* Short terminals: every row for the text. */
    ExportScreen.-short .export-row { margin-top: 0; }
    ExportScreen.-short #export-text { margin-top: 0; }
    /* Toasts at the top: at the bottom they would cover the Save/Copy buttons the user clicks next. */
    ExportScreen ToastRack { dock: top; align: right top; }
    """
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("ctrl+s", "save", "Save"),
        Binding("c", "copy", "Copy"),
    ]

    def __init__(
        self, topology: Topology, plan: Plan, *, command: list[str] | tuple[str, ...] | None = None, fmt: str = "sh"
    ) -> None:
        super().__init__()
        self.topology = topology
        self.plan = plan
        self.command: list[str] | None = list(command) if command else None
        self.fmt = fmt if fmt in FORMATS else next(iter(FORMATS))
        self.per_rank_dir = ""
        self.text: str | None = None  # what is shown, copied and saved; None after a render error
        self.render_error: str | None = None
        self._render_seconds = 0.0  # how long the last render took; decides whether typing is debounced
        self._pending: Timer | None = None

    # -- layout ----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="export-body"):
            yield OptionList(*[self._option(f.name, f.description) for f in FORMATS.values()], id="export-formats")
            with Vertical(id="export-main"):
                yield Static("", id="export-desc", markup=False)
                with Horizontal(classes="export-row"):
                    yield Label("Command", classes="export-label")
                    yield Input(
                        shlex.join(self.command) if self.command else "",
                        placeholder="your program and its arguments (empty: a marked placeholder)",
                        id="export-command",
                        compact=True,
                    )
                yield Static("", id="export-cmd-error", markup=False)
                with Horizontal(classes="export-row", id="export-dir-row"):
                    yield Label("Rank dir", classes="export-label")
                    yield Input(
                        placeholder="optional: save DIR/rank-N.env, one file per rank",
                        id="export-dir",
                        compact=True,
                    )
                yield TextArea("", id="export-text", read_only=True, soft_wrap=False, highlight_cursor_line=False)
                with Horizontal(classes="export-row", id="export-save-row"):
                    yield Label("Save to", classes="export-label")
                    yield Input(FORMATS[self.fmt].filename, id="export-path", compact=True)
                    yield Button("Save", id="export-save", variant="primary", compact=True)
                    yield Button("Copy", id="export-copy", compact=True)

    @staticmethod
    def _option(name: str, description: str) -> Option:
        return Option(Text.assemble((name, "bold"), "\n", (description, "dim")), id=name)

    def on_mount(self) -> None:
        body = self.query_one("#export-body")
        body.border_title = "Export the plan"
        body.border_subtitle = "↑↓ format · c copy · ctrl+s / enter in 'Save to' save · esc close"
        formats = self.query_one("#export-formats", OptionList)
        formats.highlighted = list(FORMATS).index(self.fmt)
        formats.focus()
        self._refresh_text()

    # -- the text --------------------------------------------------------------------------------
    def _refresh_text(self) -> None:
        """Render the current choices; a failure is one notification and a comment in the text area."""
        self.set_class(self.fmt == "env", "-env")
        # With a rank directory the files are DIR/rank-N.env: a file name here would be ignored, so say so.
        per_rank = self.fmt == "env" and bool(self.per_rank_dir)
        self.query_one("#export-path", Input).disabled = per_rank
        self.query_one("#export-save", Button).label = "Save files" if per_rank else "Save"
        desc = f"{self.fmt}: {FORMATS[self.fmt].description}"
        if not self.plan.ok:
            n = sum(1 for w in self.plan.warnings if w.severity == "error")
            desc += f"  ·  this plan has {plural(n, 'error')} (listed in the header)"
        started = time.perf_counter()
        try:
            if per_rank:
                text = rank_files_preview(rank_files(self.plan, self.topology, self.per_rank_dir))
            else:
                text = render(self.fmt, self.plan, self.topology, command=self.command)
        except OmpvizError as e:
            self._render_failed(str(e), desc)
            return
        except Exception as e:  # an exporter bug must not take the user's session down
            self._render_failed(f"format {self.fmt} failed: {type(e).__name__}: {e}", desc)
            return
        self.text, self.render_error = text, None
        shown = text
        lines = text.count("\n")
        if lines > PREVIEW_LINES:
            # A saved config of a 4,096-PU machine is ~50,000 lines; loading them all into the TextArea takes
            # seconds on every change. The preview is an exact prefix; copy and save always use the whole text.
            cut = -1
            for _ in range(PREVIEW_LINES):
                cut = text.index("\n", cut + 1)
            shown = text[: cut + 1]
            desc += f"  ·  preview: first {PREVIEW_LINES:,} of {lines:,} lines (copy and save use all)"
        self.query_one("#export-desc", Static).update(desc)
        self.query_one("#export-text", TextArea).load_text(shown)
        self._render_seconds = time.perf_counter() - started

    def _refresh_soon(self) -> None:
        """Re-render after typing; slow exports (huge machines) wait until the user pauses."""
        if self._pending is not None:
            self._pending.stop()
            self._pending = None
        if self._render_seconds < SLOW_RENDER:
            self._refresh_text()
        else:
            self._pending = self.set_timer(TYPING_PAUSE, self._refresh_pending)

    def _refresh_pending(self) -> None:
        self._pending = None
        self._refresh_text()

    def _flush(self) -> None:
        """Copy and save act on what the user typed last, even inside the typing pause."""
        if self._pending is not None:
            self._pending.stop()
            self._refresh_pending()

    def _render_failed(self, message: str, desc: str) -> None:
        self.text, self.render_error = None, message
        self.query_one("#export-desc", Static).update(desc)
        self.query_one("#export-text", TextArea).load_text(f"# cannot export: {message}\n")
        self.notify(message, title="Cannot export", severity="error", timeout=6, markup=False)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        new = event.option.id
        if new is None or new == self.fmt or new not in FORMATS:
            return
        path = self.query_one("#export-path", Input)
        # Follow the format's default file name unless the user typed their own.
        if path.value.strip() in ("", FORMATS[self.fmt].filename):
            path.value = FORMATS[new].filename
        self.fmt = new
        self._refresh_text()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "export-command":
            event.stop()
            err = self.query_one("#export-cmd-error", Static)
            try:
                command = parse_command(event.value)
            except OmpvizError as e:
                # Half-typed quotes are normal while typing: say so inline, keep the last good command.
                err.update(str(e))
                err.add_class("-shown")
                return
            err.remove_class("-shown")
            if command != self.command:
                self.command = command
                self._refresh_soon()
        elif event.input.id == "export-dir":
            event.stop()
            value = event.value.strip()
            if value != self.per_rank_dir:
                self.per_rank_dir = value
                self._refresh_soon()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id in ("export-path", "export-dir"):
            self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "export-save":
            self.action_save()
        elif event.button.id == "export-copy":
            self.action_copy()

    # -- copy ------------------------------------------------------------------------------------
    def action_copy(self) -> None:
        self._flush()
        if self.text is None:
            self.notify(self.render_error or "nothing to copy", title="Cannot copy", severity="error", markup=False)
            return
        self.app.copy_to_clipboard(self.text)
        lines = self.text.count("\n")
        self.notify(f"{self.fmt}, {plural(lines, 'line')}: {COPY_NOTE}", title="Copy", markup=False)

    # -- save ------------------------------------------------------------------------------------
    def action_save(self) -> None:
        self._flush()
        if self.text is None:
            self._error(self.render_error or "nothing to save", "Cannot save")
            return
        if self.fmt == "env" and self.per_rank_dir:
            self._save_rank_files(force=False)
        else:
            self._save_file(force=False)

    def _error(self, message: str, title: str = "Cannot save") -> None:
        self.notify(message, title=title, severity="error", timeout=8, markup=False)

    def _confirm(self, message: str, then: Callable[[], None]) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                then()
            else:
                self.notify("nothing written", title="Kept the existing file", timeout=3, markup=False)

        self.app.push_screen(ConfirmOverwrite(message), answered)

    def _save_file(self, *, force: bool) -> None:
        raw = self.query_one("#export-path", Input).value.strip()
        if not raw:
            self._error("give a file name in 'Save to'")
            return
        path = os.path.expanduser(raw)
        text = self.text
        if text is None:
            return
        if not force and os.path.isfile(path):
            self._confirm(f"{path} already exists.\nOverwrite it with this {self.fmt} export?", self._forced_file)
            return
        mode = 0o755 if self.fmt in EXECUTABLE else None
        try:
            write_atomic(path, text, force=force, mode=mode)
        except OmpvizError as e:
            self._error(str(e))
            return
        self.notify(f"wrote {path} ({self.fmt}, {len(text.encode())} bytes)", title="Saved", timeout=4, markup=False)

    def _forced_file(self) -> None:
        self._save_file(force=True)

    def _save_rank_files(self, *, force: bool) -> None:
        try:
            directory = check_rank_dir(self.per_rank_dir)
        except OmpvizError as e:
            self._error(str(e))
            return
        files = rank_env_files(self.plan, self.topology, directory)
        if not files:
            self._error("the plan has no ranks to write")
            return
        existing = existing_files(files)
        if existing and not force:
            # Ask once for the whole set, so an answer never leaves half the files updated.
            self._confirm(
                f"{len(existing)} of the {len(files)} rank files already exist in {directory} "
                f"(first: {os.path.basename(existing[0])}).\nOverwrite them?",
                self._forced_rank_files,
            )
            return
        try:
            write_rank_env_files(self.plan, self.topology, self.per_rank_dir, force=force)
        except OmpvizError as e:
            self._error(str(e))
            return
        self.notify(
            f"wrote {plural(len(files), 'file')} (rank-N.env) in {directory}", title="Saved", timeout=4, markup=False
        )

    def _forced_rank_files(self) -> None:
        self._save_rank_files(force=True)


def open_export(
    app: App, topology: Topology, plan: Plan, command: list[str] | tuple[str, ...] | None = None
) -> ExportScreen:
    """Push the export dialog for ``plan`` on ``app``; returns the screen (tests drive it)."""
    screen = ExportScreen(topology, plan, command=command)
    app.push_screen(screen)
    return screen


__all__ = ["ConfirmOverwrite", "ExportScreen", "open_export", "parse_command", "rank_files"]
