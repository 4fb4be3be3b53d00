"""The Sampler on threads of this very test process: appear/vanish, affinity changes caught in the next sample,
migrations, CPU%, comm, exited workers, OpenMP identification from recorded output, no fd leak.

Expected values come from what each test does to its own threads (it sets their affinity, starts/ends them), or
from /proc read directly here, never from the sampler's own output. The sampler only reads: changing the affinity
of our own helper threads (not OpenMP threads) is the test's doing.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from ompviz.cpuset import CpuSet
from ompviz.live.launcher import ExitStatus, OutputState
from ompviz.live.sampler import Sampler

C = CpuSet
CPUS = sorted(os.sched_getaffinity(0))
two_cpus = pytest.mark.skipif(len(CPUS) < 2, reason="needs at least 2 allowed CPUs")


class FakeProc:
    """What the Sampler uses of a WorkerProcess, pointing at this process."""

    def __init__(self, pid: int | None = None, rank: int = 0, status: ExitStatus | None = None):
        self.pid = os.getpid() if pid is None else pid
        self.rank = rank
        self.output = OutputState()
        self.stopped_by_ompviz = False
        self._status = status

    def status(self) -> ExitStatus | None:
        return self._status


class Helper:
    """A thread that runs commands sent to it: set its own affinity, spin, block, exit."""

    def __init__(self) -> None:
        self.tid = 0
        self._cmd: list = []
        self._go = threading.Event()
        self._done = threading.Event()
        self._ready = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        self._ready.wait(5)

    def _run(self) -> None:
        self.tid = threading.get_native_id()
        self._ready.set()
        while True:
            self._go.wait()
            self._go.clear()
            op, arg = self._cmd.pop()
            if op == "exit":
                self._done.set()
                return
            if op == "affinity":
                os.sched_setaffinity(0, arg)
            elif op == "spin":
                end = time.monotonic() + arg
                while time.monotonic() < end:
                    pass
            self._done.set()

    def do(self, op: str, arg=None) -> None:
        self._done.clear()
        self._cmd.append((op, arg))
        self._go.set()
        assert self._done.wait(10)
        if op == "exit":
            self._t.join(5)
            # join() returns when Python is done with the thread, a moment before the kernel task is gone: wait
            # for that, so that "ended" means ended for /proc too
            deadline = time.monotonic() + 5
            while os.path.exists(f"/proc/self/task/{self.tid}") and time.monotonic() < deadline:
                time.sleep(0.001)


def thread_of(sample, tid):
    found = [t for w in sample.workers for t in w.threads if t.tid == tid]
    assert len(found) <= 1
    return found[0] if found else None


def proc_cpu(tid: int) -> int:
    with open(f"/proc/self/task/{tid}/stat", "rb") as f:
        return int(f.read().rsplit(b")", 1)[1].split()[36])


def test_threads_appear_and_vanish_between_samples_and_fds_are_closed():
    fds_before = len(os.listdir("/proc/self/fd"))
    s = Sampler([FakeProc()], interval=1.0)
    try:
        first = s.sample_once()
        main_tid = threading.get_native_id()
        assert thread_of(first, main_tid) is not None
        h = Helper()
        second = s.sample_once()
        t = thread_of(second, h.tid)
        assert t is not None, "a thread started between samples is in the next one"
        assert t.cpu_percent == 0.0 and t.migrations == 0  # first sight of it: no delta yet
        with open(f"/proc/self/task/{h.tid}/comm") as f:
            assert t.name == f.read().strip()
        assert t.allowed == C(os.sched_getaffinity(h.tid))
        h.do("exit")
        third = s.sample_once()
        assert thread_of(third, h.tid) is None, "a thread that ended is absent from the next sample"
        tids = [t.tid for w in third.workers for t in w.threads]
        assert sorted(tids) == sorted(int(x) for x in os.listdir("/proc/self/task")), "every live thread, once"
        assert third.seq == 2 and third.time >= second.time >= first.time
        assert third.workers[0].alive and third.workers[0].pid == os.getpid()
    finally:
        s.close()
    # the sampler keeps /proc fds open between samples; after close none is left behind
    assert len(os.listdir("/proc/self/fd")) <= fds_before


def test_a_thread_replacing_another_between_samples_is_seen_at_once():
    # one ends and one starts between two samples: the thread count is the same, the set is not
    old = Helper()
    s = Sampler([FakeProc()], interval=1.0)
    try:
        assert thread_of(s.sample_once(), old.tid) is not None
        old.do("exit")
        new = Helper()
        assert new.tid != old.tid
        sample = s.sample_once()
        assert thread_of(sample, old.tid) is None and thread_of(sample, new.tid) is not None
        tids = sorted(t.tid for t in sample.workers[0].threads)
        assert tids == sorted(int(x) for x in os.listdir("/proc/self/task"))
        new.do("exit")
    finally:
        s.close()


@two_cpus
def test_affinity_change_is_seen_in_the_very_next_sample_and_migrations_counted():
    a, b = CPUS[0], CPUS[1]
    full = C(os.sched_getaffinity(0))
    h = Helper()
    s = Sampler([FakeProc()], interval=1.0)
    try:
        h.do("affinity", {a})
        h.do("spin", 0.02)  # runs on a now
        s1 = thread_of(s.sample_once(), h.tid)
        assert s1.allowed == C([a]) and s1.cpu == a and s1.seen == C([a])
        assert s1.cpu == proc_cpu(h.tid)
        h.do("affinity", {b})
        h.do("spin", 0.02)
        s2 = thread_of(s.sample_once(), h.tid)
        # narrowed to another CPU between two samples: caught at once; `seen` restarts with the new set
        assert s2.allowed == C([b]) and s2.cpu == b and s2.seen == C([b])
        assert s2.migrations == 1
        h.do("affinity", full)
        s3 = thread_of(s.sample_once(), h.tid)  # widened back, without running since: still on b
        assert s3.allowed == full and s3.cpu == b and s3.seen == C([b]) and s3.migrations == 1
        h.do("affinity", {a})
        h.do("spin", 0.02)
        s4 = thread_of(s.sample_once(), h.tid)
        assert s4.allowed == C([a]) and s4.cpu == a and s4.seen == C([a]) and s4.migrations == 2
        # unchanged affinity, same CPU: nothing moves
        s5 = thread_of(s.sample_once(), h.tid)
        assert s5.allowed == C([a]) and s5.migrations == 2 and s5.seen == C([a])
    finally:
        h.do("exit")
        s.close()


def test_affinity_changes_on_many_threads_are_all_caught_every_sample():
    # several threads, rebound between every pair of samples: no sample may report a stale allowed set
    helpers = [Helper() for _ in range(6)]
    s = Sampler([FakeProc()], interval=1.0)
    try:
        s.sample_once()
        for rnd in range(4):
            want = {}
            for i, h in enumerate(helpers):
                cpus = {CPUS[(i + rnd) % len(CPUS)]} if (i + rnd) % 3 else set(CPUS)
                h.do("affinity", cpus)
                want[h.tid] = C(cpus)
            sample = s.sample_once()
            for tid, cpus in want.items():
                assert thread_of(sample, tid).allowed == cpus, (rnd, tid)
    finally:
        for h in helpers:
            h.do("exit")
        s.close()


def test_cpu_percent_of_a_spinning_and_a_blocked_thread():
    spin, idle = Helper(), Helper()
    s = Sampler([FakeProc()], interval=1.0)
    try:
        s.sample_once()
        spin.do("spin", 0.3)
        sample = s.sample_once()
        # blocked on an Event the whole time: not one tick; the spinner ran (at least one 1/CLK_TCK tick)
        assert thread_of(sample, idle.tid).cpu_percent == 0.0
        assert thread_of(sample, spin.tid).cpu_percent > 0.0
        assert thread_of(sample, spin.tid).cpu_percent <= 100.0 * 1.5  # ticks are coarse, but not wild
    finally:
        spin.do("exit")
        idle.do("exit")
        s.close()


def test_exited_worker_and_missing_process():
    done = FakeProc(rank=1, status=ExitStatus(None, 9))
    gone = FakeProc(pid=2**22 + 12345, rank=2)  # above pid_max's default: no such process
    s = Sampler([done, gone], interval=1.0)
    try:
        w_done, w_gone = s.sample_once().workers
        assert not w_done.alive and w_done.exit_signal == 9 and w_done.threads == ()
        assert w_gone.alive and w_gone.threads == ()  # vanished between listing and reading: just no threads
    finally:
        s.close()


def test_openmp_identification_and_rates_from_kernel_lines():
    p = FakeProc()
    h = Helper()
    main_tid = threading.get_native_id()
    p.output.feed(f"ompviz-thread thread=0 tid={main_tid} team=2 place=-1\n")
    p.output.feed(f"ompviz-thread thread=1 tid={h.tid} team=2 place=3\n")
    p.output.feed("ompviz-rates ips=1.5,2.5\n")
    s = Sampler([p], interval=1.0)
    try:
        w = s.sample_once().workers[0]
        t0, t1 = w.threads[0], w.threads[1]  # OpenMP threads first, in order
        assert (t0.tid, t0.omp_thread, t0.place, t0.ips) == (main_tid, 0, None, 1.5)
        assert (t1.tid, t1.omp_thread, t1.place, t1.ips) == (h.tid, 1, 3, 2.5)
        assert all(t.omp_thread is None for t in w.threads[2:])
        assert w.throughput == 4.0 and w.team_size == 2
    finally:
        h.do("exit")
        s.close()


def test_cpu_percent_at_a_short_interval_spans_many_ticks_and_never_exceeds_one_cpu():
    # QA: at a tiny interval a busy thread read 157 %. utime+stime move in whole 1/CLK_TCK ticks (10 ms), so a
    # percentage over one 10 ms gap is 0, 100 or 200 %. A thread uses at most one CPU: never above 100 %. And a
    # thread that spins the whole time cannot read 0 once the window is full: it runs for some of any 0.4 s
    # (a sample over one short gap alone would read 0 whenever no tick landed in it).
    spin = Helper()
    s = Sampler([FakeProc()], interval=1.0)
    try:
        s.sample_once()
        threading.Thread(target=spin.do, args=("spin", 1.2), daemon=True).start()
        pcts = []
        start = time.monotonic()
        # at least 1 s and 31 short-interval samples (a loaded machine samples slower: then the loop runs longer,
        # and readings after the spinner's 1.2 s, which may rightly read 0, are not checked for zeros)
        while (time.monotonic() - start < 1.0 or len(pcts) <= 30) and time.monotonic() - start < 10:
            time.sleep(0.01)
            t = thread_of(s.sample_once(), spin.tid)
            pcts.append((time.monotonic() - start, t.cpu_percent))
        assert len(pcts) > 30
        assert max(p for _, p in pcts) <= 100.0, pcts
        busy = [p for at, p in pcts if 0.5 < at < 1.1]  # the window is full after 0.4 s; the spinner stops at 1.2 s
        assert busy and 0.0 not in busy, pcts
    finally:
        spin._done.wait(5)
        spin.do("exit")
        s.close()
