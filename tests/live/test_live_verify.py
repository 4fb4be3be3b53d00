"""Verification verdicts on hand-built plans and recorded samples (pure: no processes)."""

from __future__ import annotations

import json

from ompviz.cpuset import CpuSet
from ompviz.live.sampler import Sample, ThreadSample, WorkerSample
from ompviz.live.session import samples_from_json, samples_to_json
from ompviz.live.verify import judge, plan_runtime, steady_samples, verify_run, verify_worker
from ompviz.plan.model import ThreadPlacement, Worker

C = CpuSet


def worker(rank=0, places=((0,), (1,)), gnu=None, llvm=None, nt=None):
    pl = tuple(C(p) for p in places)
    nt = nt or len(pl)
    default = tuple(ThreadPlacement(i, i % len(pl), pl[i % len(pl)]) for i in range(nt))
    env = (
        ("OMP_PLACES", ",".join(p.to_braces() for p in pl)),
        ("OMP_PROC_BIND", "close"),
        ("OMP_NUM_THREADS", str(nt)),
    )
    return Worker(rank, C.union_all(pl), pl, env, nt, gnu or default, llvm or default)


def ts(tid, omp, allowed, seen=None, cpu=None):
    allowed = C(allowed)
    seen = C(seen) if seen is not None else C([allowed.first])
    return ThreadSample(tid, "k", omp, cpu if cpu is not None else seen.first, 50.0, allowed, 0, seen)


def test_thread_verdicts():
    w = worker(places=((0,), (1,), (2, 3)), nt=3)
    # planned: thread 0 -> {0}, 1 -> {1}, 2 -> {2,3}
    assert judge(0, 0, C([0]), C([0]), w, "gnu").verdict == "ok"
    v = judge(0, 1, C([0, 1, 2, 3]), C([1]), w, "gnu")
    assert v.verdict == "wider" and "did not bind" in v.detail
    assert judge(0, 1, C([0, 1, 2, 3]), C([1, 3]), w, "gnu").verdict == "outside"
    v = judge(0, 1, C([2, 3]), C([2]), w, "gnu")
    assert v.verdict == "different" and "place 2" in v.detail
    assert judge(0, 2, C([2]), C([2]), w, "gnu").verdict == "different"  # narrower: part of the place dropped
    assert judge(0, 5, C([0]), C([0]), w, "gnu").verdict == "unplanned"
    assert judge(0, None, C([0, 1]), C([0]), w, "gnu").verdict == "unknown"


def test_runtime_specific_prediction():
    # The same observation is ok under one runtime's prediction and different under the other.
    pl = (C([0]), C([1]))
    gnu = (ThreadPlacement(0, 0, pl[0]), ThreadPlacement(1, 0, pl[0]), ThreadPlacement(2, 1, pl[1]))
    llvm = (ThreadPlacement(0, 0, pl[0]), ThreadPlacement(1, 1, pl[1]), ThreadPlacement(2, 1, pl[1]))
    w = worker(places=((0,), (1,)), gnu=gnu, llvm=llvm, nt=3)
    assert judge(0, 1, C([0]), C([0]), w, "gnu").verdict == "ok"
    assert judge(0, 1, C([0]), C([0]), w, plan_runtime("llvm")).verdict == "different"
    assert plan_runtime("intel") == "llvm"


def test_unbound_plan():
    pl = (C([0, 1]),)
    tp = (ThreadPlacement(0, None, C([0, 1])), ThreadPlacement(1, None, C([0, 1])))
    w = Worker(0, C([0, 1]), pl, (), 2, tp, tp)
    assert judge(0, 0, C([0, 1]), C([0, 1]), w, "gnu").verdict == "ok"
    assert judge(0, 0, C([1]), C([1]), w, "gnu").verdict == "different"


def test_worker_verdicts():
    w = worker()
    ok = WorkerSample(0, 10, True, team_size=2, threads=(ts(10, 0, [0]), ts(11, 1, [1])))
    assert verify_worker(ok, w, "gnu").verdict == "ok"
    bad = WorkerSample(0, 10, True, team_size=2, threads=(ts(10, 0, [0]), ts(11, 1, [0, 1], seen=[1])))
    vw = verify_worker(bad, w, "gnu")
    assert vw.verdict == "mismatch" and [t.verdict for t in vw.threads] == ["ok", "wider"]
    team = WorkerSample(0, 10, True, team_size=1, threads=(ts(10, 0, [0]),))
    vw = verify_worker(team, w, "gnu")
    assert vw.verdict == "mismatch"
    assert any("OMP_NUM_THREADS=2" in p for p in vw.problems) and any("1 not seen" in p for p in vw.problems)
    # an extra non-OpenMP thread (e.g. a Python helper thread) does not spoil the verdict
    extra = WorkerSample(0, 10, True, team_size=2, threads=(ts(10, 0, [0]), ts(11, 1, [1]), ts(12, None, [0, 1])))
    assert verify_worker(extra, w, "gnu").verdict == "ok"
    # a thread known only from the runtime's report (libgomp, tid unknown) is judged on the reported affinity
    rep = WorkerSample(0, 10, True, team_size=2, threads=(ts(10, 0, [0]),), omp_reports=((0, C([0])), (1, C([1]))))
    assert verify_worker(rep, w, "gnu").verdict == "ok"
    dead = WorkerSample(0, 10, False, exit_signal=9)
    vw = verify_worker(dead, w, "gnu")
    assert vw.verdict == "unverified" and "SIGKILL" in vw.problems[0]
    stopped = WorkerSample(0, 10, False, exit_signal=15, stopped=True)
    assert "stopped by ompviz" in verify_worker(stopped, w, "gnu").problems[0]


def test_run_uses_each_workers_steady_state():
    w0, w1 = worker(0, ((0,),)), worker(1, ((1,),))
    s0 = Sample(
        0,
        0.5,
        (
            WorkerSample(0, 10, True, team_size=1, threads=(ts(10, 0, [0]),)),
            WorkerSample(1, 20, True, team_size=1, threads=(ts(20, 0, [1]),)),
        ),
    )
    # rank 1 killed mid-run: its last alive sample still proves its binding; rank 0 goes on
    s1 = Sample(
        1,
        1.0,
        (WorkerSample(0, 10, True, team_size=1, threads=(ts(10, 0, [0]),)), WorkerSample(1, 20, False, exit_signal=9)),
    )
    steady = steady_samples([s0, s1])
    assert steady[1].alive and steady[0] is s1.workers[0]
    rv = verify_run([s0, s1], [w0, w1], "gnu")
    assert rv.verified
    assert not verify_run([], [w0], "gnu").verified


def test_samples_json_round_trip():
    s = Sample(
        3,
        1.5,
        (
            WorkerSample(
                0,
                10,
                True,
                team_size=2,
                throughput=12.5,
                threads=(ThreadSample(10, "ompviz kernel", 0, 1, 99.5, C([0, 1]), 2, C([0, 1]), C([0, 1]), 0, 6.25),),
                omp_reports=((0, C([0, 1])),),
            ),
            WorkerSample(1, 11, False, exit_code=None, exit_signal=9),
        ),
        (50.0, None, 12.5),
    )
    text = samples_to_json([s], run_id="x")
    assert json.loads(text)["run_id"] == "x"
    assert samples_from_json(text) == (s,)


def test_threads_known_only_from_the_runtime_report_are_labelled_as_such():
    # planned (close, T=P=2): thread 0 -> {0}, thread 1 -> {1}
    w = worker()
    # the program ended before any sample: no /proc thread, only the runtime's %A per thread number
    gone = WorkerSample(0, 10, False, exit_code=0, team_size=2, omp_reports=((0, C([0])), (1, C([1]))))
    vw = verify_worker(gone, w, "gnu")
    assert vw.verdict == "ok" and vw.source == "report"
    assert vw.note == (
        "verified from the runtime's OMP_DISPLAY_AFFINITY report; the threads exited before they could be sampled"
    )
    assert [(t.omp_thread, t.tid, t.source) for t in vw.threads] == [(0, None, "report"), (1, None, "report")]
    # the same evidence showing thread 1 on {0}: judged (not verified) from the report, a mismatch
    wrong = WorkerSample(0, 10, False, exit_code=0, team_size=2, omp_reports=((0, C([0])), (1, C([0]))))
    vw = verify_worker(wrong, w, "gnu")
    assert vw.verdict == "mismatch" and vw.note.startswith("judged from the runtime's OMP_DISPLAY_AFFINITY report")
    # /proc stays primary: a thread seen there is judged on /proc even when its report says otherwise
    both = WorkerSample(0, 10, True, team_size=2, threads=(ts(10, 0, [0]),), omp_reports=((0, C([1])), (1, C([1]))))
    vw = verify_worker(both, w, "gnu")
    assert vw.verdict == "ok" and vw.source == "proc+report"
    assert [(t.omp_thread, t.source) for t in vw.threads] == [(0, "proc"), (1, "report")]
    assert vw.note.startswith("thread 1 verified from the runtime's OMP_DISPLAY_AFFINITY report")
    ok = WorkerSample(0, 10, True, team_size=2, threads=(ts(10, 0, [0]), ts(11, 1, [1])))
    assert verify_worker(ok, w, "gnu").note == "" and verify_worker(ok, w, "gnu").source == "proc"


def test_reports_printed_after_the_last_live_sample_still_count():
    # Sampled once alive before its first parallel region (one thread, not identified, no report yet), then the
    # region ran and the program exited: the reports in the final sample are the evidence (QA: "no OpenMP thread
    # seen" although the program printed its OMP_DISPLAY_AFFINITY lines).
    w = worker()
    s0 = Sample(0, 0.5, (WorkerSample(0, 10, True, threads=(ts(10, None, [0]),)),))
    s1 = Sample(1, 0.9, (WorkerSample(0, 10, False, exit_code=0, team_size=2, omp_reports=((0, C([0])), (1, C([1])))),))
    steady = steady_samples([s0, s1])[0]
    assert steady.alive and steady.threads == s0.workers[0].threads  # /proc evidence kept
    assert steady.omp_reports == s1.workers[0].omp_reports and steady.team_size == 2
    (vw,) = verify_run([s0, s1], [w], "gnu").workers
    assert vw.verdict == "ok" and vw.source == "report"
    assert "no sampled thread could be identified as an OpenMP thread" in vw.note
