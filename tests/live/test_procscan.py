"""The sampler's compiled per-thread loop (procscan.c) against its pure-Python path: the same input must give the
same samples, bit for bit.

Two kinds of evidence. (1) Crafted stat texts, allowed sets and read times fed to both accountings (``_account``
on a ``_TaskTrack``, ``ps_step`` through ``_Table.step``) — this reaches what the kernel cannot be made to produce
here: comm with spaces and ')', CPU ids above 64 on a 2-CPU machine, malformed lines, readings closer together than
the window. The Python path is the reference (tests/live/test_live_sampler.py checks it against /proc itself); a
few expected values are also worked out by hand below. (2) Real threads: this process's own helper threads and
real kernel workers (stopped, so that both samplers read the very same /proc state), sampled by a Sampler on each
path; /proc read directly gives the expected values where the two could agree on something wrong.
"""

from __future__ import annotations

import inspect
import os
import shutil
import signal
import sys
import threading
import time
import uuid

import pytest
import test_live_sampler as tls
from hypothesis import given, settings
from hypothesis import strategies as st

from ompviz.cpuset import CpuSet
from ompviz.live import launcher
from ompviz.live import sampler as sm
from ompviz.live.build import PROCSCAN_SOURCE, procscan_library
from ompviz.live.sampler import CLK_TCK, Sampler, _account, _TaskTrack

NAT = sm._native()
needs_native = pytest.mark.skipif(NAT is None, reason="procscan.c could not be built/loaded (no C compiler?)")
C = CpuSet


def stat_line(comm: bytes, ticks: tuple[int, int] = (0, 0), cpu: int | None = 0, tid: int = 42) -> bytes:
    """A /proc/PID/task/TID/stat line: fields 3.. after comm; utime/stime are fields 14/15, processor field 39."""
    after = [b"S"] + [b"0"] * 10 + [str(ticks[0]).encode(), str(ticks[1]).encode()] + [b"0"] * 23
    if cpu is not None:
        after += [str(cpu).encode()] + [b"0"] * 13
    return b"%d (%s) " % (tid, comm) + b" ".join(after) + b"\n"


class Both:
    """One thread accounted by both paths from the same readings."""

    def __init__(self) -> None:
        self.py = _TaskTrack(-1)
        self.tb = sm._Table(NAT, 0)
        self.slot = self.tb.add(42, -1)
        self.py_gone = self.c_gone = False

    def read(self, data: bytes, allowed: set[int], now: float) -> tuple:
        """Feed one reading to both; returns (python state, C state) after it."""
        states = []
        if not self.py_gone:
            r = _account(self.py, data, set(allowed), now)
            self.py_gone = r < 0
            ref = sm._parse_stat(data)  # _account parses inline: the same rules as the parser
            assert (ref is None) == (r < 0)
            if ref is not None:
                assert (self.py.comm, self.py.cpu) == (ref[0].decode("utf-8", "replace"), ref[3])
            t = self.py
            states.append(("gone",) if r < 0 else (r, t.comm, t.cpu, t.pct, t.migrations, t.allowed, t.seen))
        if not self.c_gone:
            tb, s = self.tb, self.slot
            r = tb.step(s, data, set(allowed), now)
            self.c_gone = r < 0
            cpu = tb.out_cpu[s]
            states.append(
                ("gone",)
                if r < 0
                else (r, tb.comm[s], None if cpu < 0 else cpu, tb.out_pct[s], tb.out_mig[s], tb.allowed[s], tb.seen[s])
            )
        return tuple(states)

    def close(self) -> None:
        self.tb.close()


def run_both(readings) -> list[tuple]:
    b = Both()
    try:
        out = []
        for data, allowed, now in readings:
            py, c = b.read(data, allowed, now)
            assert py == c, (data, allowed, now)
            assert repr(py) == repr(c)  # floats bit for bit (== would let -0.0 equal 0.0)
            out.append(py)
            if py == ("gone",):
                break
        return out
    finally:
        b.close()


# -- build ----------------------------------------------------------------------------------------------------------
def test_library_builds_once_and_no_compiler_is_no_error(tmp_path, monkeypatch):
    if shutil.which("cc") or shutil.which("gcc"):
        lib = procscan_library(cache=tmp_path)
        assert lib is not None and lib.is_file()
        mtime = lib.stat().st_mtime_ns
        assert procscan_library(cache=tmp_path) == lib and lib.stat().st_mtime_ns == mtime  # cached
        assert not [p for p in lib.parent.iterdir() if p.name.startswith(".build-")]
        bad = tmp_path / "bad.c"
        bad.write_text(PROCSCAN_SOURCE.read_text() + "\nint broken(void) { return nope; }\n")
        assert procscan_library(bad, cache=tmp_path) is None  # a failed build: silently the Python path
    monkeypatch.setenv("CC", "ompviz-no-such-cc")
    assert procscan_library(cache=tmp_path / "none") is None  # no compiler: no error, no cache entry
    assert not (tmp_path / "none").exists()


def test_not_linux_is_no_library(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert procscan_library(cache=tmp_path) is None and not any(tmp_path.iterdir())


def test_sampler_without_the_library_uses_python(monkeypatch):
    monkeypatch.setattr(sm, "_native", lambda: None)
    s = Sampler([tls.FakeProc()], interval=1.0)
    try:
        assert not s.native
        assert tls.thread_of(s.sample_once(), threading.get_native_id()) is not None
        with pytest.raises(RuntimeError):
            Sampler([tls.FakeProc()], interval=1.0, native=True)
    finally:
        s.close()


# -- crafted readings -----------------------------------------------------------------------------------------------
@needs_native
def test_comm_with_spaces_and_parens_and_its_changes():
    states = run_both(
        [
            (stat_line(b"a) b (c", (1, 1), 3), {0, 1, 2, 3}, 10.0),
            (stat_line(b"a) b (c", (1, 1), 3), {0, 1, 2, 3}, 10.5),
            (stat_line(b"renamed )", (1, 1), 3), {0, 1, 2, 3}, 11.0),
            (stat_line(b"\xff\xfe bad utf-8", (1, 1), 3), {0, 1, 2, 3}, 11.5),
            (stat_line(b"", (1, 1), 3), {0, 1, 2, 3}, 12.0),
        ]
    )
    # by hand: comm is everything between the first '(' and the LAST ')'
    assert [s[1] for s in states] == ["a) b (c", "a) b (c", "renamed )", "\ufffd\ufffd bad utf-8", ""]
    assert states[0][0] == 1 and states[1][0] == 0  # first reading is "changed" (new); same again is not


@needs_native
def test_cpus_above_64_rebinding_migrations_and_seen():
    hi = set(range(64, 256))
    states = run_both(
        [
            (stat_line(b"w", (0, 0), 130), hi, 1.0),
            (stat_line(b"w", (0, 0), 200), hi, 1.5),  # moved: 1 migration, seen {130, 200}
            (stat_line(b"w", (0, 0), 200), hi, 2.0),
            (stat_line(b"w", (0, 0), 65), {65}, 2.5),  # rebound to {65}: seen restarts with {65}; moved again
            (stat_line(b"w", (0, 0), 65), {65}, 3.0),
            (stat_line(b"w", (0, 0), 1023), set(range(1024)), 3.5),  # widened, highest id of a 1024-CPU mask
            (stat_line(b"w", (0, 0), None), set(range(1024)), 4.0),  # no field 39: no CPU, no migration
        ]
    )
    assert [s[2] for s in states] == [130, 200, 200, 65, 65, 1023, None]
    assert [s[4] for s in states] == [0, 1, 1, 2, 2, 3, 3]
    assert [s[0] for s in states] == [1, 0, 0, 1, 0, 1, 0]
    seen = [C([130]), C([130, 200]), C([130, 200]), C([65]), C([65]), C([1023]), C([1023])]
    assert [s[6] for s in states] == seen
    assert states[3][5] == C([65]) and states[5][5] == C(range(1024))


@needs_native
def test_cpu_percent_window_by_hand():
    step = 0.1
    k = CLK_TCK  # one CPU's worth of ticks per second
    readings = [(stat_line(b"w", (i * k // 10, 0), 0), {0}, 100.0 + i * step) for i in range(12)]
    states = run_both(readings)
    # busy the whole time: +CLK_TCK/10 ticks every 0.1 s is 100 %; the window holds >= 0.4 s once filled
    assert states[0][3] == 0.0
    assert all(abs(s[3] - 100.0) < 1e-9 for s in states[1:])
    # a thread that stops: after the window it reads 0, never below
    stopped = [(stat_line(b"w", (50, 0), 0), {0}, 200.0 + i * step) for i in range(8)]
    assert run_both(stopped)[-1][3] == 0.0


@needs_native
def test_a_reading_exactly_one_window_old_is_the_base():
    # by hand: at t=0.5 the reading of t=0.1 is exactly CPU_WINDOW old (0.5 - 0.1 == 0.4 in binary floating point
    # too), so it is the base and t=0.0 goes: 0.4 s of CPU over 0.4 s = 100 % (not 80 % over 0.5 s)
    assert 0.5 - 0.1 == sm.CPU_WINDOW == 0.4
    k = 4 * CLK_TCK // 10
    states = run_both([(stat_line(b"w", (k * (t >= 0.5), 0), 0), {0}, t) for t in (0.0, 0.1, 0.5)])
    assert states[-1][3] == 100.0


@needs_native
def test_edge_readings_same_time_tick_jumps_backwards_and_many_inside_the_window():
    run_both(
        [
            (stat_line(b"w", (10, 0), 0), {0}, 5.0),
            (stat_line(b"w", (20, 0), 0), {0}, 5.0),  # no time passed: 0, not a division by zero
            (stat_line(b"w", (10**6, 0), 1), {0, 1}, 5.1),  # a jump: clamped at 100
            (stat_line(b"w", (3, 0), 1), {0, 1}, 5.2),  # backwards: clamped at 0
        ]
    )
    # 60 readings 1 ms apart: the C ring grows past its first 8 entries and keeps every reading of the window
    run_both([(stat_line(b"w", (i // 3, i // 7), i % 2), {0, 1}, 7.0 + i * 0.001) for i in range(60)])
    run_both([(stat_line(b"w", (i, 0), 0), {0}, 9.0 + i * 0.01) for i in range(120)])


@needs_native
@pytest.mark.parametrize(
    "data",
    [
        b"",  # an ended thread's open stat file reads empty
        b"42 (x) S 1 2",  # too few fields
        b"42 x) S" + b" 0" * 40,  # no '('
        b"42 (x S" + b" 0" * 40,  # no ')'
        b"42 )x( S" + b" 0" * 40,  # ')' before '('
        stat_line(b"x", (1, 1), -1),  # a negative CPU
        stat_line(b"x", (1, 1), 0).replace(b" 1 1 ", b" +1 1 ", 1),  # int() would take a sign ...
        stat_line(b"x", (1, 1), 0).replace(b" 1 1 ", b" 1_0 1 ", 1),  # ... or an underscore: not the kernel's
        stat_line(b"x", (10**18, 0), 0),  # 19 digits
        stat_line(b"x" * 257),  # longer than any comm
    ],
)
def test_malformed_or_vanished_is_gone_on_both_paths(data):
    assert run_both([(stat_line(b"ok"), {0}, 1.0), (data, {0}, 2.0)])[-1] == ("gone",)


@needs_native
def test_longest_numbers_and_comm_still_accepted():
    states = run_both([(stat_line(b"y" * 256, (10**18 - 1, 0), 0), {0}, 1.0)])
    assert states[0][1] == "y" * 256


readings_strategy = st.lists(
    st.tuples(
        st.sampled_from([b"w", b"a) b", b"(", b")(", b"x y"]),  # comm
        st.integers(0, 50),  # utime increment
        st.integers(0, 5),  # stime increment
        st.one_of(st.none(), st.integers(0, 300)),  # processor (None: the line has no field 39)
        st.sampled_from([{0}, {1}, {0, 1}, {70}, {64, 65, 66}, set(range(300))]),  # allowed
        st.sampled_from([0.0, 0.001, 0.05, 0.25, 0.4, 0.5, 1.7]),  # time step
    ),
    min_size=1,
    max_size=40,
)


@needs_native
@settings(max_examples=80, deadline=None)
@given(readings_strategy)
def test_random_reading_sequences_agree(seq):
    u = s = 0
    t = 1000.0
    readings = []
    for comm, du, ds, cpu, allowed, dt in seq:
        u, s, t = u + du, s + ds, t + dt
        readings.append((stat_line(comm, (u, s), cpu), allowed, t))
    run_both(readings)


# -- real threads ---------------------------------------------------------------------------------------------------
def _stable(sample, tids):
    """ThreadSamples of ``tids`` as dicts (all fields): threads blocked the whole time read the same on both."""
    return {t.tid: t.to_dict() for w in sample.workers for t in w.threads if t.tid in tids}


@needs_native
def test_own_threads_rebound_and_vanishing_same_on_both_paths():
    cpus = sorted(os.sched_getaffinity(0))
    helpers = [tls.Helper() for _ in range(4)]
    tids = {h.tid for h in helpers}
    py = Sampler([tls.FakeProc()], interval=1.0, native=False)
    c = Sampler([tls.FakeProc()], interval=1.0, native=True)
    try:
        for rnd in range(3):
            for i, h in enumerate(helpers):
                h.do("affinity", {cpus[(i + rnd) % len(cpus)]} if (i + rnd) % 2 else set(cpus))
            a, b = py.sample_once(), c.sample_once()
            assert _stable(a, tids) == _stable(b, tids)
            for h in helpers:  # and what /proc says
                t = tls.thread_of(b, h.tid)
                assert t.allowed == C(os.sched_getaffinity(h.tid)) and t.cpu == tls.proc_cpu(h.tid)
            # every thread of the process, once, on both
            assert sorted(t.tid for t in a.workers[0].threads) == sorted(t.tid for t in b.workers[0].threads)
        gone = helpers.pop()
        gone.do("exit")
        a, b = py.sample_once(), c.sample_once()
        assert tls.thread_of(a, gone.tid) is None and tls.thread_of(b, gone.tid) is None
        assert _stable(a, tids) == _stable(b, tids)
    finally:
        for h in helpers:
            h.do("exit")
        py.close()
        c.close()


@needs_native
def test_fd_cache_limit_on_the_compiled_path(monkeypatch):
    # beyond FD_CACHE_MAX watched threads, the rest are opened/read/closed each sample: same values, no more fds
    monkeypatch.setattr(sm, "FD_CACHE_MAX", 2)
    helpers = [tls.Helper() for _ in range(4)]
    fds_before = len(os.listdir("/proc/self/fd"))
    c = Sampler([tls.FakeProc()], interval=1.0, native=True)
    py = Sampler([tls.FakeProc()], interval=1.0, native=False)
    try:
        for _ in range(2):
            a, b = py.sample_once(), c.sample_once()
            tids = {h.tid for h in helpers}
            assert _stable(a, tids) == _stable(b, tids) and len(_stable(b, tids)) == 4
        # per sampler: /proc/stat, the task directory and 2 cached stat files
        assert len(os.listdir("/proc/self/fd")) <= fds_before + 2 * 4
    finally:
        for h in helpers:
            h.do("exit")
        c.close()
        py.close()
    assert len(os.listdir("/proc/self/fd")) <= fds_before


@needs_native
def test_stopped_kernel_workers_read_identically(tmp_path):
    from ompviz.live.build import kernel_binary
    from ompviz.plan.model import ThreadPlacement, Worker

    cpus = launcher.own_affinity()
    tp = tuple(ThreadPlacement(i, None, cpus) for i in range(2))
    env = (("OMP_PLACES", cpus.to_braces()), ("OMP_PROC_BIND", "false"), ("OMP_NUM_THREADS", "2"))
    workers = [Worker(r, cpus, (cpus,), env, 2, tp, tp) for r in range(2)]
    run_id = uuid.uuid4().hex
    argv = [str(kernel_binary()), "0", "0.1"]
    procs = [launcher.spawn_worker(w, argv, launcher.worker_env(w, world_size=2, run_id=run_id), cpus) for w in workers]
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(len(p.output.snapshot().kernel_threads) == 2 for p in procs):
            time.sleep(0.05)
        for p in procs:
            os.killpg(p.pid, signal.SIGSTOP)  # nothing moves: both samplers read the same /proc state
        time.sleep(0.05)
        first = min(int(t) for t in os.listdir(f"/proc/{procs[0].pid}/task"))
        os.sched_setaffinity(first, {min(cpus)})  # a rebound thread (the test's doing, on its own program)
        py = Sampler(procs, interval=1.0, native=False, rate_max_age=1e9)
        c = Sampler(procs, interval=1.0, native=True, rate_max_age=1e9)
        try:
            for _ in range(3):
                a, b = py.sample_once().to_dict(), c.sample_once().to_dict()
                assert a["workers"] == b["workers"]
                time.sleep(0.25)
            ths = [t for w in b["workers"] for t in w["threads"]]
            assert sorted(t["omp_thread"] for t in ths if t["omp_thread"] is not None) == [0, 0, 1, 1]
            assert all(t["cpu_percent"] == 0.0 for t in ths)  # stopped since before the first sample
            rebound = next(t for t in ths if t["tid"] == first)
            assert rebound["allowed"] == str(min(cpus))
        finally:
            py.close()
            c.close()
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGCONT)
        launcher.stop_workers(procs, grace=1.0)


# -- /proc/stat -----------------------------------------------------------------------------------------------------
PROC_STAT = (
    b"cpu  100 0 50 1000 7 0 3 0 0 0\n"
    b"cpu0 40 1 20 500 3 0 1 0 0 0\n"
    b"cpu1 60\n"  # short line: missing values are 0
    b"cpu3 1 2 3 4 5 6 7 8 9 10 11\n"  # more than 8 values: guest ones ignored
    b"cpux 1 2\n"  # not a CPU id
    b"cpu5 1 -2 3\n"  # not the kernel's numbers
    b"cpu6 1 +2 3\n"
    b"cpu1234567890 1 2 3\n"  # not a CPU id: 10 digits
    b"intr 12345 1 2 3\n"
    b"cpu9 1 1 1 1\n"  # after intr: not read
    b"ctxt 1\n"
)


@needs_native
def test_proc_stat_parse_in_c_matches_python(tmp_path):
    f = tmp_path / "stat"
    f.write_bytes(PROC_STAT)
    fd = os.open(f, os.O_RDONLY)
    try:
        ct = sm._CpuTimes(NAT)
        want = sm.parse_proc_stat(PROC_STAT)
        # by hand: cpu0 total 40+1+20+500+3+0+1+0 = 565, busy 565-500-3 = 62; cpu1 60/60; cpu3 total 36, busy 27
        assert want == {0: (62, 565), 1: (60, 60), 3: (27, 36)}
        assert ct.read(fd) == want
        ct._size(16, 1)  # too small a buffer and too few CPU slots: it grows and retries
        assert ct.read(fd) == want
        big = b"cpu  1\n" + b"".join(b"cpu%d %d 0 0 %d\n" % (i, i, 2 * i) for i in range(3000)) + b"intr 0\n"
        f.write_bytes(big)
        assert ct.read(fd) == sm.parse_proc_stat(big)
        assert ct.read(-1) == {}  # unreadable: no CPUs, as read_cpu_times on OSError
    finally:
        os.close(fd)


# -- the existing sampler tests, once more on the pure-Python path --------------------------------------------------
SAMPLER_TESTS = [f for name, f in inspect.getmembers(tls, inspect.isfunction) if name.startswith("test_")]


@pytest.mark.parametrize("test", SAMPLER_TESTS, ids=lambda f: f.__name__)
def test_sampler_tests_on_the_python_path(test, monkeypatch):
    marks = getattr(test, "pytestmark", [])
    for m in marks:
        if m.name == "skipif" and m.args and m.args[0]:
            pytest.skip(m.kwargs.get("reason", ""))
    monkeypatch.setattr(sm, "_native", lambda: None)
    test()
