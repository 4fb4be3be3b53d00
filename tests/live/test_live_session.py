"""LiveSession with real workers (the built-in kernel, real libgomp / LLVM libomp) and hand-built plans.

Expected placements are written down by hand from the OpenMP rules (GUIDE.md section 4), not computed by ompviz.
Runs are kept to about a second each (the CI machine has 2 CPUs shared with others).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from ompviz.cpuset import CpuSet
from ompviz.live import LiveSession, verify_run
from ompviz.live.launcher import find_runtime_lib, own_affinity
from ompviz.plan.model import ThreadPlacement, Worker

C = CpuSet
CPUS = sorted(os.sched_getaffinity(0))
pytestmark = pytest.mark.skipif(len(CPUS) < 2, reason="needs at least 2 allowed CPUs")
A, B = (CPUS[0], CPUS[1]) if len(CPUS) >= 2 else (0, 1)


def worker(rank, places, placements, bind="close"):
    """places: list of CPU lists; placements: (thread, place) pairs, the same for both runtimes unless a dict."""
    pl = tuple(C(p) for p in places)

    def tp(pairs):
        return tuple(ThreadPlacement(t, p, pl[p]) for t, p in pairs)

    gnu = tp(placements["gnu"] if isinstance(placements, dict) else placements)
    llvm = tp(placements["llvm"] if isinstance(placements, dict) else placements)
    env = (
        ("OMP_PLACES", ",".join(p.to_braces() for p in pl)),
        ("OMP_PROC_BIND", bind),
        ("OMP_NUM_THREADS", str(len(gnu))),
    )
    return Worker(rank, C.union_all(pl), pl, env, len(gnu), gnu, llvm)


def run_for(session, workers, seconds=1.0, **kw):
    session.start(workers, **kw)
    try:
        time.sleep(seconds)
    finally:
        summary = session.stop()
    return summary


def test_one_rank_two_threads_close_samples_in_order_without_overlap():
    # close, T=2, P=2: thread i -> place i.
    w = worker(0, [[A], [B]], [(0, 0), (1, 1)])
    busy = threading.Lock()
    overlaps, seqs = [], []

    def cb(s):
        if not busy.acquire(blocking=False):
            overlaps.append(s.seq)
            return
        try:
            seqs.append(s.seq)
            time.sleep(0.02)
        finally:
            busy.release()

    session = LiveSession(interval=0.2, kernel_interval=0.1, on_sample=cb)
    summary = run_for(session, [w])
    assert not overlaps
    assert seqs == sorted(seqs) and len(seqs) >= 3
    assert summary.verdict.verified, summary.verdict
    (wv,) = summary.verdict.workers
    assert [(t.omp_thread, t.allowed) for t in wv.threads] == [(0, C([A])), (1, C([B]))]
    assert wv.team_size == 2
    assert summary.mean_throughput()[0] > 0
    last = summary.final[0]
    assert not last.alive and last.stopped and last.exit_signal == signal.SIGTERM


def test_two_ranks_spread_and_worker_killed_mid_run():
    # spread, T=1 over P=2 places: the one thread sits at the first place of its single sub-partition (place 0).
    w0 = worker(0, [[A], [B]], [(0, 0)], bind="spread")
    w1 = worker(1, [[B], [A]], [(0, 0)], bind="spread")
    session = LiveSession(interval=0.2, kernel_interval=0.1)
    session.start([w0, w1])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            s = session.latest
            if s and all(w.threads and w.throughput for w in s.workers):
                break
            time.sleep(0.05)
        victim = session.procs[1].pid
        os.kill(victim, signal.SIGKILL)
        time.sleep(0.6)
        assert session.running
        s = session.latest
        dead = next(w for w in s.workers if w.rank == 1)
        alive = next(w for w in s.workers if w.rank == 0)
        assert not dead.alive and dead.exit_signal == signal.SIGKILL and not dead.stopped
        assert alive.alive and alive.threads
    finally:
        summary = session.stop()
    assert summary.verdict.verified  # rank 1's binding was proven before it died
    ranks = {w.rank: w for w in summary.final}
    assert ranks[1].exit_signal == signal.SIGKILL and not ranks[1].stopped
    assert ranks[0].stopped


def test_reserved_cpu_for_ompviz_children_get_full_set_and_restart():
    # ompviz moves itself onto B while the worker's places are {A},{B}: if the child inherited ompviz's set {B},
    # libgomp would drop place {A} and both threads would land on {B}; the reset gives thread 0 -> {A}, 1 -> {B}.
    home = own_affinity()
    w = worker(0, [[A], [B]], [(0, 0), (1, 1)])
    session = LiveSession(interval=0.2, kernel_interval=0.1)
    session.start([w], reserve=C([B]))
    try:
        assert own_affinity() == C([B])
        time.sleep(0.7)
        first_pid = session.procs[0].pid
        first_id = session.run_id
        session.restart()
        assert session.run_id != first_id
        assert not os.path.exists(f"/proc/{first_pid}") or _zombie_or_gone(first_pid)
        time.sleep(0.7)
    finally:
        summary = session.stop()
    assert own_affinity() == home
    assert summary.verdict.verified, summary.verdict


def _zombie_or_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_llvm_runtime_partition_differs_from_libgomp():
    if find_runtime_lib("llvm") is None:
        pytest.skip("LLVM libomp not found (pip install cmeel-libomp)")
    # close, T=3, P=2 (GUIDE.md section 4): libgomp -> {0,2}{1} (T-r=2 threads one per place, then the r=1 extra
    # from place 0 again); LLVM keeps each place's threads consecutive -> {0,1}{2}.
    w = worker(0, [[A], [B]], {"gnu": [(0, 0), (1, 1), (2, 0)], "llvm": [(0, 0), (1, 0), (2, 1)]})
    summary = run_for(LiveSession(interval=0.2, kernel_interval=0.1, runtime_lib="llvm"), [w])
    assert summary.verdict.verified, summary.verdict
    # the same observation judged by libgomp's rules is a mismatch: the preload really ran LLVM's runtime
    assert not verify_run(summary.samples, [w], "gnu").verified
    (wv,) = summary.verdict.workers
    assert [t.sample.place for t in wv.threads if t.sample] == [0, 0, 1]  # omp_get_place_num() from the kernel


def test_run_shorter_than_the_interval_is_still_seen_alive():
    # interval 5 s, run 0.4 s: no periodic sample happens; stop() must look once more before stopping the workers
    w = worker(0, [[A], [B]], [(0, 0), (1, 1)])
    summary = run_for(LiveSession(interval=5.0), [w], seconds=0.4)
    assert [s.workers[0].alive for s in summary.samples] == [True, False]
    assert summary.verdict.verified, summary.verdict


@pytest.mark.parametrize("bad", [1e-9, 0.01, 0.0499, -1.0, float("nan"), float("inf"), 60.5])
def test_interval_outside_the_allowed_range_is_refused_before_anything_starts(bad):
    from ompviz.errors import OmpvizError

    with pytest.raises(OmpvizError, match=r"must be 0\.05 to 60 seconds"):
        LiveSession(interval=bad)
    session = LiveSession(interval=0.05)  # the bounds themselves are allowed
    assert LiveSession(interval=60.0).interval == 60.0
    w = worker(0, [[A], [B]], [(0, 0), (1, 1)])
    with pytest.raises(OmpvizError, match=r"must be 0\.05 to 60 seconds"):
        session.start([w], interval=bad)
    assert session.procs == [] and not session.running and session.interval == 0.05
