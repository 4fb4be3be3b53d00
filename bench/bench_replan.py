"""Key press, click or typed digit -> replan -> repaint on the 4,096-PU synthetic machine, headless through Pilot
(issue 4: "well inside one frame for 4,096 PUs").

The real app at 160x50 (PU view, so the map shows the most cells), driven by real key presses and clicks: `+`/`-`
between 16 and 17 ranks (every owner changes), `s` (strategy), `b` (bind), a click on a PU of the map (it becomes
reserved: a new PU each time, so every click is a new plan; the pointer rests on it first, as a hand does), and a
digit typed in the form's ranks field ("16" -> "161" ranks, then backspace: the form's own path to the app).
Each session runs twice: as the app is, which keeps its plans and plans the requests one key or click away while
the user is quiet (ompviz.tui.plancache: the planning keys', the PU under the pointer's, and with the form focused
its field's next key: each digit typed at the caret, the character before it deleted) and draws the lines on
screen each would change, taken through the rest of a paint (ompviz.tui.widgets.stylescache.draw_ahead), and
"cold", with no plan kept or made ahead: every change calls the planner and draws its lines. Before the sessions,
the look-ahead itself is timed: how long after a change everything one key away is ready (a key pressed sooner
finds only part of it). For each change we time:
- plan:   the planner calls the change makes (the look-ahead's, between changes, are not counted);
- update: the rest of the app's handling (widgets told about the new plan, strips invalidated);
- render: the compositor refreshes that paint the changed regions (usually one; a scrollbar whose numbers
          changed may be painted a frame later, and is counted), with the escape sequences a terminal is sent
          (App._display builds them; headless Textual skips that, so the bench builds them where it would);
- total:  from the input event reaching the app (the Key, or the mouse-up Textual makes the Click of, as the
          driver posts them; likewise for the baseline) to the end of the last of those refreshes that changed what
          a terminal shows (a shadow screen fed with Textual's updates tells; a refresh that repaints cells as they
          were is work, counted in render, but not latency). Includes Textual's dispatch and its frame timer: a
          paint that has to wait for the next frame (Textual paints at most 60 times a second) shows here.
Medians over the changes (and the 90th percentile of total: `s` cycles through every strategy, so the others are
measured on each, some changing far more of the screen than others; `s` into or out of manual and vllm changes the
form's height, a layout of the screen), compared with a 60 Hz frame (16.7 ms) and with a baseline measured in the
same run, sessions alternating with ours: a bare Textual app repainting its whole screen after a key press (one
line-API widget, every line changed). That baseline is the floor for a change that repaints most of the screen, as
these do here (map, tables, environment text), and it moves with the machine's load the way our figures do.

Run: python bench/bench_replan.py [--rounds N] [--sessions N] [--fold pu|auto] [--cpu] [--no-freeze]
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


def _bare_app(clock, marks: dict):
    """The baseline: a bare Textual app whose ONE line-API widget fills the terminal and changes every line on each
    key press (32 coloured cells a line, like the map): what Textual itself needs to repaint the whole screen."""
    from rich.segment import Segment
    from rich.style import Style
    from textual.app import App
    from textual.strip import Strip
    from textual.widget import Widget

    styles = [Style(color="#000000", bgcolor=c) for c in ("#5fafff", "#ffaf5f", "#87d787", "#ff8787", "#d7afff")]

    class Lines(Widget):
        gen = 0

        def render_line(self, y: int) -> Strip:
            width = self.size.width
            segs = [
                Segment(f"{(x + y + self.gen) % 1000:>4} ", styles[(x // 5 + y + self.gen) % len(styles)])
                for x in range(0, width, 5)
            ]
            return Strip(segs).crop(0, width)

    class Bare(App[None]):
        CSS = "Lines { width: 1fr; height: 1fr; }"
        BINDINGS = [("x", "change", "change")]

        def compose(self):
            yield Lines()

        def action_change(self) -> None:
            marks.setdefault("start", clock())
            lines = self.query_one(Lines)
            lines.gen += 1
            lines.refresh()
            marks["updated"] = clock()

    return Bare()


def bench(
    rounds: int, fold: str, freeze: bool = True, cpu: bool = False, sessions: int = 3
) -> dict[str, dict[str, float]]:
    """Medians per key (and for the bare baseline, key "bare"), from ``sessions`` alternating sessions of the bare
    app and the explorer, each pressing every key ``rounds`` times (after two warm-up presses)."""
    sys.path.insert(0, str(REPO / "tests" / "tui"))
    from shadow import ShadowTerminal
    from textual import events
    from textual.app import App
    from textual.screen import Screen
    from tui_machines import big4096

    from ompviz.plan import plan as real_plan
    from ompviz.plan.model import PlanRequest
    from ompviz.tui.app import OmpvizApp
    from ompviz.tui.plancache import PlanCache
    from ompviz.tui.widgets.controls import Controls
    from ompviz.tui.widgets.topomap import TopologyMap

    topo = big4096()
    # Wall time is what a user sees; CPU time of this process (all of it is the app's work here) is steadier on a
    # shared, loaded machine, where wall time also counts the time other processes held the CPU.
    clock = time.process_time if cpu else time.perf_counter
    marks: dict = {}  # one change: armed, input, start, plan, updated, render, painted, overhead

    def planner(t, req):
        if "start" not in marks or "updated" in marks:  # the look-ahead, between key presses: not this key's work
            return real_plan(t, req)
        t0 = clock()
        try:
            return real_plan(t, req)
        finally:
            marks["plan"] = marks.get("plan", 0.0) + clock() - t0

    def ompviz_app(cold: bool) -> OmpvizApp:
        app = OmpvizApp(topo, PlanRequest(ranks=16, strategy="spread"), planner=planner, optional_screens={})
        if cold:  # every key press calls the planner: no plans kept, none made ahead
            app._plans = PlanCache(planner, topo, size=0)
            app._plan_ahead_soon = lambda: None  # type: ignore[method-assign]
        original_set_request = app.set_request

        def set_request(req):
            marks.setdefault("start", clock())  # the key's action reached the app
            original_set_request(req)
            marks["updated"] = clock()

        app.set_request = set_request  # type: ignore[method-assign]
        return app

    original_refresh = Screen._compositor_refresh
    original_display = App._display
    original_post = App.post_message

    def post_message(self, message):  # a key or a mouse-up from the driver (Pilot's press goes the same way)
        if "armed" in marks and isinstance(message, (events.Key, events.MouseUp)):
            marks.setdefault("input", clock())
        return original_post(self, message)

    shadow = ShadowTerminal()

    def display(self, screen, renderable) -> None:
        # Headless, Textual writes nothing: what it does for a real terminal is done here and counted (the escape
        # sequences of the update, built as App._display builds them). Then a shadow screen keeps what the terminal
        # would show, to tell refreshes that change the screen from ones that repaint it as it was: its cost is
        # taken off every figure.
        original_display(self, screen, renderable)
        if renderable is None or self._batch_count:
            return
        if hasattr(renderable, "render_segments"):
            renderable.render_segments(self.console)
        t0 = clock()
        marks["changed"] = shadow.apply(renderable, self.console) or marks.get("changed", False)
        if "input" in marks:  # taken off the figures from the change on (a click's pointer events paint before it)
            marks["overhead"] = marks.get("overhead", 0.0) + clock() - t0

    def compositor_refresh(self):
        t0, before = clock(), marks.get("overhead", 0.0)
        marks["changed"] = False
        original_refresh(self)
        if "updated" in marks:  # every refresh the key causes (a scrollbar may follow a frame later)
            overhead = marks.get("overhead", 0.0)
            marks["render"] = marks.get("render", 0.0) + clock() - t0 - (overhead - before)
            marks["refreshes"] = marks.get("refreshes", 0) + 1
            marks["painted_at"] = time.perf_counter()
            if marks["changed"]:  # latency ends with the last refresh that changed what is shown
                marks["painted"] = clock() - overhead

    App._display = display  # type: ignore[method-assign]
    Screen._compositor_refresh = compositor_refresh  # type: ignore[method-assign]
    App.post_message = post_message  # type: ignore[method-assign]
    results: dict[str, dict[str, list[float]]] = {}

    async def session(app, presses: list[str], names: dict[str, str]) -> None:
        async with app.run_test(size=(160, 50)) as pilot:
            if isinstance(app, OmpvizApp) and fold != "auto":
                app.query_one(TopologyMap).set_fold(fold)
            await pilot.pause()
            pus = []  # PUs on screen, for clicks: each click reserves another one (a new plan every time)
            if "click" in presses:
                m = app.query_one(TopologyMap)
                pus = [o for o in (m.screen_offset_of(p.os_index) for p in topo.pus) if o is not None]
            typed = False  # the ranks field holds "16" + a typed "1"
            for i in range(rounds * len(presses) + 2):
                key = presses[i % len(presses)]
                if isinstance(app, OmpvizApp):  # keys go to the map; digits to the form's ranks field
                    form = app.query_one(Controls)
                    want = form if key == "type" else app.query_one(TopologyMap)
                    if app.focused is not want or (key == "type" and form.current != "ranks"):
                        want.focus()
                        if key == "type":
                            form.select_field("ranks")  # the caret at the end of the field
                        await pilot.pause()
                        await asyncio.sleep(0.1)
                if key == "type":
                    key, typed = ("backspace" if typed else "1"), not typed
                    name = "type"
                else:
                    name = key
                if key == "click":
                    x, y = pus.pop(0)
                    await pilot.hover(TopologyMap, offset=(x + 1, y))  # the pointer comes to rest on it first
                    # then the button goes down and up as a terminal reports it: the driver posts both to the app,
                    # which makes the Click (Pilot's click forwards a Click itself, then waits on every widget)
                    region = app.query_one(TopologyMap).region
                    sx, sy = region.x + x + 1, region.y + y
                    press, release = (
                        cls(None, sx, sy, 0, 0, 1, False, False, False, screen_x=sx, screen_y=sy)
                        for cls in (events.MouseDown, events.MouseUp)
                    )
                    app.post_message(press)
                    await pilot.pause()
                    await asyncio.sleep(0.1)
                marks.clear()
                marks["armed"] = True
                if key == "click":
                    app.post_message(release)
                else:
                    await pilot.press(key)
                await pilot.pause()
                # until the screen is quiet: no refresh for 3 frames (a scrollbar may be painted a frame later)
                for _ in range(250):
                    last = marks.get("painted_at")
                    if last is not None and time.perf_counter() - last > 3 * FRAME:
                        break
                    await asyncio.sleep(0.002)
                if i < 2 or "painted" not in marks or "start" not in marks or "input" not in marks:
                    continue  # warm-up (first plans fill caches)
                r = results.setdefault(
                    names.get(name, name), {"plan": [], "update": [], "render": [], "other": [], "total": []}
                )
                plan_time = marks.get("plan", 0.0)
                update = marks["updated"] - marks["start"] - plan_time
                total = marks["painted"] - marks["input"]
                r["plan"].append(plan_time)
                r["update"].append(update)
                r["render"].append(marks["render"])
                r["other"].append(total - plan_time - update - marks["render"])
                r["total"].append(total)

    async def ready_times(rounds: int) -> None:
        """How long after a change the look-ahead has made and drawn everything one key away (so that the next
        change is fast), each time at a rank count not seen before: after `+` with the map focused (the six keys'
        requests, five of them new), and after focusing the ranks field (its twelve next keys: the digits typed,
        the character deleted). Keys pressed sooner find only what is ready by then."""
        app = ompviz_app(False)
        done = [0.0]
        plan_ahead = app._plan_ahead

        def watched() -> None:
            plan_ahead()
            if not app._ahead and app._ahead_timer is None:
                done[0] = time.perf_counter()

        app._plan_ahead = watched  # type: ignore[method-assign]

        async def until_done(t0: float) -> float | None:
            while done[0] < t0 and time.perf_counter() - t0 < 5:
                await asyncio.sleep(0.001)
            return done[0] - t0 if done[0] >= t0 else None

        async with app.run_test(size=(160, 50)) as pilot:
            topology_map, form = app.query_one(TopologyMap), app.query_one(Controls)
            topology_map.set_fold(fold)
            topology_map.focus()
            await pilot.pause()
            await asyncio.sleep(1.0)
            keys = results.setdefault("ready keys", {"total": []})["total"]
            fields = results.setdefault("ready type", {"total": []})["total"]
            for _ in range(rounds):
                t0 = time.perf_counter()
                await pilot.press("plus")
                if (t := await until_done(t0)) is not None:
                    keys.append(t)
                t0 = time.perf_counter()
                form.focus()
                form.select_field("ranks")
                if (t := await until_done(t0)) is not None:
                    fields.append(t)
                topology_map.focus()
                await pilot.pause()
                await until_done(time.perf_counter())

    async def run() -> None:
        await ready_times(rounds)
        for _ in range(sessions):  # alternate: both see the same machine load
            await session(_bare_app(clock, marks), ["x"], {"x": "bare"})
            for cold in (False, True):
                app = ompviz_app(cold)
                if freeze:
                    gc.freeze()  # what `ompviz` does once the topology is loaded and the app built
                keys = ["plus", "minus", "s", "b", "click", "type", "type"]  # "1", then backspace: 16 ranks again
                await session(app, keys, {k: f"{k} cold" for k in keys} if cold else {})
                if freeze:
                    gc.unfreeze()

    try:
        asyncio.run(run())
    finally:
        Screen._compositor_refresh = original_refresh  # type: ignore[method-assign]
        App._display = original_display  # type: ignore[method-assign]
        App.post_message = original_post  # type: ignore[method-assign]
    ready = {k: results.pop(k)["total"] for k in [k for k in results if k.startswith("ready ")]}
    out = {k: {m: statistics.median(v) for m, v in r.items()} for k, r in results.items()}
    for k, v in ready.items():
        out[k] = {"median": statistics.median(v), "max": max(v)}
    for k, r in results.items():
        out[k]["p90"] = statistics.quantiles(r["total"], n=10)[-1] if len(r["total"]) > 1 else r["total"][0]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="presses of each key per session")
    ap.add_argument("--sessions", type=int, default=3, help="alternating sessions of the baseline and the explorer")
    ap.add_argument("--fold", default="pu", help="map fold level while measuring (pu shows the most cells)")
    ap.add_argument(
        "--no-freeze", action="store_true", help="leave the topology to the cyclic GC (ompviz freezes it at start-up)"
    )
    ap.add_argument("--cpu", action="store_true", help="CPU time of this process instead of wall time")
    args = ap.parse_args()
    med = bench(args.rounds, args.fold, freeze=not args.no_freeze, cpu=args.cpu, sessions=args.sessions)
    report(med, "CPU" if args.cpu else "wall", args.fold, args.rounds * args.sessions)
    return 0


def report(med: dict[str, dict[str, float]], clock: str, fold: str, presses: int) -> None:
    bare = med.get("bare", {}).get("total")
    print(f"input -> replan -> repaint, 4,096 PUs, 160x50, {fold} view, median of {presses} changes each ({clock} ms):")
    print(
        f"  {'change':11} {'plan':>7} {'update':>7} {'render':>7} {'other':>7} {'total':>7}  frames(16.7ms)"
        f"  vs bare repaint  {'p90 total':>9}  frames"
    )
    for key, m in med.items():
        if key.startswith("ready "):
            continue
        ms = {k: v * 1000 for k, v in m.items()}
        ratio = f"{m['total'] / bare:.2f}x" if bare else "-"
        print(
            f"  {key:11} {ms['plan']:7.1f} {ms['update']:7.1f} {ms['render']:7.1f} {ms['other']:7.1f}"
            f" {ms['total']:7.1f}  {m['total'] / FRAME:13.2f}  {ratio:>15}  {ms['p90']:9.1f}  {m['p90'] / FRAME:6.2f}"
        )
    print(
        "  bare: a bare Textual app repainting its whole 160x50 screen (one line-API widget, every line changed),"
        " measured in the same run\n"
        "  other: Textual's dispatch of the input, its messages and frame timer (total - plan - update - render)\n"
        "  type: a digit typed in the form's ranks field, then deleted (16 -> 161 -> 16 ranks)"
    )
    for key, what in (("ready keys", "`+` (six keys)"), ("ready type", "the ranks field focused (twelve keys)")):
        if key in med:
            print(
                f"  look-ahead done after {what}, at a new rank count: median {med[key]['median'] * 1000:.0f} ms,"
                f" at most {med[key]['max'] * 1000:.0f} ms (wall; a key pressed sooner finds only what is ready)"
            )


if __name__ == "__main__":
    sys.exit(main())
