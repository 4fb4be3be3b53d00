"""A/B comparison of two plans running the same workload, and the preflight check of a live run (pure: no
Textual, no processes).

The live view runs plan A for N seconds, then plan B for N seconds (one after the other, never together: they
would compete for the same CPUs), and hands both :class:`~ompviz.live.session.RunSummary` objects to
:func:`compare`. Throughput is the workload's own report (the built-in kernel's iterations/s, summed over a
worker's threads), averaged over the run's samples by ``RunSummary.mean_throughput``.

Verdicts travel with the numbers: a plan that is faster but not bound as planned answers a different question, so
each side says whether its binding was verified.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from ompviz.cpuset import CpuSet
from ompviz.live.session import RunSummary
from ompviz.plan.model import Plan, PlanRequest

# One run per side on a machine shared with other work: differences this small are not evidence of a winner.
NOISE = 0.05


@dataclass(frozen=True, slots=True)
class ABRow:
    rank: int
    a: float | None  # mean iterations/s of this rank under plan A (None: it reported none / did not exist)
    b: float | None

    @property
    def ratio(self) -> float | None:
        """B / A (above 1: B is faster)."""
        return ratio(self.a, self.b)


@dataclass(frozen=True, slots=True)
class ABSide:
    label: str
    duration: float
    verified: bool
    worker_verdicts: tuple[tuple[int, str], ...]  # (rank, ok | mismatch | unverified)
    samples: int


@dataclass(frozen=True, slots=True)
class ABResult:
    a: ABSide
    b: ABSide
    rows: tuple[ABRow, ...]
    total_a: float | None
    total_b: float | None
    same_binding: bool = False  # both plans bind every worker identically: any difference is noise

    @property
    def ratio(self) -> float | None:
        return ratio(self.total_a, self.total_b)

    @property
    def winner(self) -> str | None:
        """ "a", "b", "tie" (within :data:`NOISE`), or None when a side has no throughput to compare."""
        r = self.ratio
        if r is None:
            return None
        if abs(r - 1.0) <= NOISE:
            return "tie"
        return "b" if r > 1.0 else "a"

    def conclusion(self) -> str:
        """One line answering "which plan is faster here", with its caveats."""
        r = self.ratio
        w = self.winner
        if r is not None and self.same_binding:
            return (
                f"{self.a.label} and {self.b.label} bind every worker identically on this machine: the B/A = {r:.2f}× "
                "difference is run-to-run noise"
            )
        if r is None:
            missing = [s.label for s, t in ((self.a, self.total_a), (self.b, self.total_b)) if t is None]
            return f"no throughput reported by {' and '.join(missing)}: nothing to compare"
        if w == "tie":
            text = f"{self.a.label} and {self.b.label} are within {NOISE:.0%} of each other (B/A = {r:.2f}×)"
        elif w == "b":
            text = f"{self.b.label} is faster: {r:.2f}× the throughput of {self.a.label}"
        else:
            text = f"{self.a.label} is faster: {1 / r:.2f}× the throughput of {self.b.label}"
        unverified = [s.label for s in (self.a, self.b) if not s.verified]
        if unverified:
            text += f" (binding NOT verified for {' and '.join(unverified)})"
        return text


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or a <= 0:
        return None
    return b / a


def _total(values: Iterable[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return sum(got) if got else None


def side(summary: RunSummary, label: str) -> ABSide:
    return ABSide(
        label=label,
        duration=summary.duration,
        verified=summary.verdict.verified,
        worker_verdicts=tuple((w.rank, w.verdict) for w in summary.verdict.workers),
        samples=len(summary.samples),
    )


def compare(a: RunSummary, b: RunSummary, label_a: str = "A", label_b: str = "B", *, same: bool = False) -> ABResult:
    """Per-rank and total mean throughput of two runs, side by side (ranks present in either run). ``same``: the
    two plans bind identically (see :func:`same_binding`)."""
    ma, mb = a.mean_throughput(), b.mean_throughput()
    ranks = sorted(set(ma) | set(mb) | {w.rank for w in a.verdict.workers} | {w.rank for w in b.verdict.workers})
    rows = tuple(ABRow(r, ma.get(r), mb.get(r)) for r in ranks)
    return ABResult(side(a, label_a), side(b, label_b), rows, _total(ma.values()), _total(mb.values()), same)


def same_binding(a: Plan, b: Plan) -> bool:
    """True when both plans give every rank the same CPUs and the same OpenMP environment: on a small machine
    compact and spread often coincide, and then an A/B difference says nothing about the strategies."""
    key = lambda p: tuple((w.rank, w.cpus, w.env, w.num_threads) for w in p.workers)  # noqa: E731
    return key(a) == key(b)


# -- choosing plan B and checking a plan can run here ----------------------------------------------------------------
_OTHER_STRATEGY = {"compact": "spread", "spread": "compact"}


def alternative_request(request: PlanRequest) -> PlanRequest:
    """The default B side: the same request with the other of compact/spread (compact for any other strategy)."""
    return dataclasses.replace(request, strategy=_OTHER_STRATEGY.get(request.strategy, "compact"))


def plan_label(plan: Plan) -> str:
    r = plan.request
    return f"{r.strategy}/{r.bind}" + (f"/smt-{r.smt}" if r.smt != "all" else "")


def not_runnable_here(plan: Plan, allowed: CpuSet) -> str | None:
    """Why ``plan`` cannot be launched on this machine (None when it can): planner errors, or CPUs this process may
    not use (a plan made for a preset or a recorded machine names CPUs that do not exist here)."""
    errors = [w for w in plan.warnings if w.severity == "error"]
    if errors:
        return f"the plan cannot run: {errors[0].message}"
    if not plan.workers:
        return "the plan has no workers to launch"
    used = CpuSet.union_all(w.cpus for w in plan.workers)
    foreign = used - allowed
    if foreign:
        return (
            f"the plan uses CPUs {foreign} that this process cannot use here (allowed: {allowed}): it was made for "
            "another machine; load the live machine (l, then 'live') to run it"
        )
    return None
