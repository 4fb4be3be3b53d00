"""Pilot tests: every key binding, mouse reserve toggling and hover, loading each kind of source, bad input.

Machines are self-built (tui_machines) so these run without ../shared; expected values are reasoned by hand from
how those machines are built (sibling s of core k is OS index k + s * cores).
"""

from __future__ import annotations

import asyncio
import shlex

import pytest
from asyncrun import sync
from textual.widgets import Input, OptionList, Static
from tui_machines import hybrid, small

from ompviz.cpuset import CpuSet
from ompviz.plan.model import BIND_POLICIES, PLACES, SMT_POLICIES, STRATEGIES, PlanRequest
from ompviz.tui.app import OmpvizApp
from ompviz.tui.widgets.controls import Controls
from ompviz.tui.widgets.panels import TextLine, TextView
from ompviz.tui.widgets.topomap import TopologyMap

SIZE = (160, 50)


def _text(app: OmpvizApp, selector: str) -> str:
    widget = app.query_one(selector)
    if isinstance(widget, (TextLine, TextView)):  # the header, legend, PU details: drawn from a Text
        return widget.plain if isinstance(widget, TextView) else widget.text.plain
    return str(app.query_one(selector, Static).render())


def _form_errors(app: OmpvizApp) -> str:
    """The error lines under the form, unwrapped (the form wraps them to the sidebar's width)."""
    return " ".join(app.query_one(Controls).error_lines())


def _one_line(text: str) -> str:
    return " ".join(text.split())


@sync
async def test_rank_keys_replan_and_repaint():
    app = OmpvizApp(small(), PlanRequest(ranks=1))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("plus")
        await pilot.pause()
        assert app.request.ranks == 2 and len(app.plan.workers) == 2
        # compact on 2 packages x 8 cores: rank 0 takes package 0 = cores 0-7 and their siblings 16-23
        assert app.plan.workers[0].cpus == CpuSet.range(0, 7) | CpuSet.range(16, 23)
        assert app.query_one(Controls).text("ranks") == "2"
        lines = app.query_one(TopologyMap).plain_lines()
        assert any("16" in ln for ln in lines)
        await pilot.press("minus", "minus")  # never below one rank
        await pilot.pause()
        assert app.request.ranks == 1


@sync
async def test_cycle_keys():
    app = OmpvizApp(small(), PlanRequest(ranks=2))
    async with app.run_test(size=SIZE) as pilot:
        for key, field, choices in (
            ("s", "strategy", STRATEGIES),
            ("b", "bind", BIND_POLICIES),
            ("t", "smt", SMT_POLICIES),
            ("p", "places", PLACES),
        ):
            start = getattr(app.request, field)
            await pilot.press(key)
            await pilot.pause()
            expected = choices[(choices.index(start) + 1) % len(choices)]
            assert app.plan_error is None
            assert getattr(app.request, field) == expected
            assert app.plan.request == app.request
            assert app.query_one(Controls).text(field) == expected  # the form shows what the key chose


@sync
async def test_strategy_key_passes_manual_with_prefilled_lists():
    # QA: `s` got stuck on distrib ("manual needs --cpus" on every press). Switching to manual with no lists
    # now starts from the current plan's worker CPU sets, so manual plans at once and the cycle goes on.
    app = OmpvizApp(small(), PlanRequest(ranks=2, strategy="spread"))
    async with app.run_test(size=SIZE) as pilot:
        seen = []
        for _ in range(len(STRATEGIES)):
            await pilot.press("s")
            await pilot.pause()
            assert app.plan_error is None, app.plan_error
            seen.append(app.request.strategy)
            if app.request.strategy == "distrib":
                # 2 ranks on 2 packages: one package each (siblings of core k are k and k+16)
                assert [w.cpus.to_list() for w in app.plan.workers] == ["0-7,16-23", "8-15,24-31"]
            if app.request.strategy == "manual":
                assert app.request.cpus == "0-7,16-23|8-15,24-31"
                assert [w.cpus.to_list() for w in app.plan.workers] == ["0-7,16-23", "8-15,24-31"]
                form = app.query_one(Controls)
                assert "cpus" in form.fields() and form.text("cpus") == "0-7,16-23|8-15,24-31"
                assert not _form_errors(app)
        assert seen == ["numa", "l3", "distrib", "manual", "vllm", "compact", "spread"]
        assert app.request.cpus is None  # leaving manual drops the lists (no stray --cpus in exports)


@sync
async def test_manual_from_palette_and_form_prefills_lists():
    app = OmpvizApp(small(), PlanRequest(ranks=2, strategy="compact"))
    async with app.run_test(size=SIZE) as pilot:
        cmd = next(c for c in app.get_system_commands(app.screen) if c.title == "Strategy: manual")
        cmd.callback()
        await pilot.pause()
        # compact, 2 ranks: package 0 = cores 0-7 + siblings 16-23, package 1 the rest
        assert app.plan_error is None and app.request.strategy == "manual"
        assert app.request.cpus == "0-7,16-23|8-15,24-31"
        app.set_request(PlanRequest(ranks=2, strategy="l3"))
        await pilot.pause()
        form = app.query_one(Controls)
        form.focus()
        form.select_field("strategy")
        await pilot.press("right", "right")  # l3 -> distrib -> manual
        await pilot.pause()
        assert app.request.strategy == "manual" and app.plan_error is None
        # distrib gives each rank one package: the same split as compact for 2 ranks on 2 packages
        assert form.text("cpus") == "0-7,16-23|8-15,24-31"


@sync
async def test_numbering_fold_controls_help_quit():
    app = OmpvizApp(hybrid(), PlanRequest(ranks=2))
    async with app.run_test(size=SIZE) as pilot:
        m = app.query_one(TopologyMap)
        assert m.numbering == "os"
        await pilot.press("o")
        assert m.numbering == "logical"
        assert "logical" in m.border_title
        await pilot.press("o")
        assert m.numbering == "os"
        await pilot.press("z")
        assert m.fold == "pu" and m.level == "pu"
        await pilot.press("z")
        assert m.level == "core"
        await pilot.press("z", "z", "z")
        assert m.fold == "auto"
        sidebar = app.query_one("#sidebar")
        assert sidebar.display
        await pilot.press("c")
        await pilot.pause()
        assert not sidebar.display
        await pilot.press("c")
        await pilot.pause()
        assert sidebar.display
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ != "HelpScreen"
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


@sync
async def test_help_scrolls_at_once_and_states_the_rankfile_exception():
    from ompviz.tui.screens.help import HELP_PATH

    text = " ".join(HELP_PATH.read_text(encoding="utf-8").split())
    # the Open MPI rankfile export writes hwloc logical indices (export/launchers.py); the help must not claim
    # every exported value is an OS index
    assert "always OS indices" not in text
    assert "except the Open MPI rankfile, which uses hwloc logical indices" in text
    app = OmpvizApp(small(), PlanRequest(ranks=1))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        body = app.screen.query_one("#help-body")
        assert app.focused is body
        await pilot.press("pagedown")
        await pilot.pause()
        assert body.scroll_y > 0
        y = body.scroll_y
        await pilot.press("down")
        await pilot.pause()
        assert body.scroll_y > y


@sync
async def test_logical_numbering_shows_logical_indices():
    # hybrid(): P-core 0 = CPUs 0,1 (L#0, L#1) ... E-cores 4-7 are L#4-L#7: identical here, so use small():
    # small() core k has siblings k and k+16; depth-first L# numbers them 2k and 2k+1.
    app = OmpvizApp(small(), PlanRequest(ranks=1))
    async with app.run_test(size=SIZE) as pilot:
        m = app.query_one(TopologyMap)
        await pilot.press("o")
        lines = m.plain_lines()
        # first core row of package 0: cores 0..3 -> L#0,2,4,6 ; sibling row -> L#1,3,5,7
        first_row = next(ln for ln in lines if ln.split() and ln.split()[0] == "0")
        assert first_row.split()[:4] == ["0", "2", "4", "6"]


@pytest.mark.parametrize("optional", [None, {}], ids=["with-export-run", "without"])
@sync
async def test_narrow_footer_keeps_essential_keys_whole(optional):
    # QA: at 80x24 the footer was cut after "r Run": c (the form is hidden at this width), l, ? and q were lost
    from ompviz.tui.widgets.panels import KeyBar

    app = OmpvizApp(small(), PlanRequest(ranks=2), optional_screens=optional)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        bar = app.query_one(KeyBar)
        line = bar.render_line(0).text
        assert len(line) == 80
        words = line.split()
        # items are "key label" pairs; every label is a whole one (nothing cut mid-word)
        labels = {"Rank+", "Rank-", "Strat", "Strategy", "Bind", "SMT", "OS/L#", "Fold", "Controls", "Export"}
        labels |= {"Run", "Load", "Help", "Quit"}
        pairs = dict(zip(words[::2], words[1::2], strict=True))
        assert set(pairs.values()) <= labels, line
        for key, label in (("c", "Controls"), ("l", "Load"), ("?", "Help"), ("q", "Quit"), ("s", "Strat")):
            assert pairs.get(key) == label, line
        if optional is None:
            assert pairs.get("r") == "Run" and pairs.get("e") == "Export", line
        # the shown c key works: it brings the hidden form back
        await pilot.press("c")
        await pilot.pause()
        assert app.query_one("#sidebar").display
    # wide terminals keep the full labels
    app = OmpvizApp(small(), PlanRequest(ranks=2), optional_screens=optional)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        line = app.query_one(KeyBar).render_line(0).text
        assert "s Strategy" in line and "q Quit" in line


@sync
async def test_preview_places_column_takes_the_remaining_width_with_ellipsis():
    # QA: at 160x50 OMP_PLACES was cut at the table's edge to ~8 characters with no ellipsis
    from tui_machines import zen4_like

    from ompviz.tui.widgets.panels import WorkerTable

    app = OmpvizApp(zen4_like(), PlanRequest(ranks=4), optional_screens={})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(WorkerTable)
        width = table.scrollable_content_region.width
        header = table.render_line(0).text
        row = table.render_line(1).text
        assert len(row) == width
        start = header.index("OMP_PLACES")
        cell = row[start:].rstrip()
        places = app.plan.workers[0].env_dict["OMP_PLACES"]
        # 48 cores of 2 PUs each as {a,b} places: far longer than the room left
        assert len(places) > width
        assert cell.endswith("…"), row
        assert places.startswith(cell[:-1])
        assert len(cell) >= width - start - 2  # the rest of the width, not ~8 characters
        # a resize refits the column to the new room
        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        width = table.scrollable_content_region.width
        row = table.render_line(1).text
        assert width > 64 and len(row) == width and row.rstrip().endswith("…"), row


@sync
async def test_logical_core_l3_numa_views_use_their_own_indices():
    # small(): 2 packages x 2 L3 x 4 cores x SMT2; cores are L#0..15 depth-first, core k holds PU L#2k, 2k+1.
    # QA: the core view labelled cores by their first PU's L# (0 2 4 6 ...) instead of the core's L# (0 1 2 3).
    app = OmpvizApp(small(), PlanRequest(ranks=1))
    async with app.run_test(size=SIZE) as pilot:
        m = app.query_one(TopologyMap)
        await pilot.press("o")
        m.set_fold("core")
        await pilot.pause()
        rows = [ln.split() for ln in m.plain_lines() if ln.split() and ln.split()[0].isdigit()]
        # package 0: L3 #0 with cores 0-3 and L3 #1 with cores 4-7 side by side; package 1: 8-11 and 12-15
        assert [int(x) for x in rows[0]] == list(range(8))
        assert [int(x) for x in rows[1]] == list(range(8, 16))
        m.set_fold("l3")
        await pilot.pause()
        text = " ".join(m.plain_lines())
        # L3 #k holds cores 4k..4k+3 = PU L#8k..8k+7
        for k in range(4):
            assert f"L3#{k}: {8 * k}-{8 * k + 7}" in text
        m.set_fold("numa")
        await pilot.pause()
        text = " ".join(m.plain_lines())
        # one NUMA node per package: package p holds PU L#16p..16p+15
        assert "NUMA 0: 0-15" in text and "NUMA 1: 16-31" in text


@sync
async def test_click_toggles_reserved_and_hover_shows_details():
    app = OmpvizApp(small(), PlanRequest(ranks=2))
    async with app.run_test(size=SIZE) as pilot:
        m = app.query_one(TopologyMap)
        x, y = m.screen_offset_of(17)
        await pilot.hover(TopologyMap, offset=(x + 1, y))
        await pilot.pause()
        info = _text(app, "#pu-info")
        # CPU 17 is the second sibling of core 1 (k=1, s=1): core L#1, package 0, owned by rank 0
        assert "PU P#17" in info and "core L#1" in info and "package 0" in info and "rank 0" in info
        assert "SMT siblings 1,17" in info
        await pilot.click(TopologyMap, offset=(x + 1, y))
        await pilot.pause()
        assert 17 in app.request.reserve
        assert 17 not in app.plan.workers[0].cpus
        assert app.query_one(Controls).text("reserve") == "17"
        assert any("17r" in ln for ln in m.plain_lines())
        await pilot.click(TopologyMap, offset=(x + 1, y))
        await pilot.pause()
        assert 17 not in app.request.reserve


@sync
async def test_reserve_input_live_validation():
    app = OmpvizApp(small(), PlanRequest(ranks=1))
    async with app.run_test(size=SIZE) as pilot:
        form = app.query_one(Controls)
        form.focus()
        for _ in range(8):  # ranks -> threads -> 6 choices -> reserve
            await pilot.press("down")
        assert form.current == "reserve"
        await pilot.press(*"5-2")
        await pilot.pause()
        assert form.is_invalid("reserve") and form.text("reserve") == "5-2"
        assert "reserve" in _form_errors(app)
        # "5" was valid while typing and was planned; "5-" and "5-2" are not: the last valid value stays
        assert app.request.reserve == CpuSet([5])
        await pilot.press("backspace", "backspace", "backspace", *"0-1")
        await pilot.pause()
        assert not form.is_invalid("reserve") and not _form_errors(app)
        assert app.request.reserve == CpuSet([0, 1])
        assert not (app.plan.workers[0].cpus & CpuSet([0, 1]))


@sync
async def test_invalid_ranks_and_threads_are_refused_inline():
    app = OmpvizApp(small(), PlanRequest(ranks=2))
    async with app.run_test(size=SIZE) as pilot:
        form = app.query_one(Controls)
        form.edit("ranks", "0")
        await pilot.pause()
        assert form.is_invalid("ranks") and app.request.ranks == 2
        assert "at least 1" in _form_errors(app)
        form.edit("threads", "many")
        await pilot.pause()
        assert form.is_invalid("threads") and app.request.threads is None
        form.edit("threads", "3")
        await pilot.pause()
        assert app.request.threads == 3 and app.plan.workers[0].num_threads == 3


@sync
async def test_manual_lists_and_vllm_fields_follow_strategy():
    app = OmpvizApp(small(), PlanRequest(ranks=2))
    async with app.run_test(size=SIZE) as pilot:
        controls = app.query_one(Controls)
        assert "cpus" not in controls.fields() and "VLLM_CPU_OMP_THREADS_BIND" not in controls.fields()
        app.set_request(PlanRequest(ranks=2, strategy="manual", cpus="0-3|4-7"))
        await pilot.pause()
        assert "cpus" in controls.fields()
        assert controls.text("cpus") == "0-3|4-7"
        assert [w.cpus for w in app.plan.workers] == [CpuSet.range(0, 3), CpuSet.range(4, 7)]
        controls.edit("cpus", "8-9|10-11")
        await pilot.pause()
        assert [w.cpus for w in app.plan.workers] == [CpuSet([8, 9]), CpuSet([10, 11])]
        app.set_request(PlanRequest(ranks=2, strategy="vllm"))
        await pilot.pause()
        assert "VLLM_CPU_OMP_THREADS_BIND" in controls.fields() and "cpus" not in controls.fields()
        controls.edit("VLLM_CPU_OMP_THREADS_BIND", "0-3|4-7")
        await pilot.pause()
        assert dict(app.request.vllm_vars)["VLLM_CPU_OMP_THREADS_BIND"] == "0-3|4-7"


@sync
async def test_warning_selection_highlights_its_cpus():
    # two manual ranks sharing CPUs 2-3: the planner must warn about the overlap and name those CPUs/ranks
    app = OmpvizApp(small(), PlanRequest(ranks=2, strategy="manual", cpus="0-3|2-5"))
    async with app.run_test(size=SIZE) as pilot:
        assert app.plan.warnings
        app.show_tab("tab-warnings")
        await pilot.pause()
        ol = app.query_one("#warnings", OptionList)
        idx = next(i for i, w in enumerate(app.plan.warnings) if w.code == "overlap")
        ol.focus()
        ol.highlighted = idx
        await pilot.pause()
        m = app.query_one(TopologyMap)
        assert m.state.highlight and m.state.highlight >= CpuSet([2, 3])
        assert any("3!" in ln for ln in m.plain_lines())
        await pilot.press("escape")
        await pilot.pause()
        assert not m.state.highlight


async def _load_via_dialog(pilot, app, field: str | None, text: str | None, preset: str | None = None):
    await pilot.press("l")
    await pilot.pause()
    assert type(app.screen).__name__ == "LoadScreen"
    if preset is not None:
        ol = app.screen.query_one("#load-presets", OptionList)
        ol.focus()
        ol.highlighted = next(i for i in range(ol.option_count) if ol.get_option_at_index(i).id == preset)
        await pilot.press("enter")
    else:
        inp = app.screen.query_one(f"#{field}", Input)
        inp.focus()
        inp.value = text
        await pilot.press("enter")
    await pilot.pause()


@sync
async def test_load_snapshot_file_preset_and_synthetic(tmp_path):
    from ompviz.topology.snapshot import dumps_snapshot

    snap = tmp_path / "hybrid.json"
    snap.write_text(dumps_snapshot(hybrid()))
    app = OmpvizApp(small(), PlanRequest(ranks=2, reserve=CpuSet([31])))
    async with app.run_test(size=SIZE) as pilot:
        await _load_via_dialog(pilot, app, "load-path", str(snap))
        assert type(app.screen).__name__ != "LoadScreen"
        assert app.topology.name == "hybrid test box" and len(app.topology.pus) == 8
        assert app.request.reserve == CpuSet()  # CPU 31 does not exist on the new machine
        assert "hybrid test box" in _text(app, "#header")
        await _load_via_dialog(pilot, app, None, None, preset="teach-4c")
        assert app.topology.source == "preset:teach-4c"
        pytest.importorskip("ompviz.topology.synthetic")
        await _load_via_dialog(pilot, app, "load-synthetic", "pack:2 core:3 pu:2")
        assert len(app.topology.pus) == 12 and len(app.topology.cores) == 6
        assert len(app.plan.workers) == 2


@sync
async def test_load_errors_stay_in_the_dialog(tmp_path):
    bad = tmp_path / "junk.xml"
    bad.write_text("<topology><object type='Machine'>")  # truncated XML
    app = OmpvizApp(small(), PlanRequest(ranks=2))
    async with app.run_test(size=SIZE) as pilot:
        await _load_via_dialog(pilot, app, "load-path", str(tmp_path / "missing.xml"))
        assert type(app.screen).__name__ == "LoadScreen"
        err = str(app.screen.query_one("#load-error", Static).render())
        assert "missing.xml" in err and "no such file" in err
        inp = app.screen.query_one("#load-path", Input)
        inp.value = str(bad)
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "LoadScreen"
        assert "junk.xml" in str(app.screen.query_one("#load-error", Static).render())
        await pilot.press("escape")
        await pilot.pause()
        assert app.topology.name == "small test box"


@sync
async def test_command_palette_offers_actions_and_presets():
    app = OmpvizApp(small(), PlanRequest(ranks=1))
    async with app.run_test(size=SIZE):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for expected in ("One rank more", "Strategy: spread", "Bind: primary", "Load topology", "Help"):
            assert expected in titles
        from ompviz.topology.presets import PRESETS

        assert all(f"Preset: {name}" in titles for name in PRESETS)
        cmd = next(c for c in app.get_system_commands(app.screen) if c.title == "Strategy: spread")
        cmd.callback()
        assert app.request.strategy == "spread"
        # QA: every strategy had the same description; each now says what it does, in one line
        helps = {c.title: c.help for c in app.get_system_commands(app.screen) if c.title.startswith("Strategy: ")}
        assert set(helps) == {f"Strategy: {s}" for s in STRATEGIES}
        assert len(set(helps.values())) == len(STRATEGIES)
        assert all(h and "\n" not in h and len(h) <= 100 for h in helps.values())
        assert "hwloc_distrib" in helps["Strategy: distrib"] and "vLLM" in helps["Strategy: vllm"]
        assert "NUMA" in helps["Strategy: numa"] and "L3" in helps["Strategy: l3"]


@sync
async def test_planner_error_is_shown_not_raised():
    app = OmpvizApp(small(), PlanRequest(ranks=1))
    async with app.run_test(size=SIZE) as pilot:
        app.set_request(PlanRequest(ranks=1, strategy="manual", cpus="0-3|junk"))
        await pilot.pause()
        assert app.request.strategy == "compact"  # last good request kept
        assert app.plan_error and _one_line(app.plan_error) in _form_errors(app)


@sync
async def test_run_and_export_keys_open_their_dialogs_when_present():
    import importlib

    from ompviz.tui.app import OPTIONAL_SCREENS

    app = OmpvizApp(small(), PlanRequest(ranks=2))
    async with app.run_test(size=SIZE) as pilot:
        for action, key in (("run_live", "r"), ("export", "e")):
            mod, attr = OPTIONAL_SCREENS[action]
            try:
                expected = getattr(importlib.import_module(mod), attr)
            except (ImportError, AttributeError):
                # not installed: the key is hidden from the footer and does nothing
                assert app.check_action(action, ()) is False
                await pilot.press(key)
                assert app.screen is app.screen_stack[0]
                continue
            assert app.check_action(action, ()) is True
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, expected)
            app.pop_screen()
            await pilot.pause()
    # with no dialogs configured the keys are hidden
    bare = OmpvizApp(small(), PlanRequest(ranks=1), optional_screens={})
    assert bare.check_action("run_live", ()) is False and bare.check_action("export", ()) is False


def _args(argv: list[str]):
    """What `ompviz ARGV` hands the explorer: cli.main splits the worker command off at a bare `--`."""
    from ompviz.cli import build_parser

    command: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, command = argv[:i], argv[i + 1 :]
    args = build_parser().parse_args(argv)
    args.worker_command = command
    return args


async def _export_command(app: OmpvizApp) -> list[str] | None:
    """Press `e` and read the command the export dialog starts with (its own state and its input box)."""
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        await pilot.pause()
        screen = app.screen
        assert type(screen).__name__ == "ExportScreen"
        shown = screen.query_one("#export-command", Input).value
        # the input shows the command as a shell would quote it; the dialog keeps the argv itself
        assert shown == (shlex.join(screen.command) if screen.command else "")
        return screen.command


@sync
async def test_worker_command_reaches_the_export_dialog(tmp_path):
    pytest.importorskip("ompviz.tui.screens.export")
    from ompviz.commands.tui import build_app
    from ompviz.export.config import to_json

    # `ompviz --topology preset:teach-4c -- ./solver --n "2 3"`: the argv after `--`, quoting kept
    app = build_app(_args(["--topology", "preset:teach-4c", "--ranks", "2", "--", "./solver", "--n", "2 3"]))
    assert await _export_command(app) == ["./solver", "--n", "2 3"]

    # no command anywhere: the dialog starts empty (its placeholder explains it)
    assert await _export_command(build_app(_args(["--topology", "preset:teach-4c"]))) is None

    # a saved config carries its command; a command given on the command line wins over it
    from ompviz.plan import plan
    from ompviz.topology import load

    topo = load("preset:teach-4c")
    cfg = tmp_path / "saved.json"
    cfg.write_text(to_json(plan(topo, PlanRequest(ranks=2)), topo, command=["./saved", "-x"]))
    assert await _export_command(build_app(_args(["--config", str(cfg)]))) == ["./saved", "-x"]
    app = build_app(_args(["--config", str(cfg), "--", "./other"]))
    assert await _export_command(app) == ["./other"]


@sync
async def test_form_keys_and_clicks_cycle_choices():
    app = OmpvizApp(small(), PlanRequest(ranks=2))
    async with app.run_test(size=SIZE) as pilot:
        form = app.query_one(Controls)
        form.focus()
        await pilot.press("down", "down")  # ranks -> threads -> strategy
        assert form.current == "strategy"
        await pilot.press("right")
        await pilot.pause()
        assert app.request.strategy == STRATEGIES[1]
        await pilot.press("left", "left")
        await pilot.pause()
        assert app.request.strategy == STRATEGIES[-1]
        # keys of the app still work on a choice row ('s' is not typed anywhere)
        await pilot.press("right", "b")
        await pilot.pause()
        assert app.request.strategy == STRATEGIES[0] and app.request.bind == BIND_POLICIES[1]
        # on a text row letters are typed, not taken as app keys: 's' lands in the threads field
        await pilot.press("up")
        assert form.current == "threads"
        await pilot.press("s")
        await pilot.pause()
        assert form.text("threads") == "autos" and form.is_invalid("threads")
        assert app.request.strategy == STRATEGIES[0]
        # a click on a choice row selects it, a second click on its value cycles it
        row = 2 + list(form.fields())[2:].index("bind")  # ranks, threads, then the choices in order
        await pilot.click(Controls, offset=(12, row))
        assert form.current == "bind"
        await pilot.click(Controls, offset=(12, row))
        await pilot.pause()
        assert app.request.bind == BIND_POLICIES[2]


@sync
async def test_tabs_build_lazily_and_follow_the_plan():
    app = OmpvizApp(small(), PlanRequest(ranks=2))
    async with app.run_test(size=SIZE) as pilot:
        assert not app.query("#warnings") and not app.query("#explain")  # built when first shown
        tabs = app.query_one("#tabs")
        # "Preview" spans x 0-8, then one gap column, "Warnings (n)" after it: click inside the second label
        await pilot.click("#tabs", offset=(12, 0))
        await pilot.pause()
        assert app.active_tab == "tab-warnings" and app.query_one("#warnings").display
        assert not app.query_one("#tab-preview").display
        tabs.focus()
        await pilot.press("right")
        await pilot.pause()
        assert app.active_tab == "tab-explain"
        assert "2 ranks · strategy compact" in _text(app, "#explain")
        await pilot.press("s")  # the shown pane follows the new plan
        await pilot.pause()
        assert f"2 ranks · strategy {STRATEGIES[1]}" in _text(app, "#explain")
        await pilot.press("right")
        await pilot.pause()
        assert app.active_tab == "tab-preview" and not app.query_one("#explain-scroll").display


@sync
async def test_worker_rows_select_the_rank_and_footer_keys_click():
    app = OmpvizApp(small(), PlanRequest(ranks=2))
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one("#workers")
        assert table.row_count == 2 and table.row_plain(1)[0].strip() == "1"
        # compact, 2 ranks on 2x(4+4 cores, SMT2): rank 1 = package 1 = cores 8-15 + siblings 24-31
        assert table.row_plain(1)[1] == "8-15,24-31"
        await pilot.click("#workers", offset=(3, 3))  # the titled border, the header line, then row 0, row 1
        await pilot.pause()
        assert app.selected_rank == 1
        assert app.query_one("#threads").border_title.startswith("Rank 1")
        assert "rank 1" in app.query_one("#worker-env").plain
        table.focus()
        await pilot.press("up")
        await pilot.pause()
        assert app.selected_rank == 0
        # the footer is one widget: clicking its "s Strategy" item presses s
        bar = app.query_one("KeyBar")
        x = next(x0 for x0, _x1, key in bar._spans if key == "s")
        await pilot.click("KeyBar", offset=(x + 1, 0))
        await pilot.pause()
        assert app.request.strategy == STRATEGIES[1]


@sync
async def test_partial_repaints_leave_no_stale_line():
    """Replans repaint only the lines that changed (map lines, table rows, env lines, form fields). After a run of
    key presses every line on screen must be what a full repaint draws: the screen is exported, every cache is
    dropped, the whole screen is repainted and exported again, and the two must be identical."""
    from shadow import redraw_from_scratch
    from tui_machines import zen4_like

    app = OmpvizApp(zen4_like(), PlanRequest(ranks=2), optional_screens={})
    async with app.run_test(size=SIZE) as pilot:
        # ranks up and down (owners move), strategy and bind (places, env and table columns change), SMT
        for key in ["plus", "plus", "s", "b", "minus", "t", "b", "plus", "s", "minus"]:
            await pilot.press(key)
            await pilot.pause()
        incremental = app.export_screenshot()
        redraw_from_scratch(app)
        await pilot.pause()
        assert app.export_screenshot() == incremental


@sync
async def test_theme_change_repaints_line_widgets_in_the_new_colours():
    """The line widgets keep their component styles between repaints (component_style); a theme change must still
    reach every line they draw: the map's header, the tables' header, the tab bar, the legend."""
    from ompviz.tui.widgets.panels import TabBar, WorkerTable

    app = OmpvizApp(small(), PlanRequest(ranks=2))
    async with app.run_test(size=SIZE) as pilot:
        app.theme = "textual-dark"
        await pilot.pause()
        widgets = (app.query_one(TopologyMap), app.query_one(WorkerTable), app.query_one(TabBar))
        names = ("topomap--header", "linetable--header", "tabbar--active")

        def drawn():
            out = []
            for w, name in zip(widgets, names, strict=True):
                strip = w.render_line(0)
                styles = {seg.style for seg in strip if seg.text.strip()}
                out.append((w.get_component_rich_style(name), styles))
            return out

        before = drawn()
        app.theme = "textual-light"
        await pilot.pause()
        after = drawn()
        for (old_want, old_styles), (new_want, new_styles) in zip(before, after, strict=True):
            assert old_want != new_want  # the themes differ in these colours
            assert any(s.color == old_want.color for s in old_styles)  # and the first drawing had the old one
            # what is drawn now carries the new theme's colour, not the old one
            assert any(s.color == new_want.color for s in new_styles)
            assert not any(s.color == old_want.color for s in new_styles if old_want.color != new_want.color)


@sync
async def test_scrollbars_follow_resizes_of_the_line_widgets():
    """LineScrollView skips Textual's scrollbar update on layouts that leave its size alone; a real resize must
    still show or hide the scrollbar: the sidebar's environment text (48 threads' lists) needs one at 160x50 and
    fits on a 160x90 terminal. (The explorer shows that pane's bar always on wide screens; here it comes and goes.)"""
    from tui_machines import zen4_like

    from ompviz.tui.widgets.panels import TextView

    app = OmpvizApp(zen4_like(), PlanRequest(ranks=4), optional_screens={})
    async with app.run_test(size=SIZE) as pilot:
        env = app.query_one("#worker-env", TextView)
        env.styles.overflow_y = "auto"
        await pilot.pause()
        assert env.virtual_size.height > env.scrollable_content_region.height
        assert env.show_vertical_scrollbar
        await pilot.resize_terminal(160, 90)
        await pilot.pause()
        assert env.virtual_size.height <= env.scrollable_content_region.height
        assert not env.show_vertical_scrollbar
        await pilot.resize_terminal(*SIZE)
        await pilot.pause()
        assert env.show_vertical_scrollbar


@sync
async def test_text_view_never_shows_a_horizontal_scrollbar():
    """The environment pane folds its text at its width. When a longer text brings a vertical scrollbar, the pane
    narrows by a column: that must refold the text, not bring a horizontal scrollbar (which the refold then took
    away again: two extra layouts and paints, ~40-60 ms of a key press on the 4,096-PU machine)."""
    from rich.text import Text
    from textual.app import App
    from textual.screen import Screen

    from ompviz.tui.widgets.panels import TextView

    shown: list[bool] = []

    class Watched(TextView):
        def watch_show_horizontal_scrollbar(self, value: bool) -> None:
            shown.append(value)

    class One(App[None]):
        CSS = "Watched { width: 30; height: 6; scrollbar-size-vertical: 1; }"

        def compose(self):
            yield Watched(id="tv")

    layouts = 0
    original = Screen._refresh_layout

    def counting(self, *args, **kwargs):
        nonlocal layouts
        layouts += 1
        return original(self, *args, **kwargs)

    app = One()
    async with app.run_test(size=(60, 20)) as pilot:
        tv = app.query_one(Watched)
        tv.update(Text("short\ntext"))
        await pilot.pause()
        assert not tv.show_vertical_scrollbar
        Screen._refresh_layout = counting  # type: ignore[method-assign]
        try:
            # exactly 30 columns a line: fits without the scrollbar, wraps once it is there
            tv.update(Text("\n".join("x" * 29 + str(i % 10) for i in range(12))))
            for _ in range(5):
                await pilot.pause()
                await asyncio.sleep(0.02)
        finally:
            Screen._refresh_layout = original  # type: ignore[method-assign]
        assert tv.show_vertical_scrollbar and not tv.show_horizontal_scrollbar
        assert True not in shown
        assert layouts <= 1
        assert tv.virtual_size.height == 24  # every 30-column line folded in two at 29 columns


@sync
async def test_clicks_on_line_widgets_do_not_repaint_the_whole_screen():
    """Textual's text selection cannot select in line-drawn widgets, but a press on one started a selection and the
    release cleared it, each a repaint of the whole screen before the click was handled. A click on a PU, a worker
    row or a tab must repaint only what it changes. (Moving the focus to another widget is a whole repaint in
    Textual, so each widget is clicked once first.)"""
    from textual.screen import Screen
    from textual.widget import Widget

    from ompviz.tui.widgets.panels import TabBar, WorkerTable

    app = OmpvizApp(small(), PlanRequest(ranks=3), optional_screens={})
    whole: list[str] = []
    original = Widget.refresh

    def refresh(self, *regions, **kwargs):
        if isinstance(self, Screen) and not regions:
            whole.append(type(self).__name__)
        return original(self, *regions, **kwargs)

    async def click(widget, offset) -> list[str]:
        whole.clear()
        Widget.refresh = refresh  # type: ignore[method-assign]
        try:
            await pilot.click(widget, offset=offset)
            await pilot.pause()
        finally:
            Widget.refresh = original  # type: ignore[method-assign]
        return list(whole)

    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        m = app.query_one(TopologyMap)
        assert app.focused is m
        x, y = m.screen_offset_of(17)
        assert await click(TopologyMap, (x + 1, y)) == []
        assert 17 in app.request.reserve  # the click did its work
        await click(WorkerTable, (2, 3))  # (border, header, rows) the focus moves to the table
        assert app.selected_rank == 1
        assert await click(WorkerTable, (2, 4)) == []
        assert app.selected_rank == 2
        await click(TabBar, (14, 0))  # "Warnings"; the focus moves to the tab bar
        assert app.active_tab == "tab-warnings"
        assert await click(TabBar, (2, 0)) == []  # "Preview"
        assert app.active_tab == "tab-preview"


@sync
async def test_focus_changes_leave_the_terminal_as_a_full_repaint_draws_it():
    """Textual repaints the whole screen when the focus moves; the explorer's screen does not (the widgets gaining
    and losing focus repaint themselves). What a terminal shows after focus moves by keys and clicks must be what a
    full repaint draws: the map's :focus border, the tables' tint and cursor, the tab bar's active tab, the form's
    current field, the footer's keys."""
    from shadow import full_repaint_differences, mirror

    from ompviz.tui.widgets.panels import TabBar, WorkerTable

    app = OmpvizApp(small(), PlanRequest(ranks=3), optional_screens={})
    shadow = mirror(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        steps = [("key", "tab"), ("key", "tab"), ("key", "shift+tab"), ("click", WorkerTable), ("click", TopologyMap)]
        steps += [("click", TabBar), ("click", Controls), ("key", "escape"), ("click", TopologyMap)]
        focused = []
        for kind, what in steps:
            if kind == "key":
                await pilot.press(what)
            else:
                await pilot.click(what, offset=(3, 1))
            await pilot.pause()
            await asyncio.sleep(0.05)
            focused.append(type(app.focused).__name__)
        assert {"TopologyMap", "WorkerTable", "TabBar", "Controls"} <= set(focused)  # the focus really moved
        stale = await full_repaint_differences(app, pilot, shadow)
        assert not stale, f"{len(stale)} cells differ from a full repaint, first at row/column {stale[:3]}"


@sync
async def test_hover_redraws_only_the_lines_of_the_cells_it_leaves_and_enters():
    """Moving the pointer over the map draws again only the lines holding the cell it left and the one it entered
    (not the whole map), and what a terminal shows afterwards is what a full repaint draws: no highlight is left
    behind, in the PU view and in a folded view, and after the pointer leaves the map."""
    from shadow import full_repaint_differences, mirror
    from tui_machines import zen4_like

    app = OmpvizApp(zen4_like(), PlanRequest(ranks=3), optional_screens={})
    shadow = mirror(app)
    async with app.run_test(size=SIZE) as pilot:
        m = app.query_one(TopologyMap)
        drawn: list[int] = []
        for fold in ("pu", "core"):
            m.set_fold(fold)
            await pilot.pause()
            render_line = m.render_line

            def counting(y, render_line=render_line):
                drawn.append(y)
                return render_line(y)

            m.render_line = counting  # type: ignore[method-assign]
            cells = [c for line in m._layout.lines[:12] for c in line if c.role in ("pu", "core")][:40:7]
            lines_of = {c: y for y, line in enumerate(m._layout.lines) for c in line}
            for cell in cells:
                drawn.clear()
                await pilot.hover(TopologyMap, offset=(cell.x + 1, lines_of[cell] + 1))
                await pilot.pause()
                assert app.query_one("#pu-info", TextView).plain  # the details followed
                assert 1 <= len(set(drawn)) <= 2, (fold, sorted(set(drawn)))  # the cell left and the one entered
            m.render_line = render_line  # type: ignore[method-assign]
        await pilot.hover("#header", offset=(1, 0))  # the pointer leaves the map
        await pilot.pause()
        stale = await full_repaint_differences(app, pilot, shadow)
        assert not stale, f"{len(stale)} cells differ from a full repaint, first at row/column {stale[:3]}"


@sync
async def test_a_widget_change_and_the_apps_answer_are_painted_in_one_frame():
    """Textual paints on its own timer (at most 60 frames a second) once the screen is idle. The widgets told the app
    about a change by a message bubbling up: the screen went idle and painted the widget's own change first (the
    edited field, the row cursor, the hovered cell), and the app's answer (the plan, the selected worker, the PU's
    details, the highlighted warning) waited for the next frame. Every update sent to the terminal after an input
    must already show the app's answer."""
    from ompviz.tui.widgets.panels import TabBar, WorkerTable

    # two manual ranks sharing CPUs 2-3: a plan with warnings to select
    app = OmpvizApp(small(), PlanRequest(ranks=2, strategy="manual", cpus="0-3|2-5"), optional_screens={})
    frames: list[tuple] = []  # what the app had decided when each update was sent

    def state() -> tuple:
        table, m = app.query_one(WorkerTable), app.query_one(TopologyMap)
        hovered = m._hover.pu if m._hover is not None else None
        info = app.query_one("#pu-info", TextView).plain.split("\n")[0]
        return (
            app.request.ranks,
            app.request.strategy,
            tuple(app.request.reserve),
            table.cursor_row,
            app.selected_rank,
            hovered,
            info,
            app.active_tab,
            app.warning.code if app.warning else None,
        )

    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        display = app._display

        def record(screen, update) -> None:
            frames.append(state())
            display(screen, update)

        app._display = record

        async def frames_of(action) -> set[tuple]:
            frames.clear()
            await action
            await pilot.pause()
            await asyncio.sleep(0.1)  # a frame or more: anything painted late is recorded
            assert frames, "nothing was painted"
            return set(frames)

        async def focus(widget) -> None:  # moving the focus repaints on its own: done before each input
            widget.focus()
            await pilot.pause()

        # the form: a typed digit, a deleted one, a cycled choice, a click on a choice (painted once planned)
        form = app.query_one(Controls)
        await focus(form)
        form.select_field("ranks")
        await pilot.pause()
        # (a change may be followed by a scrollbar's or a layout's update: those come later, never earlier)
        assert await frames_of(pilot.press("3")) == {state()} and app.request.ranks == 23
        assert await frames_of(pilot.press("backspace")) == {state()} and app.request.ranks == 2
        await pilot.press("down", "down")  # the strategy row
        await pilot.pause()
        assert await frames_of(pilot.press("right")) == {state()} and app.request.strategy != "manual"
        row = 2 + list(form.fields())[2:].index("strategy")
        before = app.request.strategy
        assert await frames_of(pilot.click(Controls, offset=(12, row))) == {state()}
        assert app.request.strategy != before
        # the worker table: a row clicked or reached by a key selects its rank (threads, environment, map)
        await focus(app.query_one(WorkerTable))
        assert await frames_of(pilot.click(WorkerTable, offset=(2, 3))) == {state()} and app.selected_rank == 1
        assert await frames_of(pilot.press("up")) == {state()} and app.selected_rank == 0
        # the map: the hovered cell and the PU's details, a click and the reserved PU
        m = app.query_one(TopologyMap)
        await focus(m)
        for cpu in (5, 6):
            x, y = m.screen_offset_of(cpu)
            assert await frames_of(pilot.hover(TopologyMap, offset=(x + 1, y))) == {state()}
            assert state()[5] == cpu and f"P#{cpu} " in state()[6]
        assert await frames_of(pilot.click(TopologyMap, offset=(x + 1, y))) == {state()}
        assert 6 in app.request.reserve
        # the tab bar, then a warning highlighted with the keys
        await focus(app.query_one(TabBar))
        await pilot.hover(TabBar, offset=(14, 0))  # the pointer leaves the map (its hover cell goes) first
        await pilot.pause()
        assert await frames_of(pilot.click(TabBar, offset=(14, 0))) == {state()}
        assert app.active_tab == "tab-warnings"
        app.set_request(PlanRequest(ranks=2, strategy="manual", cpus="0-3|2-5"))
        await focus(app.query_one("#warnings", OptionList))
        assert len(app.plan.warnings) >= 1 and app.warning is None
        assert await frames_of(pilot.press("down")) == {state()}  # the first warning: its CPUs on the map
        assert app.warning is app.plan.warnings[0]


@sync
async def test_the_live_heat_map_never_edits_the_explorers_plan():
    """The live view draws its heat map with the explorer's map widget. A click on a PU there toggled it reserved in
    the explorer's request (the notice reached the app's handler), silently changing the plan being verified."""
    from textual.screen import Screen

    from ompviz.tui.widgets.heatmap import HeatMap

    topo = small()

    class Live(Screen):
        def compose(self):
            yield HeatMap(topo, id="live-map")

    app = OmpvizApp(topo, PlanRequest(ranks=4), optional_screens={})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        request, info = app.request, app.query_one("#pu-info", TextView).plain
        await app.push_screen(Live())
        await pilot.pause()
        heat = app.screen.query_one(HeatMap)
        x, y = heat.screen_offset_of(5)
        await pilot.hover(HeatMap, offset=(x + 1, y))
        await pilot.click(HeatMap, offset=(x + 1, y))
        await pilot.pause()
        assert app.request is request and 5 not in app.request.reserve
        app.pop_screen()
        await pilot.pause()
        assert app.request is request
        assert app.query_one("#pu-info", TextView).plain == info  # nor did the hover there show here
        m = app.query_one(TopologyMap)  # the explorer's own map still reserves
        x, y = m.screen_offset_of(5)
        await pilot.click(TopologyMap, offset=(x + 1, y))
        await pilot.pause()
        assert 5 in app.request.reserve


@sync
async def test_a_new_environment_repaints_only_its_changed_lines():
    """A `+` on 4,096 PUs (spread) changes rank 0's CPU list at the top of its environment and where its places
    end, not the places in between: only those lines are repainted (every repainted line costs the compositor the
    same, changed or not), and the terminal ends up as a full repaint draws it."""
    from shadow import full_repaint_differences, mirror, refreshes_of
    from tui_machines import big4096

    from ompviz.tui.widgets.panels import TextView

    app = OmpvizApp(big4096(), PlanRequest(ranks=16, strategy="spread"), optional_screens={})
    shadow = mirror(app)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        env = app.query_one("#worker-env", TextView)
        for key in ("plus", "minus"):
            before = list(env._parts)
            with refreshes_of(env) as repainted:
                await pilot.press(key)
                await pilot.pause()
            after = env._parts
            height = env.scrollable_content_region.height
            changed = {
                y
                for y in range(height)
                if (before[y] if y < len(before) else None) != (after[y] if y < len(after) else None)
            }
            assert "all" not in repainted
            lines = {y for region in repainted for y in range(region.y, region.bottom)}
            assert lines == changed and 0 < len(changed) < height / 2, (key, sorted(lines), sorted(changed))
        assert await full_repaint_differences(app, pilot, shadow) == []


@sync
async def test_a_new_table_title_repaints_its_border_line_only():
    """The thread table's title counts the selected rank's threads and how many the runtimes place differently
    (rows that differ may be scrolled out of sight). Textual's title setter repaints the whole widget; a new title
    repaints the border line, and the terminal ends up as a full repaint draws it."""
    from shadow import full_repaint_differences, mirror, refreshes_of

    from ompviz.tui.widgets.panels import ThreadTable

    app = OmpvizApp(small(), PlanRequest(ranks=2, threads=3, places="threads", bind="spread"), optional_screens={})
    shadow = mirror(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(ThreadTable)
        assert table.border_title == "Rank 0: 3 threads · 1 differs between runtimes"
        with refreshes_of(table) as repainted:
            await pilot.press("b")  # spread -> the next bind policy: the same 3 threads, placed alike
            await pilot.pause()
        assert table.border_title.endswith("same in both runtimes"), table.border_title
        assert "all" not in repainted
        top = [r for r in repainted if r.y + table.content_offset.y == 0]
        assert len(top) == 1 and top[0].height == 1  # the border line, in content coordinates
        assert await full_repaint_differences(app, pilot, shadow) == []


@sync
async def test_tab_stops_at_what_can_be_used_from_the_keyboard():
    """Tab goes round the map, the tab bar, the two tables, the form and the environment pane (it scrolls); the PU
    details pane shows what the pointer is on and has nothing to scroll: no stop there."""
    app = OmpvizApp(small(), PlanRequest(ranks=2), optional_screens={})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        seen = []
        for _ in range(7):
            seen.append(app.focused.id if app.focused is not None else None)
            await pilot.press("tab")
            await pilot.pause()
        assert seen == ["map", "tabs", "workers", "threads", "controls", "worker-env", "map"]
