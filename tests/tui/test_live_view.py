"""The live view (heatmap, thread/worker tables, summary, A/B) — on recorded samples, and with real workers.

Recorded runs are built here by hand (fixed timestamps, tids, utilisation) on the self-built 32-PU machine
``small()`` (cores 0-15, SMT sibling of core k is k+16) with a hand-written plan, so the planner's own changes
cannot move these tests:

- rank 0: places {0},{1},{2},{3}, close, 4 threads -> thread i on place i (close, T=P);
- rank 1: places {8},{9},{10},{11}, same rule -> thread i on CPU 8+i.

In the recording rank 1's thread 2 is allowed {8-11} (the runtime did not bind it) and was seen on CPUs 10 and 9:
its verdict must be "outside" (ran outside its place {10}); every other thread is "ok".
"""

from __future__ import annotations

import os
import re
import signal
import time

import pytest
from asyncrun import sync
from textual.app import App
from tui_machines import small

from ompviz.cpuset import CpuSet
from ompviz.live import LiveSession, RunSummary, Sample, ThreadSample, WorkerSample, verify_run
from ompviz.plan.model import Plan, PlanRequest, ThreadPlacement, Worker
from ompviz.tui.screens.ab import ABScreen
from ompviz.tui.screens.live import LiveScreen
from ompviz.tui.widgets.heatmap import HeatMap, HeatState, heat_style, thread_mark
from ompviz.tui.widgets.threadtable import LiveThreadTable, LiveWorkerTable

C = CpuSet


def hand_worker(rank: int, cpus: list[int], bind: str = "close") -> Worker:
    places = tuple(C([c]) for c in cpus)
    tp = tuple(ThreadPlacement(i, i, places[i]) for i in range(len(cpus)))
    env = (
        ("OMP_PLACES", ",".join(p.to_braces() for p in places)),
        ("OMP_PROC_BIND", bind),
        ("OMP_NUM_THREADS", str(len(cpus))),
    )
    return Worker(rank, C(cpus), places, env, len(cpus), tp, tp)


def hand_plan(workers, strategy: str = "compact") -> Plan:
    return Plan(PlanRequest(ranks=len(workers), strategy=strategy), {}, tuple(workers), ())


PLAN = hand_plan([hand_worker(0, [0, 1, 2, 3]), hand_worker(1, [8, 9, 10, 11])])


def thread(tid, omp, cpu, pct, allowed, migr=0, seen=None, ips=None):
    return ThreadSample(
        tid=tid, name="ompviz-kernel", omp_thread=omp, cpu=cpu, cpu_percent=pct, allowed=C(allowed),
        migrations=migr, seen=C(seen if seen is not None else [cpu]), ips=ips,
    )  # fmt: skip


def util(busy: dict[int, float]) -> tuple[float, ...]:
    return tuple(busy.get(c, 1.0) for c in range(32))


def recorded() -> tuple[Sample, ...]:
    """Three running samples, then the end: rank 1 killed by SIGKILL, rank 0 stopped by ompviz (SIGTERM)."""
    out = []
    for seq in range(3):
        k = seq + 1  # throughput grows a little each sample (1.0, 1.1, 1.2 M it/s per thread for rank 0)
        r0 = tuple(thread(1001 + i, i, i, 98.0, [i], ips=1.0e6 + 1e5 * seq) for i in range(4))  # each on its own CPU
        r1 = (
            thread(2001, 0, 8, 97.0, [8], ips=5e5 * k),
            thread(2002, 1, 9, 60.0, [9], ips=4e5),
            thread(2003, 2, 9 if seq else 10, 45.0, [8, 9, 10, 11], migr=seq, seen=[10, 9] if seq else [10], ips=3e5),
            thread(2004, 3, 11, 96.0, [11], ips=5e5),
            thread(2005, None, 12, 0.0, [8, 9, 10, 11]),  # a helper thread of the program, not OpenMP
        )
        out.append(
            Sample(
                seq,
                0.5 * (seq + 1),
                (
                    WorkerSample(0, 1000, True, throughput=sum(t.ips for t in r0), team_size=4, threads=r0),
                    WorkerSample(1, 2000, True, throughput=sum(t.ips for t in r1 if t.ips), team_size=4, threads=r1),
                ),
                util({0: 99, 1: 97, 2: 80, 3: 60, 8: 40, 9: 100, 10: 20, 11: 90, 20: 12, 30: 50}),
            )
        )
    out.append(
        Sample(
            3,
            2.0,
            (
                WorkerSample(0, 1000, False, exit_signal=signal.SIGTERM, stopped=True),
                WorkerSample(1, 2000, False, exit_signal=signal.SIGKILL, stopped=False),
            ),
            util({}),
        )
    )
    return tuple(out)


class Host(App[None]):
    """A bare app that opens the live screen on a recorded run (the explorer is another engineer's file)."""

    def __init__(self, samples, plan=PLAN, topology=None, **kw) -> None:
        super().__init__()
        self.kw = dict(replay=samples, **kw)
        self.plan = plan
        self.topology = topology or small()

    def on_mount(self) -> None:
        self.push_screen(LiveScreen(self.topology, self.plan, **self.kw))


async def settle(pilot, screen_cls=LiveScreen, until=None, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.02)
        scr = pilot.app.screen
        if isinstance(scr, screen_cls) and (until is None or until(scr)):
            return scr
    raise AssertionError(f"timed out waiting for {screen_cls.__name__}")


# -- pure pieces of the widgets -------------------------------------------------------------------------------------
def test_heat_ramp_and_marks():
    assert heat_style(0.0) is None and heat_style(4.9) is None  # idle: drawn in the theme's colours
    assert heat_style(5.0).bgcolor.name == "#005faf"
    assert heat_style(50.0).bgcolor.name == "#5faf00"
    assert heat_style(100.0).bgcolor.name == "#d70000"
    assert thread_mark(()) == " " and thread_mark(((0, 3),)) == "³" and thread_mark(((1, 11),)) == "b"
    assert thread_mark(((0, 99),)) == "#" and thread_mark(((0, 1), (1, 2))) == "+"
    s = recorded()[2]
    h = HeatState.from_sample(s)
    # rank 1 threads 1 and 2 both last ran on CPU 9; the non-OpenMP helper on 12 is not a thread mark
    assert h.on_cpu[9] == ((1, 1), (1, 2)) and 12 not in h.on_cpu and h.on_cpu[0] == ((0, 0),)
    assert h.util_of(C([0, 1])) == 98.0 and h.util_of(C([40])) is None
    assert HeatState.from_sample(recorded()[3]).on_cpu == {}  # dead workers have no threads on CPUs


# -- recorded runs --------------------------------------------------------------------------------------------------
@sync
async def test_replay_fills_tables_map_and_verdicts():
    app = Host(recorded()[:3])
    async with app.run_test(size=(160, 50)) as pilot:
        scr = await settle(pilot, until=lambda s: s.state == "paused")
        assert scr.latest.seq == 2
        table = scr.query_one(LiveThreadTable)
        verdicts = {k: tv.verdict for k, tv in table.verdicts.items()}
        assert verdicts == {
            **{f"0:{1001 + i}": "ok" for i in range(4)},
            "1:2001": "ok",
            "1:2002": "ok",
            "1:2003": "outside",
            "1:2004": "ok",
            "1:2005": "unknown",
        }
        row = table.get_row("1:2003")
        assert [str(c) for c in row[1:8]] == ["2", "2003", "p2 {10}", "{8-11}", "9", "45", "2"]
        assert str(row[8]).startswith("✖ outside")
        workers = scr.query_one(LiveWorkerTable)
        # rank 0: 4 threads x 1.2M; rank 1: 1.5M + 0.4M + 0.3M + 0.5M = 2.7M (third sample)
        assert [str(c) for c in workers.get_row("0")[1:5]] == ["1000", "running", "4/4", "4.80M"]
        assert [str(c) for c in workers.get_row("1")[4:5]] == ["2.70M"]
        assert str(workers.get_row("1")[6]) == "✖ mismatch"
        lines = scr.query_one(HeatMap).plain_lines()

        # PU cells: a blank gap column, the OS number (2 digits, right-aligned), then the mark column: threads 0..3
        # of rank 0 on CPUs 0..3, '+' on 9 (two threads), rank 1's thread 3 on 11; idle 4 and the unused sibling 16
        # have a blank mark. Cells are 4 columns (gap + 2 digits + mark): a 4-core block is 16 wide (more than its
        # label "NUMA 0 · L3 #0"), then the 1-column gap between blocks. Without the gap column cells ran together
        # ("9+10", and "0⁰1⁰" on a 1-digit machine).
        def cells(*pairs) -> str:  # (OS number, mark) -> gap + number + mark (plain_lines strips the line's end)
            return "".join(f" {n:>2}{m}" for n, m in pairs)

        assert (
            lines[2]
            == cells((0, "⁰"), (1, "¹"), (2, "²"), (3, "³")) + " " + cells(*((n, " ") for n in range(4, 8))).rstrip()
        )
        assert (
            lines[3]
            == cells(*((n, " ") for n in range(16, 20))) + " " + cells(*((n, " ") for n in range(20, 24))).rstrip()
        )
        rank1 = cells((8, "⁰"), (9, "+"), (10, " "), (11, "³"))
        assert lines[6] == rank1 + " " + cells(*((n, " ") for n in range(12, 16))).rstrip()
        assert "  0⁰  1¹" in lines[2] and "  9+ 10 " in lines[6]  # as a reader sees it: numbers apart


@sync
async def test_replay_end_shows_summary_with_dead_worker():
    app = Host(recorded())
    async with app.run_test(size=(160, 50)) as pilot:
        scr = await settle(pilot, until=lambda s: s.state == "ended")
        assert scr.summary is not None and not scr.summary.verdict.verified
        # means over the three running samples: rank 0 = 4 x (1.0+1.1+1.2)/3 M = 4.4M
        assert scr.summary.mean_throughput()[0] == pytest.approx(4.4e6)
        details = str(scr.query_one("#live-details").render())
        assert "Run ended: all workers exited" in details and "4.40M" in details and "NOT verified" in details
        assert "killed by SIGKILL" in str(scr.query_one(LiveWorkerTable).get_row("1")[2])
        threads = scr.query_one(LiveThreadTable)
        assert str(threads.get_row("1:2001")[5]) == "dead" and str(threads.get_row("0:1001")[5]) == "stopped"
        # the run's throughput stays readable after the end (QA: iter/s turned to "—"): the last value each worker
        # reported while running (rank 0: 4 x 1.2M = 4.80M; rank 1: 1.5M + 0.4M + 0.3M + 0.5M = 2.70M), and in the
        # summary beside the mean
        workers = scr.query_one(LiveWorkerTable)
        assert str(workers.get_row("0")[4]) == "4.80M" and str(workers.get_row("1")[4]) == "2.70M"
        assert "mean 4.40M iter/s · last 4.80M" in details


@sync
async def test_stop_key_says_stopped_by_you_with_the_length_and_keeps_throughput():
    app = Host(recorded()[:3])
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, until=lambda s: s.state == "paused")
        await pilot.press("s")
        scr = await settle(pilot, until=lambda s: s.state == "ended")
        details = str(scr.query_one("#live-details").render())
        # the recording's last sample is at 1.5 s
        assert "Run ended: stopped by you after 1.5 s" in details and "all workers exited" not in details
        assert str(scr.query_one(LiveWorkerTable).get_row("0")[4]) == "4.80M"


def test_live_keys_q_quits_escape_goes_back_both_in_the_footer():
    keys = {b.key: (b.action, b.show) for b in LiveScreen.BINDINGS}
    assert keys["q"] == ("quit_app", True) and keys["escape"] == ("back", True)
    keys = {b.key: (b.action, b.show) for b in ABScreen.BINDINGS}
    assert keys["q"] == ("quit_app", True) and keys["escape"] == ("back", True)


@sync
async def test_escape_goes_back_and_q_quits_the_app():
    app = Host(recorded()[:3])
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, until=lambda s: s.state == "paused")
        await pilot.press("escape")
        deadline = time.monotonic() + 10
        while isinstance(app.screen, LiveScreen) and time.monotonic() < deadline:
            await pilot.pause(0.02)
        assert not isinstance(app.screen, LiveScreen) and app.is_running  # back, the app goes on
        app.push_screen(LiveScreen(app.topology, app.plan, **app.kw))
        await settle(pilot, until=lambda s: s.state == "paused")
        await pilot.press("q")
        deadline = time.monotonic() + 10
        while app.is_running and time.monotonic() < deadline:
            await pilot.pause(0.02)
        assert not app.is_running


def _snap_until(state):
    async def run_before(pilot) -> None:
        await settle(pilot, until=lambda s: s.state == state)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", [(160, 50), (80, 24)])
def test_snapshot_live_heatmap(snap_compare, size):
    assert snap_compare(Host(recorded()[:3]), terminal_size=size, run_before=_snap_until("paused"))


@pytest.mark.parametrize("size", [(160, 50), (80, 24)])
def test_snapshot_run_summary(snap_compare, size):
    assert snap_compare(Host(recorded()), terminal_size=size, run_before=_snap_until("ended"))


# -- real workers (built-in kernel, libgomp) ------------------------------------------------------------------------
CPUS = sorted(os.sched_getaffinity(0))


def procs_with_run_id(run_id: str) -> list[int]:
    """PIDs whose environment carries OMPVIZ_RUN_ID=run_id (zombies have an empty environ and do not count)."""
    needle = f"OMPVIZ_RUN_ID={run_id}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(len(CPUS) < 2, reason="needs at least 2 allowed CPUs")
@sync
async def test_real_workers_ok_stop_kill_and_quit():
    from ompviz.topology import load

    a, b = CPUS[:2]
    # 1 rank x 2 threads, places {a},{b}, close: thread 0 -> {a}, thread 1 -> {b} (close, T=P)
    plan = hand_plan([hand_worker(0, [a, b])])
    app = Host(None, plan=plan, topology=load("live"), session_factory=lambda: LiveSession(interval=0.2))

    def all_ok(s):
        v = s.verdict
        return s.state == "running" and v is not None and v.verified and len(v.workers[0].threads) >= 2

    async with app.run_test(size=(160, 50)) as pilot:
        scr = await settle(pilot, until=lambda s: all_ok(s) and s.latest.workers[0].throughput, timeout=15)
        table = scr.query_one(LiveThreadTable)
        omp = sorted(
            (tv.omp_thread, str(tv.allowed), tv.verdict) for tv in table.verdicts.values() if tv.omp_thread is not None
        )
        assert omp == [(0, str(C([a])), "ok"), (1, str(C([b])), "ok")]
        run_id = scr.run_id
        assert procs_with_run_id(run_id)  # the check itself sees live workers
        # s: every worker process of the run is gone, the summary is shown, the screen stays
        await pilot.press("s")
        scr = await settle(pilot, until=lambda s: s.state == "ended", timeout=10)
        assert procs_with_run_id(run_id) == []
        details = str(scr.query_one("#live-details").render())
        assert re.search(r"Run ended: stopped by you after \d+\.\d s", details), details
        assert scr.summary.verdict.verified
        assert str(scr.query_one(LiveWorkerTable).get_row("0")[4]) != "—"  # the kernel's last rate stays shown

        # r: a new run; SIGKILL its worker: shown dead with its signal, the view stays up
        await pilot.press("r")
        scr = await settle(pilot, until=lambda s: all_ok(s) and s.run_id != run_id, timeout=15)
        pid = scr.latest.workers[0].pid
        os.kill(pid, signal.SIGKILL)
        scr = await settle(pilot, until=lambda s: s.state == "ended", timeout=10)
        assert app.screen is scr
        state = str(scr.query_one(LiveWorkerTable).get_row("0")[2])
        assert state == "✝ killed by SIGKILL"
        assert "killed by SIGKILL" in str(scr.query_one("#live-details").render())

        # r again, then escape while the workers run: they stop and the view goes back (QA: the final samples of
        # that stop started an "all workers exited" stop that cancelled the leaving: the view stayed)
        await pilot.press("r")
        scr = await settle(pilot, until=lambda s: s.state == "running" and s.latest is not None, timeout=15)
        run_id = scr.run_id
        assert procs_with_run_id(run_id)
        await pilot.press("escape")
        deadline = time.monotonic() + 10
        while isinstance(app.screen, LiveScreen) and time.monotonic() < deadline:
            await pilot.pause(0.02)
        assert not isinstance(app.screen, LiveScreen) and app.is_running
        assert procs_with_run_id(run_id) == []

        # a new live view, q while the workers run: the workers stop, then the app quits
        app.push_screen(LiveScreen(app.topology, app.plan, **app.kw))
        scr = await settle(pilot, until=lambda s: s.state == "running" and s.latest is not None, timeout=15)
        last_run = scr.run_id
        assert procs_with_run_id(last_run)
        await pilot.press("q")
        deadline = time.monotonic() + 10
        while app.is_running and time.monotonic() < deadline:
            await pilot.pause(0.02)
        assert not app.is_running
        assert procs_with_run_id(last_run) == []
    assert procs_with_run_id(last_run) == []


# -- A/B on a fake session factory ----------------------------------------------------------------------------------
class FakeSession:
    """Stands in for LiveSession: 'runs' by delivering recorded samples, 'stops' by summarising them."""

    def __init__(self, per_rank_ips: dict[int, list[float]]) -> None:
        self.per_rank_ips = per_rank_ips
        self.running = False
        self.samples: tuple[Sample, ...] = ()
        self.started_with: Plan | None = None

    def start(self, plan, command=None, *, on_sample=None, **kw) -> str:
        self.started_with, self.running = plan, True
        out = []
        n = len(next(iter(self.per_rank_ips.values())))
        for seq in range(n):
            ws = []
            for w in plan.workers:
                ips = self.per_rank_ips[w.rank][seq]
                th = tuple(
                    thread(100 * (w.rank + 1) + t.thread, t.thread, t.cpus.first, 99.0, list(t.cpus), ips=ips / 4)
                    for t in w.gnu
                )
                ws.append(
                    WorkerSample(w.rank, 1000 + w.rank, True, throughput=ips, team_size=w.num_threads, threads=th)
                )
            out.append(Sample(seq, 0.5 * (seq + 1), tuple(ws), util({})))
        self.samples = tuple(out)
        for smp in self.samples:
            on_sample(smp)
        return f"fake{id(self)}"

    def all_exited(self) -> bool:
        return False

    def stop(self) -> RunSummary:
        self.running = False
        plan = self.started_with
        return RunSummary(
            run_id="fake", runtime_lib="gnu", command=(), duration=1.0, samples=self.samples,
            final=self.samples[-1].workers, verdict=verify_run(self.samples, plan.workers, "gnu"),
        )  # fmt: skip


PLAN_B = hand_plan([hand_worker(0, [0, 16, 1, 17]), hand_worker(1, [8, 24, 9, 25])], strategy="spread")


def ab_host(fakes):
    it = iter(fakes)

    class ABHost(App[None]):
        def on_mount(self) -> None:
            self.push_screen(
                ABScreen(small(), PLAN, plan_b=PLAN_B, session_factory=lambda: next(it), seconds=0.2,
                         command=("fake",), check_runnable=False)
            )  # fmt: skip

    return ABHost()


def ab_fakes():
    # A: rank 0 reports 3M then 5M (mean 4M), rank 1 2M, 2M (mean 2M) -> total 6M
    # B: rank 0 5M, 5M (mean 5M), rank 1 3M then 5M (mean 4M)       -> total 9M; B/A = 1.25, 2.00, total 1.50
    return [FakeSession({0: [3e6, 5e6], 1: [2e6, 2e6]}), FakeSession({0: [5e6, 5e6], 1: [3e6, 5e6]})]


@sync
async def test_ab_side_by_side_numbers_and_ratio():
    fakes = ab_fakes()
    app = ab_host(fakes)
    async with app.run_test(size=(160, 50)) as pilot:
        scr = await settle(pilot, ABScreen)
        await pilot.press("g")
        scr = await settle(pilot, ABScreen, until=lambda s: s.phase == "done")
        assert fakes[0].started_with is PLAN and fakes[1].started_with is PLAN_B  # A first, then B
        table = scr.query_one("#ab-table")
        rows = [[str(c) for c in table.get_row(k)] for k in ("0", "1", "total")]
        assert rows == [
            [" 0 ", "4.00M", "5.00M", "1.25×"],
            [" 1 ", "2.00M", "4.00M", "2.00×"],
            ["total", "6.00M", "9.00M", "1.50×"],
        ]
        text = str(scr.query_one("#ab-conclusion").render())
        assert "B (spread/close) is faster: 1.50× the throughput of A (compact/close)" in text


@sync
async def test_ab_boxes_show_plans_and_an_instruction_before_the_first_run():
    # QA: two empty boxes until g. Before any run each box lists its plan's workers and says what g will do.
    app = ab_host(ab_fakes())
    async with app.run_test(size=(160, 50)) as pilot:
        scr = await settle(pilot, ABScreen)
        await pilot.pause()
        a = str(scr.query_one("#ab-a").render())
        b = str(scr.query_one("#ab-b").render())
        assert a.splitlines() == [
            " 0  CPUs 0-3 · 4 thr · {0},{1},{2},{3}",
            " 1  CPUs 8-11 · 4 thr · {8},{9},{10},{11}",
            "press g: runs first, 0.2 s, then B",
        ]
        assert b.splitlines()[-1] == "press g: runs after A, 0.2 s · s / b change B"
        assert "g: run A then B" in str(scr.query_one("#ab-status").render())


def test_snapshot_ab(snap_compare):
    async def run_before(pilot) -> None:
        await settle(pilot, ABScreen)
        await pilot.press("g")
        await settle(pilot, ABScreen, until=lambda s: s.phase == "done")
        await pilot.pause()

    assert snap_compare(ab_host(ab_fakes()), terminal_size=(160, 50), run_before=run_before)
