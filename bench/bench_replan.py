"""Key press -> replan -> repaint on the 4,096-PU synthetic machine, headless through Pilot (issue 4: "well inside
one frame for 4,096 PUs").

The real app at 160x50 (PU view, so the map shows the most cells), driven by real key presses: `+`/`-` between 16
and 17 ranks (every owner changes), `s` (strategy) and `b` (bind). For each press we time, inside the same frame:
- plan:   the planner call (ompviz.plan.plan) the app makes;
- update: the rest of the app's handling (widgets told about the new plan, strips invalidated);
- render: the compositor refresh that paints the changed regions (what Textual does for the next frame);
- total:  from the key event reaching the app to the end of that refresh (includes Textual's message and
          refresh scheduling, i.e. the latency a user sees).
Medians over the rounds, compared with a 60 Hz frame (16.7 ms).

Run: python bench/bench_replan.py [--rounds N] [--fold pu|auto] [--cpu] [--no-freeze]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FRAME = 1 / 60


def bench(rounds: int, fold: str, freeze: bool = True, cpu: bool = False) -> dict[str, dict[str, float]]:
    sys.path.insert(0, str(REPO / "tests" / "tui"))
    from textual.screen import Screen
    from tui_machines import big4096

    from ompviz.plan import plan as real_plan
    from ompviz.plan.model import PlanRequest
    from ompviz.tui.app import OmpvizApp
    from ompviz.tui.widgets.topomap import TopologyMap

    topo = big4096()
    # Wall time is what a user sees; CPU time of this process (all of it is the app's work here) is steadier on a
    # shared, loaded machine, where wall time also counts the time other processes held the CPU.
    clock = time.process_time if cpu else time.perf_counter
    marks: dict[str, float] = {}

    def planner(t, req):
        t0 = clock()
        try:
            return real_plan(t, req)
        finally:
            marks["plan"] = marks.get("plan", 0.0) + clock() - t0

    app = OmpvizApp(topo, PlanRequest(ranks=16, strategy="spread"), planner=planner, optional_screens={})
    if freeze:
        gc.freeze()  # what `ompviz` does once the topology is loaded and the app built (commands.tui.build_app)
    original_set_request = app.set_request

    def set_request(req):
        marks.setdefault("start", clock())  # the key's action reached the app
        original_set_request(req)
        marks["updated"] = clock()

    app.set_request = set_request  # type: ignore[method-assign]
    original_refresh = Screen._compositor_refresh

    def compositor_refresh(self):
        t0 = clock()
        original_refresh(self)
        if "updated" in marks and "painted" not in marks:
            marks["render"] = clock() - t0
            marks["painted"] = clock()

    Screen._compositor_refresh = compositor_refresh  # type: ignore[method-assign]
    results: dict[str, dict[str, list[float]]] = {}

    async def run() -> None:
        async with app.run_test(size=(160, 50)) as pilot:
            if fold != "auto":
                app.query_one(TopologyMap).set_fold(fold)
            await pilot.pause()
            presses = ["plus", "minus", "s", "b"]
            for i in range(rounds * len(presses) + 2):
                key = presses[i % len(presses)]
                marks.clear()
                await pilot.press(key)
                await pilot.pause()
                for _ in range(50):  # the refresh may land on the next timer tick
                    if "painted" in marks:
                        break
                    await asyncio.sleep(0.002)
                if i < 2 or "painted" not in marks or "start" not in marks:
                    continue  # warm-up (first plans fill caches)
                r = results.setdefault(key, {"plan": [], "update": [], "render": [], "total": []})
                r["plan"].append(marks["plan"])
                r["update"].append(marks["updated"] - marks["start"] - marks["plan"])
                r["render"].append(marks["render"])
                r["total"].append(marks["painted"] - marks["start"])

    try:
        asyncio.run(run())
    finally:
        Screen._compositor_refresh = original_refresh  # type: ignore[method-assign]
    return {k: {m: statistics.median(v) for m, v in r.items()} for k, r in results.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--fold", default="pu", help="map fold level while measuring (pu shows the most cells)")
    ap.add_argument(
        "--no-freeze", action="store_true", help="leave the topology to the cyclic GC (ompviz freezes it at start-up)"
    )
    ap.add_argument("--cpu", action="store_true", help="CPU time of this process instead of wall time")
    args = ap.parse_args()
    med = bench(args.rounds, args.fold, freeze=not args.no_freeze, cpu=args.cpu)
    clock = "CPU" if args.cpu else "wall"
    print(
        f"key -> replan -> repaint, 4,096 PUs, 160x50, {args.fold} view, median of {args.rounds} presses each "
        f"({clock} ms):"
    )
    print(f"  {'key':6} {'plan':>7} {'update':>7} {'render':>7} {'total':>7}  frames(total/16.7ms)")
    for key, m in med.items():
        ms = {k: v * 1000 for k, v in m.items()}
        print(
            f"  {key:6} {ms['plan']:7.1f} {ms['update']:7.1f} {ms['render']:7.1f} {ms['total']:7.1f}"
            f"  {m['total'] / FRAME:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
