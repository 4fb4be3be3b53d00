"""The TUI export dialog (issue 6): every format, the exact text render() gives, copy, atomic save, confirm before
overwrite, errors that keep the dialog open. Snapshots: tests/tui/__snapshots__/test_export_dialog/.

The machine is built here with the real model builder (no ../shared needed): 2 packages x 4 cores x SMT2,
core k has PUs k and k+8 (Linux/AMD sibling numbering), one NUMA node and one L3 per package.
"""

from __future__ import annotations

import os
import shlex

import pytest
from asyncrun import sync
from textual.app import App
from textual.widgets import Input, OptionList, Static, TextArea

from ompviz.errors import OmpvizError
from ompviz.export import FORMATS, render
from ompviz.export.shell import env_file
from ompviz.plan import PlanRequest, plan
from ompviz.topology.model import PURecord, Topology, build_topology
from ompviz.tui.screens import export as export_screen
from ompviz.tui.screens.export import ConfirmOverwrite, ExportScreen, open_export

WIDE = (160, 50)
NARROW = (80, 24)


def tiny() -> Topology:
    recs = [
        PURecord(core + 8 * smt, package=core // 4, numa=core // 4, l3_key=core // 4, core_key=core)
        for core in range(8)
        for smt in range(2)
    ]
    return build_topology(recs, name="tiny test box", source="test", source_kind="synthetic")


class Host(App[None]):
    """A bare app that opens the dialog the way the explorer does."""

    def __init__(self, topology: Topology, the_plan, command: list[str] | None = None) -> None:
        super().__init__()
        self.topology, self.the_plan, self.command = topology, the_plan, command

    def on_mount(self) -> None:
        open_export(self, self.topology, self.the_plan, command=self.command)


@pytest.fixture
def machine():
    topo = tiny()
    return topo, plan(topo, PlanRequest(ranks=2))


def shown(app: App) -> str:
    return app.screen.query_one("#export-text", TextArea).text


def notes(app: App) -> list[tuple[str, str]]:
    return [(n.severity, n.message) for n in app._notifications]


async def set_input(pilot, selector: str, value: str) -> None:
    widget = pilot.app.screen.query_one(selector, Input)
    widget.value = value
    await pilot.pause()


@sync
async def test_lists_every_format_and_shows_render_text(machine):
    topo, p = machine
    app = Host(topo, p)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        formats = app.screen.query_one("#export-formats", OptionList)
        ids = [formats.get_option_at_index(i).id for i in range(formats.option_count)]
        assert ids == list(FORMATS)
        for i, f in enumerate(FORMATS.values()):
            prompt = str(formats.get_option_at_index(i).prompt)
            assert f.name in prompt and f.description in prompt
        # Opens on the bash launcher, the format most people leave with.
        assert shown(app) == render("sh", p, topo)
        assert app.screen.query_one("#export-path", Input).value == "launch.sh"


@sync
async def test_switching_formats_shows_exactly_render(machine):
    topo, p = machine
    app = Host(topo, p)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        await pilot.press("home")
        seen = []
        for i, name in enumerate(FORMATS):
            if i:
                await pilot.press("down")
            await pilot.pause()
            assert app.screen.fmt == name
            assert shown(app) == render(name, p, topo), name
            # The save name follows the format while the user has not typed their own.
            assert app.screen.query_one("#export-path", Input).value == FORMATS[name].filename
            seen.append(shown(app))
        assert len(set(seen)) == len(FORMATS)  # every format really is a different text


@sync
async def test_command_is_split_like_a_shell_and_bad_quotes_keep_the_last_good_one(machine):
    topo, p = machine
    app = Host(topo, p)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        await set_input(pilot, "#export-command", "./stream --label 'a b' $(rm -rf x)")
        good = ["./stream", "--label", "a b", "$(rm", "-rf", "x)"]
        assert app.screen.command == good
        assert shown(app) == render("sh", p, topo, command=good)
        await set_input(pilot, "#export-command", "./stream 'unclosed")
        err = app.screen.query_one("#export-cmd-error", Static)
        assert err.has_class("-shown") and "quotation" in str(err.render())
        assert shown(app) == render("sh", p, topo, command=good)
        await set_input(pilot, "#export-command", "")
        assert not err.has_class("-shown")
        assert shown(app) == render("sh", p, topo)


@sync
async def test_command_given_by_the_caller_is_prefilled(machine):
    topo, p = machine
    cmd = ["./bench", "--n", "1 000"]
    app = Host(topo, p, command=cmd)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        assert shlex.split(app.screen.query_one("#export-command", Input).value) == cmd
        assert shown(app) == render("sh", p, topo, command=cmd)


@sync
async def test_save_creates_the_file_with_the_shown_text(machine, tmp_path):
    topo, p = machine
    app = Host(topo, p)
    target = tmp_path / "run.sh"
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        await set_input(pilot, "#export-path", str(target))
        await pilot.click("#export-save")
        await pilot.pause()
        assert target.read_text() == render("sh", p, topo)
        assert os.stat(target).st_mode & 0o777 == 0o755  # a launcher script is executable
        assert isinstance(app.screen, ExportScreen)
        assert ("information", f"wrote {target} (sh, {len(target.read_bytes())} bytes)") in notes(app)
        # A non-script format is written as a plain file; enter in 'Save to' saves too.
        await pilot.press("home")  # focus is still on the format list after the click? make sure:
        app.screen.query_one("#export-formats", OptionList).highlighted = list(FORMATS).index("json")
        await pilot.pause()
        j = tmp_path / "cfg.json"
        await set_input(pilot, "#export-path", str(j))
        app.screen.query_one("#export-path", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert j.read_text() == render("json", p, topo)
        assert os.stat(j).st_mode & 0o111 == 0


@sync
async def test_overwrite_asks_and_writes_only_after_yes(machine, tmp_path):
    topo, p = machine
    app = Host(topo, p)
    target = tmp_path / "launch.sh"
    target.write_text("old\n")
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        await set_input(pilot, "#export-path", str(target))
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmOverwrite)
        assert target.read_text() == "old\n"
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        assert target.read_text() == "old\n"
        # Escape answers "keep" too; the dialog and the typed path survive.
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        assert target.read_text() == "old\n"
        assert app.screen.query_one("#export-path", Input).value == str(target)
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.click("#confirm-yes")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        assert target.read_text() == render("sh", p, topo)


@pytest.mark.parametrize("where", ["missing-dir/x.sh", "a-directory"])
@sync
async def test_unwritable_path_is_one_error_line_and_the_dialog_stays(machine, tmp_path, where):
    topo, p = machine
    (tmp_path / "a-directory").mkdir()
    app = Host(topo, p)
    bad = str(tmp_path / where)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        app.screen.query_one("#export-formats", OptionList).highlighted = list(FORMATS).index("taskset")
        await pilot.pause()
        await set_input(pilot, "#export-command", "./prog x")
        await set_input(pilot, "#export-path", bad)
        await pilot.click("#export-save")
        await pilot.pause()
        errors = [m for sev, m in notes(app) if sev == "error"]
        assert len(errors) == 1 and "\n" not in errors[0] and bad in errors[0]
        # write_atomic's own wording: the directory is named, or the path is said to be a directory.
        assert ("does not exist" if where.startswith("missing") else "is a directory") in errors[0]
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        assert (screen.fmt, screen.command) == ("taskset", ["./prog", "x"])
        assert screen.query_one("#export-path", Input).value == bad
        assert not (tmp_path / "missing-dir").exists()


@sync
async def test_per_rank_dir_preview_save_and_confirm(machine, tmp_path):
    topo, p = machine
    app = Host(topo, p)
    d = tmp_path / "ranks"
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.query_one("#export-dir-row").display is False  # only for env
        screen.query_one("#export-formats", OptionList).highlighted = list(FORMATS).index("env")
        await pilot.pause()
        assert screen.query_one("#export-dir-row").display is True
        assert shown(app) == render("env", p, topo)
        await set_input(pilot, "#export-dir", str(d))
        text = shown(app)
        for rank in (0, 1):
            assert f"# ---- file {d}/rank-{rank}.env ----\n" + env_file(p, topo, rank) in text
        await pilot.click("#export-save")
        await pilot.pause()
        assert sorted(os.listdir(d)) == ["rank-0.env", "rank-1.env"]
        for rank in (0, 1):
            assert (d / f"rank-{rank}.env").read_text() == env_file(p, topo, rank)
        # By hand: compact, 2 ranks, places=cores on 8 cores (PU k and k+8 per core): rank 0 gets cores 0-3.
        assert 'OMP_PLACES="{0,8},{1,9},{2,10},{3,11}"' in (d / "rank-0.env").read_text()
        # A second save asks once for the set; "n" leaves every file as it was.
        (d / "rank-1.env").write_text("mine\n")
        await pilot.press("ctrl+s")  # a Button ignores a 2nd click while it flashes
        await pilot.pause()
        assert isinstance(app.screen, ConfirmOverwrite)
        await pilot.press("n")
        await pilot.pause()
        assert (d / "rank-1.env").read_text() == "mine\n"
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert (d / "rank-1.env").read_text() == env_file(p, topo, 1)


@sync
async def test_copy_puts_the_text_on_the_clipboard(machine):
    topo, p = machine
    app = Host(topo, p)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        app.screen.query_one("#export-formats", OptionList).highlighted = list(FORMATS).index("slurm")
        await pilot.pause()
        await pilot.press("c")  # the format list has the focus, so 'c' is not typed anywhere
        await pilot.pause()
        assert app.clipboard == render("slurm", p, topo)
        assert any("copied (if your terminal supports OSC 52)" in m for _, m in notes(app))


@sync
async def test_render_error_is_a_notification_not_a_crash(machine, tmp_path, monkeypatch):
    topo, p = machine
    real = export_screen.render

    def failing(fmt, *a, **kw):
        if fmt == "vllm":
            raise OmpvizError("vllm: injected failure")
        if fmt == "gomp":
            raise RuntimeError("exporter bug")
        return real(fmt, *a, **kw)

    monkeypatch.setattr(export_screen, "render", failing)
    app = Host(topo, p)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        formats = app.screen.query_one("#export-formats", OptionList)
        formats.highlighted = list(FORMATS).index("vllm")
        await pilot.pause()
        assert shown(app) == "# cannot export: vllm: injected failure\n"
        assert ("error", "vllm: injected failure") in notes(app)
        target = tmp_path / "vllm.env"
        await set_input(pilot, "#export-path", str(target))
        await pilot.click("#export-save")
        await pilot.pause()
        assert not target.exists()
        formats.highlighted = list(FORMATS).index("gomp")
        await pilot.pause()
        assert ("error", "format gomp failed: RuntimeError: exporter bug") in notes(app)
        formats.highlighted = list(FORMATS).index("kmp")
        await pilot.pause()
        assert shown(app) == render("kmp", p, topo)
        assert isinstance(app.screen, ExportScreen)


@sync
async def test_escape_closes(machine):
    topo, p = machine
    app = Host(topo, p)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ExportScreen)


@sync
async def test_explorer_e_opens_the_dialog_on_its_plan():
    from ompviz.tui.app import OmpvizApp

    topo = tiny()
    app = OmpvizApp(topo, PlanRequest(ranks=2, strategy="spread"))
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        assert shown(app) == render("sh", app.plan, topo)


def _snap_app(command=None) -> Host:
    topo = tiny()
    return Host(topo, plan(topo, PlanRequest(ranks=2)), command=command)


def test_snapshot_wide(snap_compare):
    assert snap_compare(_snap_app(["./stream", "--size", "1G"]), terminal_size=WIDE)


def test_snapshot_narrow_env(snap_compare):
    async def pick_env(pilot) -> None:
        await pilot.pause()
        pilot.app.screen.query_one("#export-formats", OptionList).highlighted = list(FORMATS).index("env")
        await pilot.pause()

    assert snap_compare(_snap_app(), terminal_size=NARROW, run_before=pick_env)


@sync
async def test_long_texts_are_previewed_in_part_but_copied_and_saved_whole(machine, tmp_path, monkeypatch):
    topo, p = machine
    monkeypatch.setattr(export_screen, "PREVIEW_LINES", 20)
    full = render("json", p, topo)
    assert full.count("\n") > 20
    app = Host(topo, p)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        app.screen.query_one("#export-formats", OptionList).highlighted = list(FORMATS).index("json")
        await pilot.pause()
        assert shown(app) == "".join(full.splitlines(keepends=True)[:20])
        desc = str(app.screen.query_one("#export-desc", Static).render())
        assert f"preview: first 20 of {full.count(chr(10)):,} lines" in desc
        await pilot.press("c")
        assert app.clipboard == full
        target = tmp_path / "cfg.json"
        await set_input(pilot, "#export-path", str(target))
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert target.read_text() == full


@sync
async def test_save_right_after_typing_uses_the_typed_command_on_slow_machines(machine, tmp_path, monkeypatch):
    topo, p = machine
    # Pretend every render is slow, with a typing pause far longer than the test: only the flush can render.
    monkeypatch.setattr(export_screen, "SLOW_RENDER", -1.0)
    monkeypatch.setattr(export_screen, "TYPING_PAUSE", 600.0)
    app = Host(topo, p)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        await set_input(pilot, "#export-command", "./new --flag")
        assert shown(app) == render("sh", p, topo)  # debounced: not re-rendered yet
        target = tmp_path / "launch.sh"
        await set_input(pilot, "#export-path", str(target))
        await pilot.press("ctrl+s")
        await pilot.pause()
        expected = render("sh", p, topo, command=["./new", "--flag"])
        assert target.read_text() == expected
        assert shown(app) == expected
