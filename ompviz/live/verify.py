"""Planned vs actual binding: pure functions over samples and the plan (tested on recorded samples).

Per OpenMP thread, comparing its real allowed set (sched_getaffinity) with the CPUs the plan predicted for it under
the runtime actually used (libgomp rules for gnu, LLVM rules for llvm/intel):

- ``ok``         allowed set == planned place
- ``wider``      allowed set is a strict superset: the runtime did not bind it (e.g. OMP_PROC_BIND ignored)
- ``outside``    wider, and it was seen running on a CPU outside its planned place
- ``different``  another set: the runtime chose another place (e.g. libgomp vs LLVM partition rules) or dropped
                 CPUs it could not use
- ``unplanned``  an OpenMP thread number the plan has no entry for (team larger than planned)
- ``unknown``    a thread not identified as an OpenMP thread (e.g. a Python thread of the user's program)

A worker is ``ok`` when every planned OpenMP thread was seen (in /proc, or failing that in the runtime's own
OMP_DISPLAY_AFFINITY report) and is ``ok``, and the reported team size equals its OMP_NUM_THREADS; ``mismatch``
when anything disagrees; ``unverified`` when nothing could be observed (e.g. it died before its threads started).

Evidence, strongest first: /proc (the kernel's own sched_getaffinity of a live thread) is used whenever a sample
caught the thread. The runtime's report (its ``%A`` affinity per thread number) stands in only for planned threads
no sample identified — a program that ran for milliseconds, or libgomp threads whose pthread_t report could not be
matched to a tid — and every verdict says which evidence it rests on (``source``, ``WorkerVerdict.note``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ompviz.cpuset import CpuSet
from ompviz.live.sampler import Sample, ThreadSample, WorkerSample
from ompviz.plan.model import ThreadPlacement, Worker
from ompviz.words import plural

THREAD_VERDICTS = ("ok", "wider", "outside", "different", "unplanned", "unknown")

SOURCE_PROC = "proc"  # judged from /proc/PID/task/TID (sched_getaffinity of the live thread)
SOURCE_REPORT = "report"  # judged from the runtime's OMP_DISPLAY_AFFINITY line for that thread number
REPORT_NAME = "the runtime's OMP_DISPLAY_AFFINITY report"


def plan_runtime(runtime_lib: str) -> str:
    """Which predicted placement applies: Intel's libiomp5 shares LLVM's partitioning code."""
    return "gnu" if runtime_lib == "gnu" else "llvm"


@dataclass(frozen=True, slots=True)
class ThreadVerdict:
    rank: int
    omp_thread: int | None
    tid: int | None  # None: known only from the runtime's report
    planned: CpuSet | None
    planned_place: int | None
    allowed: CpuSet
    verdict: str
    detail: str
    sample: ThreadSample | None = None
    source: str = SOURCE_PROC  # SOURCE_PROC | SOURCE_REPORT: what the verdict rests on

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"


@dataclass(frozen=True, slots=True)
class WorkerVerdict:
    rank: int
    verdict: str  # ok | mismatch | unverified
    expected_team: int
    team_size: int | None
    threads: tuple[ThreadVerdict, ...]
    problems: tuple[str, ...]
    sample: WorkerSample | None = None
    source: str = SOURCE_PROC  # "proc", "report" (no /proc sample identified any thread) or "proc+report"
    note: str = ""  # says what a verdict not resting on /proc alone rests on ("" when /proc only)

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"


@dataclass(frozen=True, slots=True)
class RunVerdict:
    workers: tuple[WorkerVerdict, ...]

    @property
    def verified(self) -> bool:
        return bool(self.workers) and all(w.ok for w in self.workers)


def _other_place(allowed: CpuSet, worker: Worker, planned_place: int | None) -> str:
    for i, pl in enumerate(worker.places):
        if pl == allowed and i != planned_place:
            return f"bound to place {i} {{{pl}}} instead"
    return ""


def judge(
    rank: int,
    omp_thread: int | None,
    allowed: CpuSet,
    seen: CpuSet,
    worker: Worker,
    runtime: str,
    tid: int | None = None,
    sample: ThreadSample | None = None,
    source: str = SOURCE_PROC,
) -> ThreadVerdict:
    """The verdict for one thread (see the module docstring)."""

    def v(planned: ThreadPlacement | None, verdict: str, detail: str) -> ThreadVerdict:
        return ThreadVerdict(
            rank=rank,
            omp_thread=omp_thread,
            tid=tid,
            planned=None if planned is None else planned.cpus,
            planned_place=None if planned is None else planned.place,
            allowed=allowed,
            verdict=verdict,
            detail=detail,
            sample=sample,
            source=source,
        )

    if omp_thread is None:
        return v(None, "unknown", "not identified as an OpenMP thread")
    placements = {p.thread: p for p in worker.threads(runtime)}
    p = placements.get(omp_thread)
    if p is None:
        return v(None, "unplanned", f"OpenMP thread {omp_thread} is beyond the {len(placements)} planned")
    want = p.cpus
    if p.place is None:
        # The plan itself predicts no binding: any set containing the planned CPUs is what was expected.
        if want <= allowed:
            return v(p, "ok", "unbound, as planned")
        return v(p, "different", f"bound to {{{allowed}}} although the plan does not bind")
    if allowed == want:
        return v(p, "ok", "")
    if want < allowed:
        outside = seen - want
        if outside:
            return v(p, "outside", f"allowed {{{allowed}}} and ran on CPU {outside}, outside its place {{{want}}}")
        return v(p, "wider", f"allowed {{{allowed}}}, wider than its place {{{want}}}: the runtime did not bind it")
    other = _other_place(allowed, worker, p.place)
    if other:
        return v(p, "different", other)
    if allowed < want:
        return v(p, "different", f"allowed {{{allowed}}}, only part of its place {{{want}}}")
    return v(p, "different", f"allowed {{{allowed}}} instead of its place {{{want}}}")


def verify_worker(ws: WorkerSample | None, worker: Worker, runtime: str) -> WorkerVerdict:
    expected = worker.num_threads
    if ws is None:
        return WorkerVerdict(worker.rank, "unverified", expected, None, (), ("never sampled",), None)
    verdicts = [
        judge(ws.rank, t.omp_thread, t.allowed, t.seen, worker, runtime, tid=t.tid, sample=t) for t in ws.threads
    ]
    seen_threads = {t.omp_thread for t in ws.threads if t.omp_thread is not None}
    in_proc = bool(seen_threads)
    problems: list[str] = []
    # Planned threads not identified in /proc: the runtime's own report of their affinity is the evidence left.
    from_report: list[int] = []
    for th, aff in ws.omp_reports:
        if th not in seen_threads:
            tv = judge(ws.rank, th, aff, CpuSet(), worker, runtime, source=SOURCE_REPORT)
            verdicts.append(tv)
            seen_threads.add(th)
            from_report.append(th)
    verdicts.sort(key=lambda t: (t.omp_thread is None, t.omp_thread or 0, t.tid or 0))
    if not seen_threads:
        why = "no OpenMP thread seen"
        if not ws.alive:
            why += f" before it ended ({_exit_text(ws)})"
            if not ws.threads:
                why += ", and its runtime printed no OMP_DISPLAY_AFFINITY report"
                if runtime == "gnu" and expected == 1:
                    why += " (libgomp may print none for a team of one thread)"
        return WorkerVerdict(ws.rank, "unverified", expected, ws.team_size, tuple(verdicts), (why,), ws)
    missing = [t.thread for t in worker.threads(runtime) if t.thread not in seen_threads]
    if missing:
        problems.append(f"{plural(len(missing), 'OpenMP thread', count=False)} {', '.join(map(str, missing))} not seen")
    if ws.team_size is not None and ws.team_size != expected:
        problems.append(f"team of {plural(ws.team_size, 'thread')}, OMP_NUM_THREADS={expected}")
    bad = [t for t in verdicts if t.verdict not in ("ok", "unknown")]
    if bad:
        problems.append(f"{plural(len(bad), 'thread')} not bound as planned")
    verdict = "mismatch" if problems else "ok"
    source, note = SOURCE_PROC, ""
    if from_report:
        how = "verified" if verdict == "ok" else "judged"
        if not in_proc:
            source = SOURCE_REPORT
            if ws.threads:  # threads were sampled, none could be told apart as an OpenMP thread
                note = f"{how} from {REPORT_NAME}; no sampled thread could be identified as an OpenMP thread"
            else:
                note = f"{how} from {REPORT_NAME}; the threads exited before they could be sampled"
        else:
            source = f"{SOURCE_PROC}+{SOURCE_REPORT}"
            ths = ", ".join(map(str, from_report))
            word = plural(len(from_report), "thread", count=False)
            note = f"{word} {ths} {how} from {REPORT_NAME} (not identified in /proc); the others from /proc"
    return WorkerVerdict(
        ws.rank, verdict, expected, ws.team_size, tuple(verdicts), tuple(problems), ws, source=source, note=note
    )


def _exit_text(ws: WorkerSample) -> str:
    if ws.stopped:
        return "stopped by ompviz"
    if ws.exit_signal is not None:
        import signal

        try:
            return f"killed by {signal.Signals(ws.exit_signal).name}"
        except ValueError:
            return f"killed by signal {ws.exit_signal}"
    return f"exit {ws.exit_code}"


def steady_samples(samples: Iterable[Sample]) -> dict[int, WorkerSample]:
    """Per rank, the last sample in which the worker was alive and had threads (its steady state); else its last
    sample at all. Startup is deliberately not judged: LLVM binds the primary thread only at the first region."""
    best: dict[int, WorkerSample] = {}
    last: dict[int, WorkerSample] = {}
    for s in samples:
        for w in s.workers:
            last[w.rank] = w
            prev = best.get(w.rank)
            if (w.alive and w.threads) or prev is None or not (prev.alive and prev.threads):
                best[w.rank] = w
    # The runtime's reports accumulate in a worker's output: a later sample knows at least as many. A program that
    # was sampled before its first parallel region (threads not there yet) and ended soon after is judged on the
    # steady sample's /proc threads plus every report it printed, not on no evidence at all.
    for rank, w in best.items():
        end = last[rank]
        if end is not w and end.omp_reports and end.omp_reports != w.omp_reports:
            team = end.team_size if end.team_size is not None else w.team_size
            best[rank] = dataclasses.replace(w, omp_reports=end.omp_reports, team_size=team)
    return best


def verify_run(samples: Sequence[Sample], workers: Sequence[Worker], runtime: str) -> RunVerdict:
    """Verdict of a whole run: each worker judged on its steady state (see :func:`steady_samples`)."""
    steady = steady_samples(samples)
    return RunVerdict(tuple(verify_worker(steady.get(w.rank), w, runtime) for w in workers))


def verify_sample(sample: Sample, workers: Sequence[Worker], runtime: str) -> RunVerdict:
    """Verdict of one live sample (what a live view shows right now)."""
    by_rank = {w.rank: w for w in sample.workers}
    return RunVerdict(tuple(verify_worker(by_rank.get(w.rank), w, runtime) for w in workers))
