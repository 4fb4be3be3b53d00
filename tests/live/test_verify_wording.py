"""Verification problems and notes count in words: "1 thread not bound", "OpenMP threads 1, 2 not seen", never
"thread(s)". Hand-built workers and samples (same shapes as test_live_verify.py), counts known by construction."""

from __future__ import annotations

from ompviz.cpuset import CpuSet
from ompviz.live.sampler import ThreadSample, WorkerSample
from ompviz.live.verify import verify_worker
from ompviz.plan.model import ThreadPlacement, Worker

C = CpuSet


def _worker(n: int) -> Worker:
    """n threads, thread i on place {i}."""
    pl = tuple(C([i]) for i in range(n))
    env = (
        ("OMP_PLACES", ",".join(p.to_braces() for p in pl)),
        ("OMP_PROC_BIND", "close"),
        ("OMP_NUM_THREADS", str(n)),
    )
    tp = tuple(ThreadPlacement(i, i, pl[i]) for i in range(n))
    return Worker(0, C.union_all(pl), pl, env, n, tp, tp)


def _ts(tid: int, omp: int, allowed: list[int]) -> ThreadSample:
    a = C(allowed)
    return ThreadSample(tid, "k", omp, a.first, 50.0, a, 0, C([a.first]))


def _no_hedge(texts) -> None:
    assert not any("(s)" in t for t in texts), texts


def test_one_thread_words():
    w = _worker(2)
    # thread 1 wider than planned ({0,1} instead of {1}); team of 1 reported instead of 2; nothing missing
    vw = verify_worker(WorkerSample(0, 10, True, team_size=1, threads=(_ts(10, 0, [0]), _ts(11, 1, [0, 1]))), w, "gnu")
    assert "1 thread not bound as planned" in vw.problems
    assert "team of 1 thread, OMP_NUM_THREADS=2" in vw.problems
    _no_hedge(vw.problems)
    # only thread 0 seen: thread 1 is the one missing
    vw = verify_worker(WorkerSample(0, 10, True, team_size=2, threads=(_ts(10, 0, [0]),)), w, "gnu")
    assert "OpenMP thread 1 not seen" in vw.problems
    _no_hedge(vw.problems)


def test_several_threads_words():
    w = _worker(3)
    # threads 1 and 2 missing; a team of 3
    vw = verify_worker(WorkerSample(0, 10, True, team_size=3, threads=(_ts(10, 0, [0]),)), w, "gnu")
    assert "OpenMP threads 1, 2 not seen" in vw.problems
    # threads 1 and 2 both on the wrong CPU, team of 2
    threads = (_ts(10, 0, [0]), _ts(11, 1, [0]), _ts(12, 2, [0]))
    vw = verify_worker(WorkerSample(0, 10, True, team_size=2, threads=threads), w, "gnu")
    assert "2 threads not bound as planned" in vw.problems and "team of 2 threads, OMP_NUM_THREADS=3" in vw.problems
    _no_hedge(vw.problems)


def test_report_note_words():
    w = _worker(3)
    # thread 0 seen in /proc; threads 1 (and 2) known only from the runtime's OMP_DISPLAY_AFFINITY report
    one = WorkerSample(0, 10, True, team_size=3, threads=(_ts(10, 0, [0]), _ts(12, 2, [2])), omp_reports=((1, C([1])),))
    vw = verify_worker(one, w, "gnu")
    assert vw.note.startswith("thread 1 verified from the runtime's OMP_DISPLAY_AFFINITY report"), vw.note
    two = WorkerSample(0, 10, True, team_size=3, threads=(_ts(10, 0, [0]),), omp_reports=((1, C([1])), (2, C([2]))))
    vw = verify_worker(two, w, "gnu")
    assert vw.note.startswith("threads 1, 2 verified from the runtime's OMP_DISPLAY_AFFINITY report"), vw.note
