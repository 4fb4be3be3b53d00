"""Counts on the live and export screens read as English ("1 rank × 1 thread", "wrote 1 file"), never "rank(s)".

Plans and machines are built by hand (counts known by construction); the live screen's status line is a pure
method of the screen, the export dialog's notification needs a running app (Pilot).
"""

from __future__ import annotations

import asyncio

from test_live_view import hand_plan, hand_worker
from textual.app import App
from textual.widgets import Input, OptionList
from tui_machines import small

from ompviz.export import FORMATS
from ompviz.plan import PlanRequest, plan
from ompviz.topology.model import PURecord, build_topology
from ompviz.tui.screens.export import open_export
from ompviz.tui.screens.live import LiveScreen


def test_live_status_line_counts():
    one = LiveScreen(small(), hand_plan([hand_worker(0, [0])]))._status_text().plain
    assert "│ 1 rank × 1 thread · compact · bind close │" in one
    two = LiveScreen(small(), hand_plan([hand_worker(0, [0, 1]), hand_worker(1, [2, 3])]))._status_text().plain
    assert "│ 2 ranks × 2 threads · compact · bind close │" in two
    # ranks of different sizes: both sizes, plural noun
    mixed = LiveScreen(small(), hand_plan([hand_worker(0, [0]), hand_worker(1, [2, 3, 4])]))._status_text().plain
    assert "│ 2 ranks × 1/3 threads · " in mixed
    assert not any("(s)" in t for t in (one, two, mixed))


class Host(App[None]):
    def __init__(self, topology, the_plan) -> None:
        super().__init__()
        self.topology, self.the_plan = topology, the_plan

    def on_mount(self) -> None:
        open_export(self, self.topology, self.the_plan)


def test_export_dialog_one_rank_file_note(tmp_path):
    # one package, 2 cores x 1 PU, one rank: --per-rank-dir writes exactly one file, rank-0.env
    recs = [PURecord(c, package=0, numa=0, l3_key=0, core_key=c) for c in range(2)]
    topo = build_topology(recs, name="two-core box", source="test", source_kind="synthetic")
    p = plan(topo, PlanRequest(ranks=1))
    d = tmp_path / "ranks"

    async def body() -> list[str]:
        app = Host(topo, p)
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            screen = app.screen
            screen.query_one("#export-formats", OptionList).highlighted = list(FORMATS).index("env")
            await pilot.pause()
            screen.query_one("#export-dir", Input).value = str(d)
            await pilot.pause()
            await pilot.press("ctrl+s")
            await pilot.pause()
            return [n.message for n in app._notifications]

    messages = asyncio.run(body())
    assert [f.name for f in d.iterdir()] == ["rank-0.env"]
    assert f"wrote 1 file (rank-N.env) in {d}" in messages, messages
