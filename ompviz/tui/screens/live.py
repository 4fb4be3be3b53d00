"""The live view (``r`` in the explorer): run the plan's workers, watch every thread on a heatmap of the topology,
verify its binding, stop/restart, and a run summary at the end.

Data flow (GUIDE.md §2, memray/dolphie): :class:`~ompviz.live.LiveSession` samples /proc on its own thread and
calls ``on_sample`` there; this screen only posts the immutable Sample as a message (``post_message`` is
thread-safe) and applies it on the UI thread inside ``app.batch_update()``. Verdicts, throughput means and the
summary come from ``ompviz.live``; nothing here decides whether a thread is bound right.

Process rules: workers are started from the UI thread (their PR_SET_PDEATHSIG is tied to the thread that forked
them); stopping (SIGTERM, grace, SIGKILL) runs in a thread so a worker ignoring SIGTERM never freezes the UI;
leaving the screen (escape), quitting (q), or the app exiting otherwise stops the session (``on_unmount``,
synchronous there because the process is about to go away). While leaving, samples no longer act: the final
samples of our own stop must not start an "all workers exited" stop that would cancel the leaving.

It is a ModalScreen so the explorer's keys (s strategy, b bind, ...) do not act behind it and the footer lists
only this view's keys.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from ompviz.cpuset import CpuSet
from ompviz.errors import OmpvizError
from ompviz.live import LiveSession, RunSummary, Sample, WorkerSample, plan_runtime, verify_run
from ompviz.live import replay as replay_samples
from ompviz.live.ab import not_runnable_here
from ompviz.live.verify import RunVerdict, steady_samples
from ompviz.plan.model import Plan
from ompviz.topology.model import Topology
from ompviz.tui.widgets.heatmap import HeatMap, HeatState, heat_legend
from ompviz.tui.widgets.threadtable import (
    LiveThreadTable,
    LiveWorkerTable,
    last_rate,
    rate_text,
    state_text,
    verdict_text,
)
from ompviz.tui.widgets.topomap import rank_style
from ompviz.words import plural

SessionFactory = Callable[[], LiveSession]
RUNTIME_RULES = {"gnu": "libgomp rules", "llvm": "LLVM libomp rules", "intel": "Intel/LLVM libomp rules"}
HISTORY = 40  # throughput points kept per worker for the trend column


def open_live(app: App, topology: Topology, plan: Plan, **kw) -> LiveScreen:
    """Push the live view for ``plan`` (the explorer's ``r``); returns the screen."""
    screen = LiveScreen(topology, plan, **kw)
    app.push_screen(screen)
    return screen


class LiveScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    LiveScreen { background: $background; layout: vertical; }
    #live-status { height: 1; background: $primary; color: $foreground; text-wrap: nowrap; text-overflow: ellipsis; }
    #live-legend { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    #live-top { height: 1fr; }
    #live-map { width: 1fr; height: 1fr; border: round $primary; border-title-color: $text-primary; }
    #live-map:focus { border: round $accent; }
    #live-details-scroll {
        width: 52; height: 1fr; border: round $primary 60%; border-title-color: $text-primary; padding: 0 1;
    }
    LiveScreen.-ended #live-details-scroll { border: round $accent; }
    #live-bottom { height: auto; }
    #live-workers { height: auto; max-height: 10; border-top: solid $primary 40%; }
    #live-threads { height: 14; border-top: solid $primary 40%; }
    /* 80 columns: the details box only when there is a summary or an error to read; the tables say the rest */
    LiveScreen.-narrow #live-top { layout: vertical; }
    LiveScreen.-narrow #live-details-scroll { display: none; width: 1fr; height: 10; }
    LiveScreen.-narrow.-ended #live-details-scroll, LiveScreen.-narrow.-error #live-details-scroll { display: block; }
    LiveScreen.-narrow.-error #live-details-scroll { height: 1fr; }
    LiveScreen.-short #live-threads { height: 6; border-top: none; }
    LiveScreen.-short #live-workers { max-height: 4; border-top: none; }
    LiveScreen.-short.-ended #live-threads { height: 4; }
    """

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]

    BINDINGS = [
        Binding("s", "stop", "Stop"),
        Binding("r", "restart", "Restart"),
        Binding("a", "ab", "A/B"),
        Binding("o", "numbering", "OS/L#"),
        Binding("z", "fold", "Fold"),
        Binding("escape", "back", "Back"),
        Binding("q", "quit_app", "Quit"),
    ]

    @dataclass
    class SampleArrived(Message):
        sample: Sample
        run: int  # which start() it belongs to: samples of an older run are dropped

    @dataclass
    class ReplayFinished(Message):
        run: int

    def __init__(
        self,
        topology: Topology,
        plan: Plan,
        *,
        session_factory: SessionFactory | None = None,
        replay: Sequence[Sample] | None = None,
        replay_speed: float | None = None,
        command: Sequence[str] | None = None,
        runtime_lib: str | None = None,
        interval: float = 0.5,
    ) -> None:
        super().__init__()
        self.topology = topology
        self.plan = plan
        self.runtime_lib = runtime_lib or ("llvm" if plan.request.runtime == "llvm" else "gnu")
        self.rules = plan_runtime(self.runtime_lib)
        self.command = tuple(command) if command else None
        self.interval = interval
        self.session_factory = session_factory or (
            lambda: LiveSession(interval=self.interval, runtime_lib=self.runtime_lib)
        )
        self.replay = tuple(replay) if replay is not None else None
        self.replay_speed = replay_speed
        self.session: LiveSession | None = None
        self.state = "idle"  # idle | starting | running | stopping | ended | error
        self.ended_why = ""
        self.error = ""
        self.summary: RunSummary | None = None
        self.run_id = ""
        self._run = 0
        self._replay_stop = threading.Event()
        self._leaving = False  # escape/q pressed: stop, then leave; samples no longer start anything
        self._can_paint = False  # set in on_mount (Textual's is_mounted is still False there)
        self._reset_view()

    def _reset_view(self) -> None:
        self.latest: Sample | None = None
        self.verdict: RunVerdict | None = None
        self._steady: dict[int, WorkerSample] = {}
        self._samples: list[Sample] = []  # replay only: a live run's samples live in its session
        self.history: dict[int, deque] = {}
        self.summary = None
        self.ended_why = ""
        self.error = ""

    # -- layout ----------------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("", id="live-status")
        yield Static(heat_legend(), id="live-legend")
        with Horizontal(id="live-top"):
            yield HeatMap(self.topology, id="live-map")
            with VerticalScroll(id="live-details-scroll"):
                yield Static("", id="live-details")
        with Vertical(id="live-bottom"):
            yield LiveWorkerTable(id="live-workers")
            yield LiveThreadTable(id="live-threads")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#live-details-scroll").border_title = "Details"
        self._can_paint = True
        self._paint()
        self.query_one(HeatMap).focus()
        self.call_after_refresh(self._begin)

    def _begin(self) -> None:
        if self.replay is not None:
            self._start_replay()
        else:
            self.run_worker(self._start(), group="live-control", exclusive=True)

    # -- run control -----------------------------------------------------------------------------------------------
    async def _start(self) -> None:
        self._reset_view()
        why = not_runnable_here(self.plan, CpuSet(os.sched_getaffinity(0)))
        if why:
            self._fail(why)
            return
        self.state = "starting"
        self._paint()
        try:
            if self.command is None:
                from ompviz.live.build import kernel_binary

                await asyncio.to_thread(kernel_binary)  # a first-use compile must not freeze the UI
            if self.session is None:
                self.session = self.session_factory()
            self._run += 1
            run = self._run
            post = self.post_message
            self.run_id = self.session.start(
                self.plan, self.command, on_sample=lambda s: post(self.SampleArrived(s, run))
            )
        except OmpvizError as e:
            self._fail(str(e))
            return
        self.state = "running"
        self._paint()

    def _fail(self, message: str) -> None:
        self.state, self.error = "error", message
        self._paint()

    async def _stop(self, why: str, by_user: bool = False) -> None:
        """Stop the run and show the summary. ``by_user``: ompviz stopped the workers on request, and the summary
        says so with the run's length (not "all workers exited": they were stopped)."""
        if self.replay is not None:
            self._replay_stop.set()
            if self.state in ("running", "paused"):
                self._end_replay(why, by_user)
            return
        session = self.session
        if session is None or self.state not in ("running", "starting"):
            return
        self.state = "stopping"
        self._paint()
        summary = await asyncio.to_thread(session.stop)
        self.summary = summary
        if summary.samples:
            self._apply(summary.samples[-1])
        if by_user:
            why = f"{why} after {summary.duration:.1f} s"
        self.state, self.ended_why = "ended", why
        self._paint()

    def stop_now(self) -> None:
        """Synchronous stop (unmount / app exit): the workers must not outlive the view."""
        self._replay_stop.set()
        session = self.session
        if session is not None and session.running:
            session.stop()

    def on_unmount(self) -> None:
        self.stop_now()

    # -- replay (recorded samples: tests, demos) ---------------------------------------------------------------------
    def _start_replay(self) -> None:
        self._reset_view()
        self._run += 1
        run = self._run
        self._replay_stop = stop = threading.Event()
        self.state, self.run_id = "running", "replay"
        post = self.post_message
        samples = self.replay or ()
        speed = self.replay_speed

        def feed() -> None:
            def cb(s: Sample) -> None:
                if not stop.is_set():
                    post(self.SampleArrived(s, run))

            replay_samples(samples, cb, speed=speed)
            post(self.ReplayFinished(run))

        self.run_worker(feed, thread=True, group="live-replay", exclusive=True)
        self._paint()

    def on_live_screen_replay_finished(self, event: ReplayFinished) -> None:
        if event.run != self._run or self.state != "running":
            return
        last = self.latest
        # A recording that ends with every worker gone is a finished run; otherwise it just stops here.
        if last is not None and last.workers and not any(w.alive for w in last.workers):
            self._end_replay("all workers exited")
        else:
            self.state, self.ended_why = "paused", "end of the recording (workers still running in it)"
            self._paint()

    def _end_replay(self, why: str, by_user: bool = False) -> None:
        samples = tuple(self._samples)
        self.summary = RunSummary(
            run_id="replay",
            runtime_lib=self.runtime_lib,
            command=(),
            duration=samples[-1].time if samples else 0.0,
            samples=samples,
            final=samples[-1].workers if samples else (),
            verdict=verify_run(samples, self.plan.workers, self.rules),
        )
        if by_user:
            why = f"{why} after {self.summary.duration:.1f} s"
        self.state, self.ended_why = "ended", why
        self._paint()

    # -- samples ---------------------------------------------------------------------------------------------------
    def on_live_screen_sample_arrived(self, event: SampleArrived) -> None:
        if event.run != self._run or self._leaving:
            return
        with self.app.batch_update():
            self._apply(event.sample)
            if self.state == "running" and event.sample.workers and not any(w.alive for w in event.sample.workers):
                if self.replay is None:
                    self.run_worker(self._stop("all workers exited"), group="live-control", exclusive=True)
            self._paint()

    def _apply(self, sample: Sample) -> None:
        if self.latest is not None and sample.seq < self.latest.seq:
            return
        self.latest = sample
        if self.replay is not None:
            self._samples.append(sample)
        # Each worker is judged on its steady state (the core's rule), folded in one sample at a time.
        prev = Sample(0, 0.0, tuple(self._steady.values()))
        self._steady = steady_samples((prev, sample))
        self.verdict = verify_run((Sample(0, 0.0, tuple(self._steady.values())),), self.plan.workers, self.rules)
        for w in sample.workers:
            h = self.history.setdefault(w.rank, deque(maxlen=HISTORY))
            if w.alive:
                h.append(w.throughput)

    # -- painting --------------------------------------------------------------------------------------------------
    def _paint(self) -> None:
        if not (self._can_paint or self.is_mounted):
            return
        self.query_one("#live-status", Static).update(self._status_text())
        self.query_one(LiveWorkerTable).show(self.verdict or self._empty_verdict(), self.latest, self.history)
        threads = self.query_one(LiveThreadTable)
        threads.show(self.verdict, self.latest)
        self._paint_map()
        self.set_class(self.state == "ended", "-ended")
        self.set_class(self.state == "error", "-error")
        scroll = self.query_one("#live-details-scroll")
        scroll.border_title = "Run summary" if self.state == "ended" else "Details"
        self.query_one("#live-details", Static).update(self._details_text())

    def _empty_verdict(self) -> RunVerdict:
        return verify_run((), self.plan.workers, self.rules)

    def _paint_map(self) -> None:
        table = self.query_one(LiveThreadTable)
        # The selected thread is shown on the map only while the user is in the table (not a stray first row).
        tv = table.selected() if table.has_focus else None
        planned = CpuSet() if tv is None or tv.planned is None else tv.planned
        current = CpuSet()
        alive = {w.rank: w.alive for w in self.latest.workers} if self.latest else {}
        if tv is not None and tv.sample is not None and tv.sample.cpu is not None and alive.get(tv.rank):
            current = CpuSet([tv.sample.cpu])
        self.query_one(HeatMap).set_heat(
            HeatState.from_sample(self.latest, self.plan.request.reserve, planned=planned, current=current)
        )

    def _status_text(self) -> Text:
        t = Text()
        icon = {"running": "▶", "starting": "…", "stopping": "…", "ended": "■", "paused": "‖", "error": "✖"}
        t.append(f" {icon.get(self.state, '·')} live ", "bold reverse")
        word = {"ended": "ended", "paused": "recording ended", "error": "cannot run"}.get(self.state, self.state)
        t.append(f" {word} ", "bold")
        r = self.plan.request
        n = len(self.plan.workers)
        threads = sorted({w.num_threads for w in self.plan.workers})
        # "2 ranks × 4 threads", "1 rank × 1 thread", "3 ranks × 3/4 threads" (ranks of different sizes)
        thread_word = plural(threads[0] if len(threads) == 1 else 2, "thread", count=False)
        sizes = "/".join(map(str, threads)) or "?"
        t.append(f"│ {plural(n, 'rank')} × {sizes} {thread_word} · {r.strategy} · bind {r.bind} ")
        t.append(f"│ {self.runtime_lib} ({RUNTIME_RULES.get(self.runtime_lib, '')}) ")
        if self.run_id:
            t.append(f"│ run {self.run_id[:8]} ")
        s = self.latest
        if s is not None:
            t.append(f"│ {s.time:.1f} s · sample {s.seq} ")
        return t

    def _details_text(self) -> Text:
        t = Text()
        if self.state == "error":
            t.append("Cannot run this plan here\n", "bold red")
            t.append(self.error + "\n\n")
            t.append("r: try again · escape: back to the explorer · q: quit", "dim")
            return t
        if self.state == "ended" and self.summary is not None:
            return self._summary_text(self.summary)
        if self.state in ("starting", "idle"):
            t.append("Starting the workers…\n", "italic")
        if self.state == "paused":
            t.append(f"Replay: {self.ended_why}.\n\n", "italic")
        verdict = self.verdict
        if verdict is None:
            t.append("Waiting for the first sample.", "dim")
            return t
        for wv in verdict.workers:
            t.append(f" {wv.rank} ", rank_style(wv.rank))
            t.append(" ")
            t.append_text(verdict_text(wv.verdict))
            t.append("\n")
            for p in wv.problems:
                t.append(f"  {p}\n")
            if wv.note:
                t.append(f"  {wv.note}\n", "dim")
            for tv in wv.threads:
                if tv.verdict not in ("ok", "unknown") and tv.detail:
                    t.append(f"  thread {tv.omp_thread}: ", "bold")
                    t.append(f"{tv.detail}\n")
        t.append("\nPlanned (OMP_* per rank):\n", "bold")
        for w in self.plan.workers:
            env = w.env_dict
            t.append(f" {w.rank} ", rank_style(w.rank))
            t.append(f" CPUs {w.cpus} · OMP_PLACES={env.get('OMP_PLACES', '(unset)')}\n")
        t.append("\ns stop · r restart · a A/B against another plan · escape back · q quit", "dim")
        return t

    def _summary_text(self, summary: RunSummary) -> Text:
        t = Text()
        t.append(f"Run ended: {self.ended_why or 'ended'}\n", "bold")
        t.append(
            f"duration {summary.duration:.1f} s · {plural(len(summary.samples), 'sample')} · {self.runtime_lib}\n\n"
        )
        means = summary.mean_throughput()
        final = {w.rank: w for w in summary.final}
        for wv in summary.verdict.workers:
            t.append(f" {wv.rank} ", rank_style(wv.rank))
            t.append(" ")
            t.append_text(verdict_text(wv.verdict))
            t.append(f"  mean {rate_text(means.get(wv.rank))} iter/s")
            last = last_rate(self.history.get(wv.rank, ()))
            if last is not None:
                t.append(f" · last {rate_text(last)}")
            t.append("\n    ")
            t.append_text(state_text(final.get(wv.rank)))
            t.append("\n")
            for p in wv.problems:
                t.append(f"    {p}\n", "dim")
            if wv.note:
                t.append(f"    {wv.note}\n", "dim")
        t.append("\n")
        total = [v for v in means.values() if v is not None]
        if total:
            t.append(f"total mean {rate_text(sum(total))} iter/s\n")
        if summary.verdict.verified:
            t.append(f"✔ verified: every OpenMP thread bound as planned ({RUNTIME_RULES.get(self.runtime_lib)})\n",
                     "bold green")  # fmt: skip
        else:
            t.append("✖ NOT verified: see the verdicts\n", "bold red")
        t.append("\nr run again · a A/B against another plan · escape back · q quit", "dim")
        return t

    # -- events and actions ----------------------------------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if isinstance(event.data_table, LiveThreadTable):
            self._paint_map()

    def on_descendant_focus(self) -> None:
        self._paint_map()

    def on_descendant_blur(self) -> None:
        self._paint_map()

    def action_stop(self) -> None:
        if self._leaving:
            return
        self.run_worker(self._stop("stopped by you", by_user=True), group="live-control", exclusive=True)

    def action_restart(self) -> None:
        if self.state in ("starting", "stopping") or self._leaving:
            return
        if self.replay is not None:
            self._replay_stop.set()
            self._start_replay()
            return

        async def again() -> None:
            await self._stop("stopped for a restart")
            await self._start()

        self.run_worker(again(), group="live-control", exclusive=True)

    def action_ab(self) -> None:
        from ompviz.tui.screens.ab import ABScreen

        if self._leaving:
            return

        async def go() -> None:
            await self._stop("stopped for an A/B comparison")
            self.app.push_screen(
                ABScreen(
                    self.topology,
                    self.plan,
                    session_factory=self.session_factory,
                    command=self.command,
                    runtime_lib=self.runtime_lib,
                )
            )

        self.run_worker(go(), group="live-control", exclusive=True)

    def action_numbering(self) -> None:
        m = self.query_one(HeatMap)
        m.set_numbering("logical" if m.numbering == "os" else "os")

    def action_fold(self) -> None:
        self.query_one(HeatMap).next_fold()

    def action_back(self) -> None:
        """escape: stop the workers, back to the explorer."""
        self._leave(quit_app=False)

    def action_quit_app(self) -> None:
        """q: stop the workers, then quit ompviz (as q does in the explorer)."""
        self._leave(quit_app=True)

    def _leave(self, quit_app: bool) -> None:
        if self._leaving:
            return
        self._leaving = True  # from now on samples (our own stop's last ones included) start nothing

        async def leave() -> None:
            await asyncio.to_thread(self.stop_now)
            if quit_app:
                self.app.exit()
            else:
                self.dismiss(None)

        self.run_worker(leave(), group="live-control", exclusive=True)
