"""Start-up and repaint cost of the explorer.

1. First frame: `ompviz --topology Zen4-2x9654.xml --screenshot` (load 384 PUs, plan, compose, render one frame,
   exit) against a bare Textual app with one Static doing the same (render one frame headless, exit), run as
   separate processes, alternating A/B/A/B in the same run. Reports median wall time and peak RSS and their
   ratios (goals: <= 1.25x time, <= 1.3x memory). Both wait for the first rendered frame and exit (no SVG).
2. Replan + repaint on a 4,096-PU synthetic machine: one control change = plan() + the visible map lines
   re-rendered (strip cache dropped), compared with a 60 Hz frame (16.7 ms).

Run: python bench/bench_startup.py [--rounds N] [--xml PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ZEN4 = REPO.parent / "shared" / "topologies" / "hwloc-xml" / "AMD-19h-Zen4-2xEpyc-9654.xml"

BARE = """
import sys
from textual.app import App
from textual.widgets import Static

class Bare(App):
    def compose(self):
        yield Static("hello")

async def first_frame(pilot):
    await pilot.pause()
    pilot.app.exit()

Bare().run(headless=True, size=(160, 50), auto_pilot=first_frame)
"""

# The real CLI path (argument parsing, topology load, plan, app) up to the first frame, then exit.
OMPVIZ = """
import sys
from ompviz.cli import build_parser
from ompviz.commands.tui import build_app

args = build_parser().parse_args(["--topology", sys.argv[1], "--ranks", "4"])
args.worker_command = []

async def first_frame(pilot):
    await pilot.pause()
    pilot.app.exit()

build_app(args).run(headless=True, size=(160, 50), auto_pilot=first_frame)
"""


def run_child(cmd: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in KiB) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]}... failed: {proc.stderr.read().decode()[-500:]}")
    return wall, usage.ru_maxrss


def bench_first_frame(xml: Path, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bare_py = Path(tmp) / "bare.py"
        bare_py.write_text(BARE)
        ompviz_py = Path(tmp) / "ompviz_first_frame.py"
        ompviz_py.write_text(OMPVIZ)
        ompviz = [sys.executable, str(ompviz_py), str(xml)]
        bare = [sys.executable, str(bare_py)]
        run_child(bare), run_child(ompviz)  # warm the page cache and .pyc files
        a_t, a_m, b_t, b_m = [], [], [], []
        for _ in range(rounds):
            t, m = run_child(bare)
            b_t.append(t)
            b_m.append(m)
            t, m = run_child(ompviz)
            a_t.append(t)
            a_m.append(m)
    bt, at = statistics.median(b_t), statistics.median(a_t)
    bm, am = statistics.median(b_m), statistics.median(a_m)
    print(f"first frame, {rounds} alternating rounds (median):")
    print(f"  bare Textual app (one Static): {bt * 1000:7.0f} ms  {bm / 1024:6.1f} MiB")
    print(f"  ompviz, Zen4 2x9654 (384 PUs): {at * 1000:7.0f} ms  {am / 1024:6.1f} MiB")
    print(f"  time ratio   {at / bt:.2f}x  (goal <= 1.25x)")
    print(f"  memory ratio {am / bm:.2f}x  (goal <= 1.30x)")


def bench_replan(rounds: int) -> None:
    sys.path.insert(0, str(REPO / "tests" / "tui"))
    from tui_machines import big4096

    from ompviz.plan import plan
    from ompviz.plan.model import PlanRequest
    from ompviz.tui.app import OmpvizApp
    from ompviz.tui.widgets.topomap import TopologyMap

    topo = big4096()

    async def main() -> list[float]:
        app = OmpvizApp(topo, PlanRequest(ranks=16, strategy="spread"), optional_screens={})
        out = []
        async with app.run_test(size=(160, 50)) as pilot:
            m = app.query_one(TopologyMap)
            m.set_fold("pu")
            await pilot.pause()
            for i in range(rounds):
                req = PlanRequest(ranks=16 + (i % 2) * 48, strategy="spread")
                t0 = time.perf_counter()
                p = plan(topo, req)
                app.request, app.plan = req, p
                app._update_map()
                for y in range(m.size.height):  # what the compositor asks for in the next frame
                    m.render_line(y)
                out.append(time.perf_counter() - t0)
        return out

    times = asyncio.run(main())
    med = statistics.median(times)
    print(f"replan + repaint visible map, 4,096 PUs, 16<->64 ranks, PU view ({rounds} rounds):")
    print(f"  median {med * 1000:.1f} ms = {med / (1 / 60):.2f} of a 60 Hz frame")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--xml", type=Path, default=ZEN4)
    args = ap.parse_args()
    if args.xml.exists():
        bench_first_frame(args.xml, args.rounds)
    else:
        print(f"skipped first-frame benchmark: {args.xml} not found (pass --xml)")
    bench_replan(max(args.rounds, 5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
