"""A/B comparison (ompviz.live.ab) on hand-built run summaries; expected numbers worked out by hand below."""

from __future__ import annotations

import dataclasses

import pytest

from ompviz.cpuset import CpuSet
from ompviz.live import RunSummary, Sample, ThreadSample, WorkerSample
from ompviz.live.ab import NOISE, alternative_request, compare, not_runnable_here, plan_label, ratio, same_binding
from ompviz.live.verify import verify_run
from ompviz.plan.model import Plan, PlanRequest, PlanWarning, ThreadPlacement, Worker

C = CpuSet


def worker(rank: int, cpu: int) -> Worker:
    place = (C([cpu]),)
    tp = (ThreadPlacement(0, 0, place[0]),)
    env = (("OMP_PLACES", f"{{{cpu}}}"), ("OMP_PROC_BIND", "close"), ("OMP_NUM_THREADS", "1"))
    return Worker(rank, place[0], place, env, 1, tp, tp)


def ws(rank: int, cpu: int, throughput: float | None, allowed: CpuSet | None = None) -> WorkerSample:
    t = ThreadSample(
        tid=100 + rank, name="k", omp_thread=0, cpu=cpu, cpu_percent=99.0, allowed=allowed or C([cpu]),
        migrations=0, seen=C([cpu]), ips=throughput,
    )  # fmt: skip
    return WorkerSample(rank, 1000 + rank, True, throughput=throughput, team_size=1, threads=(t,))


def summary(workers, per_sample) -> RunSummary:
    samples = tuple(Sample(i, 0.5 * (i + 1), tuple(s)) for i, s in enumerate(per_sample))
    return RunSummary(
        run_id="r", runtime_lib="gnu", command=("k",), duration=0.5 * len(samples), samples=samples,
        final=samples[-1].workers, verdict=verify_run(samples, workers, "gnu"),
    )  # fmt: skip


W = [worker(0, 0), worker(1, 1)]


def test_compare_means_totals_ratio_and_winner():
    # A: rank 0 reports 100 then 300 (mean 200), rank 1 reports 50 then 150 (mean 100) -> total 300.
    # B: rank 0 reports None (warm-up, not averaged) then 400 (mean 400), rank 1 200, 200 -> total 600.
    a = summary(W, [[ws(0, 0, 100), ws(1, 1, 50)], [ws(0, 0, 300), ws(1, 1, 150)]])
    b = summary(W, [[ws(0, 0, None), ws(1, 1, 200)], [ws(0, 0, 400), ws(1, 1, 200)]])
    r = compare(a, b, "compact", "spread")
    assert [(x.rank, x.a, x.b) for x in r.rows] == [(0, 200.0, 400.0), (1, 100.0, 200.0)]
    assert [x.ratio for x in r.rows] == [2.0, 2.0]
    assert (r.total_a, r.total_b, r.ratio) == (300.0, 600.0, 2.0)
    assert r.winner == "b"
    assert r.conclusion() == "spread is faster: 2.00× the throughput of compact"
    assert r.a.verified and r.b.verified and r.a.samples == 2


def test_unverified_side_is_said_and_a_wins():
    # B's rank 1 is allowed {0,1} instead of {1}: "wider" -> mismatch; A: 400 vs B: 100 -> A is 4x B.
    a = summary(W, [[ws(0, 0, 200), ws(1, 1, 200)]])
    b = summary(W, [[ws(0, 0, 50), ws(1, 1, 50, allowed=C([0, 1]))]])
    r = compare(a, b)
    assert r.winner == "a" and r.ratio == 0.25
    assert dict(r.b.worker_verdicts) == {0: "ok", 1: "mismatch"} and not r.b.verified
    assert r.conclusion() == "A is faster: 4.00× the throughput of B (binding NOT verified for B)"


@pytest.mark.parametrize(("ta", "tb", "winner"), [(100, 104, "tie"), (100, 96, "tie"), (100, 106, "b"), (100, 94, "a")])
def test_noise_band(ta, tb, winner):
    assert NOISE == 0.05  # 104/100 and 96/100 are inside the band, 106 and 94 outside
    r = compare(summary(W[:1], [[ws(0, 0, ta)]]), summary(W[:1], [[ws(0, 0, tb)]]))
    assert r.winner == winner


def test_nothing_reported_and_missing_rank():
    a = summary(W, [[ws(0, 0, None), ws(1, 1, None)]])
    b = summary(W[:1], [[ws(0, 0, 10)]])
    r = compare(a, b, "A", "B")
    assert r.total_a is None and r.ratio is None and r.winner is None
    assert r.conclusion() == "no throughput reported by A: nothing to compare"
    assert [(x.rank, x.a, x.b, x.ratio) for x in r.rows] == [(0, None, 10.0, None), (1, None, None, None)]
    assert ratio(0.0, 5.0) is None and ratio(2.0, 5.0) == 2.5


def test_alternative_request_and_label():
    assert alternative_request(PlanRequest(strategy="compact")).strategy == "spread"
    assert alternative_request(PlanRequest(strategy="spread")).strategy == "compact"
    assert alternative_request(PlanRequest(strategy="numa", ranks=3)) == PlanRequest(strategy="compact", ranks=3)
    p = Plan(PlanRequest(strategy="spread", bind="close", smt="one"), {}, tuple(W), ())
    assert plan_label(p) == "spread/close/smt-one"


def test_not_runnable_here():
    p = Plan(PlanRequest(), {}, tuple(W), ())
    assert not_runnable_here(p, C([0, 1])) is None
    msg = not_runnable_here(p, C([0]))
    assert msg is not None and msg.startswith("the plan uses CPUs 1 that this process cannot use here (allowed: 0)")
    bad = dataclasses.replace(p, warnings=(PlanWarning("x", "error", "too many ranks"),))
    assert not_runnable_here(bad, C([0, 1])) == "the plan cannot run: too many ranks"
    assert not_runnable_here(dataclasses.replace(p, workers=()), C([0, 1])) == "the plan has no workers to launch"


def test_same_binding_makes_the_difference_noise():
    # compact and spread with 1 rank x 2 threads on a 2-CPU machine give the same worker: a 1.27x gap is noise.
    pa = Plan(PlanRequest(strategy="compact"), {}, tuple(W), ())
    pb = Plan(PlanRequest(strategy="spread"), {}, tuple(W), ())
    other = Plan(PlanRequest(strategy="spread"), {}, (worker(0, 1), worker(1, 0)), ())
    assert same_binding(pa, pb) and not same_binding(pa, other)
    a = summary(W[:1], [[ws(0, 0, 100)]])
    b = summary(W[:1], [[ws(0, 0, 127)]])
    r = compare(a, b, "A", "B", same=True)
    assert r.ratio == 1.27
    assert (
        r.conclusion()
        == "A and B bind every worker identically on this machine: the B/A = 1.27× difference is run-to-run noise"
    )
