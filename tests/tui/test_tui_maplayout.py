"""The map geometry (pure): every PU readable at 160x50 for 384 PUs, folds for 4,096, nothing wider than the
terminal. Expected values reasoned from how tui_machines numbers PUs: sibling s of core k is k + s * cores."""

from __future__ import annotations

from tui_machines import big4096, hybrid, machine, zen4_like

from ompviz.tui.widgets.maplayout import LEVELS, auto_level, build_layout

# 160x50 screen: 34-column sidebar, map border (2) and scrollbar gutter leave 122 columns; header, legend, footer,
# panels and border leave 26 lines.
MAP_W, MAP_H = 122, 26


def _pu_cells(layout):
    return [(y, c) for y, cells in enumerate(layout.lines) for c in cells if c.role == "pu"]


def test_384_pus_fit_160x50_with_every_os_index():
    topo = zen4_like()
    lay = build_layout(topo, MAP_W, "pu")
    assert lay.height <= MAP_H
    cells = _pu_cells(lay)
    assert sorted(c.pu for _, c in cells) == list(range(384))
    assert all(c.text == str(c.pu) for _, c in cells)  # the number shown is the OS index
    assert all(max(c.x + c.width for c in line) <= MAP_W for line in lay.lines if line)
    # siblings N and N+192 sit in one column, on consecutive lines
    where = {c.pu: (c.x, y) for y, c in cells}
    for k in range(192):
        (x0, y0), (x1, y1) = where[k], where[k + 192]
        assert x0 == x1 and y1 == y0 + 1
    assert auto_level(topo, MAP_W, MAP_H) == "pu"


def test_cell_lookup_matches_geometry():
    lay = build_layout(zen4_like(), MAP_W, "pu")
    for y, c in _pu_cells(lay)[:50]:
        assert lay.cell_at(c.x, y) == c and lay.cell_at(c.x + c.width - 1, y) == c
    assert lay.cell_at(MAP_W + 5, 2) is None and lay.cell_at(0, 10_000) is None


def test_4096_pus_every_level_fits_the_width_and_folds_shrink():
    topo = big4096()
    heights = []
    for width in (76, 122, 156):
        for level in LEVELS:
            lay = build_layout(topo, width, level)
            for line in lay.lines:
                if line:
                    assert max(c.x + c.width for c in line) <= width, (width, level)
            if width == 122:
                heights.append(lay.height)
    assert heights == sorted(heights, reverse=True) and heights[-1] < heights[0]
    # PU view still has all 4,096 PUs (scrolling); an 80x24 map (76x10) folds to a coarse level
    assert len(_pu_cells(build_layout(topo, 122, "pu"))) == 4096
    assert auto_level(topo, 76, 10) in ("l3", "numa")


def test_folded_cells_cover_all_cpus_once():
    topo = big4096()
    for level, role in (("core", "core"), ("l3", "l3"), ("numa", "numa")):
        lay = build_layout(topo, 122, level)
        seen = [cpu for line in lay.lines for c in line if c.role == role for cpu in c.cpus]
        assert sorted(seen) == list(range(4096)), level


def test_logical_numbering_and_kinds():
    # machine(1,1,1,2,2): cores 0,1 ; siblings (0,2) and (1,3): depth-first L# = 0,1 for core 0 and 2,3 for core 1
    topo = machine(1, 1, 1, 2, 2)
    lay = build_layout(topo, 40, "pu", "logical")
    shown = {c.pu: c.text for _, c in _pu_cells(lay)}
    assert shown == {0: "0", 2: "1", 1: "2", 3: "3"}
    labels = [c.text for line in build_layout(hybrid(), 80, "pu").lines for c in line if c.role == "label"]
    assert any("P-cores" in t for t in labels) and any("E-cores" in t for t in labels)


def test_offline_and_wrapped_rows_are_labelled():
    topo = machine(1, 1, 1, 40, 1, offline=(39,))
    lay = build_layout(topo, 60, "pu")  # 40 cores of width 3 do not fit 60 columns: rows wrap
    labels = [c.text for line in lay.lines for c in line if c.role == "label"]
    assert any("1 PU/core" in t for t in labels)
    assert any(c.role == "offline" and c.pu == 39 for line in lay.lines for c in line)
    assert any("Offline PUs: 39" in c.text for line in lay.lines for c in line)
