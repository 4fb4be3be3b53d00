"""The compiled sampler skips WorkerProcess.status() (a waitid syscall) while its scan has just counted two or more
threads in the worker's /proc/PID/task; a worker that exits or is killed must still be reported with its exit code
or signal in the very next sample, as when status() was asked every time. Also: the fast snapshot constructors
build the same objects as the dataclasses' own __init__.

Expected values come from the kernel's rules, checked here independently of the sampler: waitid() reports a process
only once its thread group is empty (a zombie leader alone: /proc/PID/task holds one entry, link count 2 + 1), and
the exit code / signal are what the test's own program does or what the test sends it.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from dataclasses import fields

import pytest

from ompviz.cpuset import CpuSet
from ompviz.live import launcher
from ompviz.live import sampler as sm
from ompviz.live.sampler import Sample, Sampler, ThreadSample, WorkerSample
from ompviz.plan.model import ThreadPlacement, Worker

NATIVE = [False] + ([True] if sm._native() is not None else [])

# A worker with `threads` threads in all (the main one + helpers blocked in sleep) that exits with code 3 as soon as
# the file given as argv[1] exists.
PROGRAM = """
import os, sys, threading, time
for _ in range(int(sys.argv[2]) - 1):
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
print("ready", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.005)
os._exit(3)
"""


def _worker() -> Worker:
    cpus = launcher.own_affinity()
    tp = (ThreadPlacement(0, None, cpus),)
    env = (("OMP_PLACES", cpus.to_braces()), ("OMP_PROC_BIND", "false"), ("OMP_NUM_THREADS", "1"))
    return Worker(0, cpus, (cpus,), env, 1, tp, tp)


def _spawn(flag, threads: int) -> launcher.WorkerProcess:
    w = _worker()
    env = launcher.worker_env(w, world_size=1, run_id=uuid.uuid4().hex)
    p = launcher.spawn_worker(w, [sys.executable, "-c", PROGRAM, str(flag), str(threads)], env, None)
    deadline = time.monotonic() + 10
    while _task_count(p.pid) != threads:  # every thread started
        assert time.monotonic() < deadline, "worker did not start its threads"
        time.sleep(0.01)
    return p


def _task_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return -1


def _wait_waitable(pid: int) -> None:
    """Until waitid would report the exit (WNOWAIT: the zombie stays for the sampler and stop_workers)."""
    deadline = time.monotonic() + 10
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        assert time.monotonic() < deadline, "worker did not exit"
        time.sleep(0.005)


def _count_status_calls(p: launcher.WorkerProcess) -> list[int]:
    calls = [0]
    real = p.status

    def status():
        calls[0] += 1
        return real()

    p.status = status  # type: ignore[method-assign]
    return calls


@pytest.mark.parametrize("native", NATIVE)
@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("how", ["exit", "kill"])
def test_an_ending_worker_is_reported_in_the_next_sample(tmp_path, native, threads, how):
    flag = tmp_path / "go"
    p = _spawn(flag, threads)
    calls = _count_status_calls(p)
    s = Sampler([p], interval=1.0, native=native)
    try:
        for _ in range(3):
            w = s.sample_once().workers[0]
            assert w.alive and w.exit_code is None and w.exit_signal is None and len(w.threads) == threads
        # the compiled path asks status() only when its scan did not count two or more threads (it lists a new
        # worker before the first count, so never here); one thread alone could be a zombie leader: asked every
        # time. The Python path always asks.
        assert calls[0] == (0 if native and threads >= 2 else 3)
        if how == "exit":
            flag.touch()
        else:
            os.kill(p.pid, signal.SIGKILL)
        _wait_waitable(p.pid)
        # the kernel's side of the rule: a zombie's task directory holds the leader alone
        fd = os.open(f"/proc/{p.pid}/task", os.O_RDONLY | os.O_DIRECTORY)
        try:
            assert os.fstat(fd).st_nlink - 2 == 1
        finally:
            os.close(fd)
        w = s.sample_once().workers[0]
        assert not w.alive and w.threads == () and not w.stopped
        assert (w.exit_code, w.exit_signal) == ((3, None) if how == "exit" else (None, signal.SIGKILL))
        w2 = s.sample_once().workers[0]  # and stays so
        assert (w2.alive, w2.exit_code, w2.exit_signal) == (w.alive, w.exit_code, w.exit_signal)
    finally:
        s.stop()
        s.close()
        launcher.stop_workers([p], grace=1.0)


@pytest.mark.parametrize("native", NATIVE)
def test_a_reaped_worker_is_reported_by_status(native, tmp_path):
    # stop_workers reaps: /proc/PID is gone (the open task directory then counts no thread) and status() has it
    p = _spawn(tmp_path / "never", 3)
    s = Sampler([p], interval=1.0, native=native)
    try:
        assert s.sample_once().workers[0].alive
        launcher.stop_workers([p], grace=1.0)
        w = s.sample_once().workers[0]
        assert not w.alive and w.stopped and w.exit_signal == signal.SIGTERM and w.threads == ()
    finally:
        s.close()


def _distinct_values(cls) -> list:
    """One distinct object per field, in field order."""
    return [object() for _ in fields(cls)]


@pytest.mark.parametrize(
    "cls, fast",
    [(ThreadSample, sm._thread_sample), (WorkerSample, sm._worker_sample), (Sample, sm._sample_obj)],
    ids=["ThreadSample", "WorkerSample", "Sample"],
)
def test_fast_constructors_build_what_the_dataclass_builds(cls, fast):
    vals = _distinct_values(cls)
    a, b = fast(*vals), cls(*vals)
    assert type(a) is cls and a == b
    for f, v in zip(fields(cls), vals, strict=True):  # every field set, each to its own argument
        assert getattr(a, f.name) is v


def test_fast_constructed_samples_equal_their_round_trip():
    ts = sm._thread_sample(7, "w", 0, 1, 12.5, CpuSet([0, 1]), 2, CpuSet([1]), CpuSet([0, 1]), 0, 3.0)
    ws = sm._worker_sample(0, 42, True, None, None, False, 3.0, 1, (ts,), ((0, CpuSet([0, 1])),))
    s = sm._sample_obj(5, 1.25, (ws,), (50.0, None))
    assert Sample.from_dict(s.to_dict()) == s


def test_output_snapshot_is_complete_and_follows_every_kind_of_line():
    # OutputState.snapshot builds OutputSnapshot without its __init__ and keeps unchanged parts: after each line,
    # every field is set, the object equals the dataclass-built one, and each part is what the lines so far say
    o = launcher.OutputState(tail=2)
    steps = [
        ("user 1", "tail", ("user 1",)),
        ("ompviz-thread thread=1 tid=6 team=2 place=0", "kernel_threads", ((1, 6, 2, 0),)),
        ("ompviz-rates ips=1.5,2.5", "rates", ((0, 1.5), (1, 2.5))),
        ("user 2", "tail", ("user 1", "user 2")),
        ("user 3", "tail", ("user 2", "user 3")),  # the oldest leaves (tail=2)
        ("ompviz-thread thread=0 tid=5 team=2 place=-1", "kernel_threads", ((1, 6, 2, 0), (0, 5, 2, None))),
        ("ompviz-affinity pid=9 tid=5 thread=0 team=2 level=1 aff={0,1}", "affinity", ((9, 5, 0, CpuSet([0, 1])),)),
        ("ompviz-thread thread=1 tid=7 team=2 place=1", "kernel_threads", ((1, 7, 2, 1), (0, 5, 2, None))),
        ("ompviz-rates ips=4", "rates", ((0, 4.0),)),
    ]
    for line, part, want in steps:
        o.feed(line)
        snap = o.snapshot()
        assert snap is o.snapshot()  # the same object while nothing changes
        vals = {f.name: getattr(snap, f.name) for f in fields(launcher.OutputSnapshot)}
        assert type(snap) is launcher.OutputSnapshot and snap == launcher.OutputSnapshot(**vals)
        got = {
            "tail": snap.tail,
            "kernel_threads": tuple((k.thread, k.tid, k.team, k.place) for k in snap.kernel_threads),
            "rates": tuple((r.thread, r.ips) for r in snap.rates),
            "affinity": tuple((a.pid, a.tid, a.thread, a.affinity) for a in snap.affinity),
        }[part]
        assert got == want, line
    assert snap.tail == ("user 2", "user 3") and len(snap.affinity) == 1


def test_cpu_util_edges_by_hand():
    before = {0: (10, 100), 1: (50, 100), 3: (0, 0), 5: (0, 0)}
    after = {0: (20, 100), 1: (40, 110), 2: (5, 10), 3: (30, 20), 5: (1, 4)}
    # 0: no time passed -> 0.0; 1: busy went back (-10 of +10) -> clamped to 0.0; 2: no earlier reading -> None;
    # 3: +30 busy of +20 total -> clamped to 100.0; 4: absent -> None; 5: +1 of +4 -> 25.0
    got = sm.cpu_util(before, after)
    assert got == (0.0, 0.0, None, 100.0, None, 25.0)
    assert [type(x) for x in got] == [float, float, type(None), float, type(None), float]
    assert sm.cpu_util(before, {}) == ()


def test_sampler_view_has_current_identification_lines_and_the_latest_report():
    # after every line: the view's affinity and kernel_threads are those of a full snapshot taken now, and its
    # report is that snapshot's rates as (ips per thread, time); a report alone builds no new snapshot
    o = launcher.OutputState()
    lines = [
        "ompviz-rates ips=1,2",
        "ompviz-thread thread=0 tid=5 team=2 place=0",
        "ompviz-rates ips=3,4",
        "ompviz-affinity pid=9 tid=6 thread=1 team=2 level=1 aff={1}",
        "user line",
        "ompviz-thread thread=1 tid=6 team=2 place=1",
        "ompviz-rates ips=5",
    ]
    for line in lines:
        o.feed(line)
        before = o._last
        view, (ips, t) = o.sampler_view()
        if before is not None and line.startswith(("ompviz-rates", "user")):
            assert view is before  # nothing the identification reads changed
        full = o.snapshot()
        assert (view.affinity, view.kernel_threads) == (full.affinity, full.kernel_threads), line
        assert tuple((r.thread, r.ips, r.time) for r in full.rates) == tuple((i, v, t) for i, v in enumerate(ips))
    assert [k.tid for k in view.kernel_threads] == [5, 6] and ips == (5.0,)
