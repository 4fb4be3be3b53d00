"""A/B: run the same workload under two plans, one after the other for N seconds each, and show per-worker and
total throughput side by side with the ratio — "which strategy is fastest on this machine", with numbers.

The numbers and the conclusion come from :mod:`ompviz.live.ab` (``compare`` over the two RunSummary objects);
this screen only sequences the two runs (start on the UI thread, wait without blocking, stop in a thread) and
displays. Plan B defaults to :func:`ompviz.live.ab.alternative_request` (compact <-> spread); ``s``/``b`` change
B's strategy / bind policy and replan through the core planner.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from ompviz.cpuset import CpuSet
from ompviz.errors import OmpvizError
from ompviz.live import LiveSession, RunSummary, Sample
from ompviz.live.ab import (
    NOISE,
    ABResult,
    alternative_request,
    compare,
    not_runnable_here,
    plan_label,
    same_binding,
)
from ompviz.plan.model import BIND_POLICIES, Plan, PlanRequest
from ompviz.topology.model import Topology
from ompviz.tui.widgets.threadtable import rate_text, rebuild_table, verdict_text
from ompviz.tui.widgets.topomap import rank_style
from ompviz.words import plural

# Strategies that need no extra input (manual needs CPU lists, vllm its variables).
B_STRATEGIES = ("compact", "spread", "numa", "l3", "distrib")
DURATIONS = (2.0, 5.0, 10.0, 30.0)
AB_COLUMNS = (("Rank", "rank"), ("A iter/s", "a"), ("B iter/s", "b"), ("B/A", "ratio"))


def _default_planner() -> Callable[[Topology, PlanRequest], Plan]:
    from ompviz.plan import plan

    return plan


def ratio_text(r: float | None) -> Text:
    if r is None:
        return Text("—", "dim")
    style = "bold green" if r > 1 + NOISE else ("bold red" if r < 1 - NOISE else "")
    return Text(f"{r:.2f}×", style)


class ABScreen(ModalScreen[ABResult | None]):
    DEFAULT_CSS = """
    ABScreen { background: $background; layout: vertical; }
    #ab-status { height: 1; background: $primary; color: $foreground; text-wrap: nowrap; text-overflow: ellipsis; }
    #ab-plans { height: auto; max-height: 12; }
    .ab-plan { width: 1fr; height: auto; border: round $primary 60%; border-title-color: $text-primary; padding: 0 1; }
    #ab-table { height: auto; max-height: 1fr; margin: 1 0 0 0; }
    #ab-conclusion { height: auto; padding: 1 1; }
    """

    BINDINGS = [
        Binding("g,enter", "go", "Run A then B"),
        Binding("s", "b_strategy", "B strategy"),
        Binding("b", "b_bind", "B bind"),
        Binding("d", "duration", "Duration"),
        Binding("escape", "back", "Back"),
        Binding("q", "quit_app", "Quit"),
    ]

    @dataclass
    class Progress(Message):
        side: str  # "a" | "b"
        sample: Sample

    def __init__(
        self,
        topology: Topology,
        plan: Plan,
        *,
        plan_b: Plan | None = None,
        session_factory: Callable[[], LiveSession] | None = None,
        seconds: float = 5.0,
        command: Sequence[str] | None = None,
        runtime_lib: str | None = None,
        planner: Callable[[Topology, PlanRequest], Plan] | None = None,
        check_runnable: bool = True,
    ) -> None:
        super().__init__()
        self.topology = topology
        self.plan_a = plan
        self.runtime_lib = runtime_lib or ("llvm" if plan.request.runtime == "llvm" else "gnu")
        self.session_factory = session_factory or (lambda: LiveSession(runtime_lib=self.runtime_lib))
        self.seconds = seconds
        self.command = tuple(command) if command else None
        self.planner = planner
        self.check_runnable = check_runnable
        self.error = ""
        self.plan_b: Plan | None = plan_b
        if plan_b is None:
            self._replan(alternative_request(plan.request))
        self.phase = "ready"  # ready | a | b | done | error
        self.started = 0.0
        self.live: dict[str, Sample] = {}
        self.summaries: dict[str, RunSummary] = {}
        self.result: ABResult | None = None
        self._session: LiveSession | None = None
        # Textual's is_mounted is still False inside on_mount: without this flag the first paint was skipped and
        # the screen showed two empty boxes until `g` (QA)
        self._can_paint = False

    # -- plan B ----------------------------------------------------------------------------------------------------
    def _replan(self, request: PlanRequest) -> None:
        try:
            self.plan_b = (self.planner or _default_planner())(self.topology, request)
            self.error = ""
        except OmpvizError as e:
            self.error = f"plan B: {e}"

    def _change_b(self, **changes) -> None:
        if self.phase in ("a", "b") or self.plan_b is None:
            return
        self._replan(dataclasses.replace(self.plan_b.request, **changes))
        self.phase, self.result, self.summaries, self.live = "ready", None, {}, {}
        self._paint()

    # -- layout ----------------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("", id="ab-status")
        with Horizontal(id="ab-plans"):
            yield Static("", id="ab-a", classes="ab-plan")
            yield Static("", id="ab-b", classes="ab-plan")
        yield DataTable(id="ab-table", cursor_type="none", zebra_stripes=True)
        yield Static("", id="ab-conclusion")
        yield Footer()

    def on_mount(self) -> None:
        self._can_paint = True
        self._paint()

    # -- running ---------------------------------------------------------------------------------------------------
    def action_go(self) -> None:
        if self.phase in ("a", "b") or self.plan_b is None:
            return
        self.run_worker(self._run_both(), group="ab", exclusive=True)

    async def _run_both(self) -> None:
        self.result, self.summaries, self.live, self.error = None, {}, {}, ""
        allowed = CpuSet(os.sched_getaffinity(0))
        for side, plan in (("a", self.plan_a), ("b", self.plan_b)):
            why = not_runnable_here(plan, allowed) if self.check_runnable else None
            if why:
                self.phase, self.error = "error", f"plan {side.upper()}: {why}"
                self._paint()
                return
            summary = await self._run_one(side, plan)
            if summary is None:
                return
            self.summaries[side] = summary
        self.result = compare(
            self.summaries["a"],
            self.summaries["b"],
            f"A ({plan_label(self.plan_a)})",
            f"B ({plan_label(self.plan_b)})",
            same=same_binding(self.plan_a, self.plan_b),
        )
        self.phase = "done"
        self._paint()

    async def _run_one(self, side: str, plan: Plan) -> RunSummary | None:
        self.phase, self.started = side, time.monotonic()
        self._paint()
        post = self.post_message
        try:
            if self.command is None:
                from ompviz.live.build import kernel_binary

                await asyncio.to_thread(kernel_binary)
            session = self._session = self.session_factory()
            session.start(plan, self.command, on_sample=lambda s: post(self.Progress(side, s)))
        except OmpvizError as e:
            self.phase, self.error = "error", f"plan {side.upper()}: {e}"
            self._paint()
            return None
        except Exception as e:  # a launcher bug must not leave the screen "running" forever
            self.phase, self.error = "error", f"plan {side.upper()}: could not start: {type(e).__name__}: {e}"
            self._paint()
            return None
        try:
            while time.monotonic() - self.started < self.seconds and not session.all_exited():
                await asyncio.sleep(0.1)
                self._paint_status()
        finally:
            summary = await asyncio.to_thread(session.stop)
            self._session = None
        return summary

    def on_abscreen_progress(self, event: Progress) -> None:
        self.live[event.side] = event.sample
        with self.app.batch_update():
            self._paint_table()
            self._paint_status()

    def on_unmount(self) -> None:
        session = self._session
        if session is not None and session.running:
            session.stop()

    # -- painting --------------------------------------------------------------------------------------------------
    def _paint(self) -> None:
        if not (self._can_paint or self.is_mounted):
            return
        self._paint_status()
        self.query_one("#ab-a", Static).update(self._plan_text("a", self.plan_a))
        self.query_one("#ab-b", Static).update(self._plan_text("b", self.plan_b))
        self.query_one("#ab-a").border_title = f"A: {plan_label(self.plan_a)} (current plan)"
        self.query_one("#ab-b").border_title = f"B: {plan_label(self.plan_b)}" if self.plan_b else "B: —"
        self._paint_table()
        self.query_one("#ab-conclusion", Static).update(self._conclusion_text())

    def _paint_status(self) -> None:
        t = Text()
        t.append(" A/B ", "bold reverse")
        t.append(f" same workload, {self.seconds:g} s per plan, one after the other ")
        if self.phase in ("a", "b"):
            elapsed = min(self.seconds, time.monotonic() - self.started)
            t.append(f"│ running {self.phase.upper()}: {elapsed:.1f}/{self.seconds:g} s ", "bold")
        elif self.phase == "done":
            t.append("│ done ", "bold")
        elif self.phase == "error":
            t.append("│ cannot run ", "bold")
        else:
            t.append("│ g: run A then B ", "bold")
        self.query_one("#ab-status", Static).update(t)

    def _plan_text(self, side: str, plan: Plan | None) -> Text:
        t = Text()
        if plan is None:
            t.append(self.error or "no plan", "bold red")
            return t
        for w in plan.workers:
            env = w.env_dict
            t.append(f" {w.rank} ", rank_style(w.rank))
            t.append(f" CPUs {w.cpus} · {w.num_threads} thr · {env.get('OMP_PLACES', '(unset)')}\n")
        s = self.summaries.get(side)
        if s is not None:
            t.append("binding: ")
            t.append_text(verdict_text("ok" if s.verdict.verified else "mismatch"))
            t.append(f" · {plural(len(s.samples), 'sample')}")
        elif self.phase == side:
            t.append("running now…", "italic")
        elif self.phase in ("ready", "done", "error"):
            t.append(self._instruction(side), "dim")
        t.rstrip()
        return t

    def _instruction(self, side: str) -> str:
        """The one line a box shows before its plan has run."""
        if side == "a":
            return f"press g: runs first, {self.seconds:g} s, then B"
        return f"press g: runs after A, {self.seconds:g} s · s / b change B"

    def _paint_table(self) -> None:
        rows: list[tuple[str, tuple]] = []
        if self.result is not None:
            for row in self.result.rows:
                cells = (Text(f" {row.rank} ", rank_style(row.rank)), rate_text(row.a), rate_text(row.b))
                rows.append((str(row.rank), (*cells, ratio_text(row.ratio))))
            total = (rate_text(self.result.total_a), rate_text(self.result.total_b))
            rows.append(
                ("total", (Text("total", "bold"), *(Text(x, "bold") for x in total), ratio_text(self.result.ratio)))
            )
        else:
            # While running: the latest throughput of the side that is running (means come at the end).
            ranks = sorted({w.rank for p in (self.plan_a, self.plan_b) if p for w in p.workers})
            now = {side: {w.rank: w.throughput for w in s.workers} for side, s in self.live.items()}
            for r in ranks:
                cells = (
                    Text(f" {r} ", rank_style(r)),
                    rate_text(now.get("a", {}).get(r)),
                    rate_text(now.get("b", {}).get(r)),
                    Text("…" if self.phase in ("a", "b") else "—", "dim"),
                )
                rows.append((str(r), cells))
        rebuild_table(self.query_one("#ab-table", DataTable), AB_COLUMNS, rows)

    def _conclusion_text(self) -> Text:
        t = Text()
        if self.error:
            t.append(self.error + "\n", "bold red")
        if self.result is not None:
            t.append(self.result.conclusion() + "\n", "bold")
            t.append(
                f"Means over each run's samples; one run per plan on a shared machine, so differences under "
                f"{NOISE:.0%} are called a tie. g runs it again.",
                "dim",
            )
        elif self.phase == "ready":
            if self.plan_b is not None and same_binding(self.plan_a, self.plan_b):
                t.append("A and B bind every worker identically on this machine: change B with s / b first.\n",
                         "bold yellow")  # fmt: skip
            t.append("g runs A then B · s / b change B's strategy / bind · d changes the duration", "dim")
        return t

    # -- keys ------------------------------------------------------------------------------------------------------
    def action_b_strategy(self) -> None:
        if self.plan_b is None:
            return
        cur = self.plan_b.request.strategy
        nxt = B_STRATEGIES[(B_STRATEGIES.index(cur) + 1) % len(B_STRATEGIES)] if cur in B_STRATEGIES else "compact"
        self._change_b(strategy=nxt)

    def action_b_bind(self) -> None:
        if self.plan_b is None:
            return
        cur = self.plan_b.request.bind
        self._change_b(bind=BIND_POLICIES[(BIND_POLICIES.index(cur) + 1) % len(BIND_POLICIES)])

    def action_duration(self) -> None:
        if self.phase in ("a", "b"):
            return
        self.seconds = next((d for d in DURATIONS if d > self.seconds), DURATIONS[0])
        self._paint()

    def action_back(self) -> None:
        """escape: stop a run in progress, back to the live view."""
        self._leave(quit_app=False)

    def action_quit_app(self) -> None:
        """q: stop a run in progress, quit ompviz (as q does everywhere else)."""
        self._leave(quit_app=True)

    def _leave(self, quit_app: bool) -> None:
        async def leave() -> None:
            session = self._session
            if session is not None and session.running:
                await asyncio.to_thread(session.stop)
            if quit_app:
                self.app.exit()
            else:
                self.dismiss(self.result)

        self.run_worker(leave(), group="ab-leave")
