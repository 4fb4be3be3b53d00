"""Snapshot tests (pytest-textual-snapshot) of the explorer. SVGs: tests/tui/__snapshots__/test_tui_snapshots/.

Recorded machines come from ../shared via shared() (skipped cleanly without it); the others are self-built.
Sources are renamed to their file name so the header does not depend on where the checkout lives.
"""

from __future__ import annotations

import dataclasses

from conftest import shared
from tui_machines import big4096, small, zen4_like

from ompviz.plan.model import PlanRequest
from ompviz.topology import load
from ompviz.tui.app import OmpvizApp

WIDE = (160, 50)
NARROW = (80, 24)


def _recorded(rel: str):
    path = shared(rel)
    topo = load(str(path))
    return dataclasses.replace(topo, source=path.name)


def _app(topo, **request) -> OmpvizApp:
    # Export/live dialogs come from other modules; keep their keys out of the footer so these snapshots only
    # change when this explorer does (test_tui_pilot checks those keys).
    return OmpvizApp(topo, PlanRequest(**request), optional_screens={})


def test_zen4_wide(snap_compare):
    assert snap_compare(_app(_recorded("hwloc-xml/AMD-19h-Zen4-2xEpyc-9654.xml"), ranks=4), terminal_size=WIDE)


def test_zen4_narrow(snap_compare):
    assert snap_compare(_app(_recorded("hwloc-xml/AMD-19h-Zen4-2xEpyc-9654.xml"), ranks=4), terminal_size=NARROW)


def test_knl_wide(snap_compare):
    topo = _recorded("hwloc-xml/Intel-KnightsLanding-XeonPhi-7210.xml")
    assert snap_compare(_app(topo, ranks=4, strategy="spread"), terminal_size=WIDE)


def test_raptorlake_wide(snap_compare):
    topo = _recorded("hwloc-xml/Intel-RaptorLake-Corei7-1370P.xml")
    assert snap_compare(_app(topo, ranks=2, smt="one"), terminal_size=WIDE)


def test_kunpeng_wide(snap_compare):
    topo = _recorded("sysfs/128arm-2pa2n8cluster4co.tar.bz2")
    assert snap_compare(_app(topo, ranks=4, strategy="numa"), terminal_size=WIDE)


def test_kunpeng_narrow(snap_compare):
    topo = _recorded("sysfs/128arm-2pa2n8cluster4co.tar.bz2")
    assert snap_compare(_app(topo, ranks=4, strategy="numa"), terminal_size=NARROW)


def test_4096_wide(snap_compare):
    assert snap_compare(_app(big4096(), ranks=16, strategy="spread"), terminal_size=WIDE)


def test_4096_narrow(snap_compare):
    assert snap_compare(_app(big4096(), ranks=16, strategy="spread"), terminal_size=NARROW)


def test_keys_ranks_strategy_bind(snap_compare):
    # 1 -> 3 ranks (+ +), compact -> spread (s), close -> spread (b)
    assert snap_compare(_app(zen4_like(), ranks=1), press=["plus", "plus", "s", "b"], terminal_size=WIDE)


def test_help_screen(snap_compare):
    assert snap_compare(_app(small(), ranks=2), press=["question_mark"], terminal_size=WIDE)


def test_warning_selected(snap_compare):
    async def select_overlap(pilot):
        app = pilot.app
        app.show_tab("tab-warnings")
        await pilot.pause()
        ol = app.query_one("#warnings")
        ol.focus()
        ol.highlighted = next(i for i, w in enumerate(app.plan.warnings) if w.code == "overlap")
        await pilot.pause()

    app = _app(small(), ranks=2, strategy="manual", cpus="0-3|2-5")
    assert snap_compare(app, run_before=select_overlap, terminal_size=WIDE)
