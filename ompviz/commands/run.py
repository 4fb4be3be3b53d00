"""ompviz run: launch the plan, sample every thread, verify its binding (headless).

Exit status: 0 every OpenMP thread bound as planned; 3 the run completed but verification found a mismatch (or
could not verify a worker); 2 bad input; 128+N when stopped early by signal N (the report is still printed).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time

from ompviz.commands.common import add_plan_arguments, add_topology_argument
from ompviz.words import plural

EXIT_MISMATCH = 3


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_topology_argument(p)
    add_plan_arguments(p)
    p.add_argument("--duration", type=float, default=5.0, metavar="S", help="seconds to run (default 5)")
    p.add_argument(
        "--interval", type=float, default=0.5, metavar="S", help="sampling interval, 0.05 to 60 (default 0.5)"
    )
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")
    p.add_argument(
        "--runtime-lib",
        choices=("gnu", "llvm", "intel"),
        default="gnu",
        help="OpenMP runtime to run the workers with (llvm/intel via LD_PRELOAD)",
    )


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run(args: argparse.Namespace) -> int:
    from ompviz.commands.common import request_from_args
    from ompviz.errors import OmpvizError
    from ompviz.live import LiveSession
    from ompviz.live.session import check_interval
    from ompviz.plan import plan as make_plan
    from ompviz.topology import load

    if args.topology not in (None, "live"):
        raise OmpvizError(
            f"--topology {args.topology}: ompviz run launches workers on this machine; drop --topology "
            "(use 'ompviz plan --topology ...' to plan for another machine)"
        )
    if not args.duration > 0:
        raise OmpvizError(f"--duration {args.duration}: give a positive number of seconds, e.g. 2")
    check_interval(args.interval)
    request = request_from_args(args)
    plan = make_plan(load("live"), request)
    errors = [w for w in plan.warnings if w.severity == "error"]
    if errors:
        raise OmpvizError(f"the plan cannot run: {errors[0].message}")
    command = list(getattr(args, "worker_command", None) or [])

    stop = threading.Event()
    caught: list[int] = []

    def on_signal(signum, _frame) -> None:
        caught.append(signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in _STOP_SIGNALS}
    session = LiveSession(interval=args.interval, runtime_lib=args.runtime_lib)
    try:
        if not stop.is_set():
            session.start(plan, command or None)
            t0 = time.monotonic()
            # Short waits keep a signal's stop prompt; the workers' teardown happens in finally whatever happens.
            while not stop.wait(0.05):
                if time.monotonic() - t0 >= args.duration or session.all_exited():
                    break
    finally:
        summary = session.stop()
        for s, h in previous.items():
            signal.signal(s, h)
    report = build_report(summary, plan, session, interrupted=caught[0] if caught else None)
    try:
        if args.format == "json":
            print(json.dumps(report, indent=2))
        else:
            print(format_text(report))
        sys.stdout.flush()
    except (BrokenPipeError, OSError):  # e.g. the terminal went away with SIGHUP: the cleanup already happened
        pass
    if caught:
        return 128 + caught[0]
    return 0 if report["verified"] else EXIT_MISMATCH


def _exit_fields(ws) -> dict:
    if ws is None or ws.alive:
        return {"exit": None, "signal": None, "state": "running"}
    if ws.stopped:
        return {"exit": None, "signal": None, "state": "stopped by ompviz"}
    if ws.exit_signal is not None:
        try:
            name = signal.Signals(ws.exit_signal).name
        except ValueError:
            name = f"signal {ws.exit_signal}"
        return {"exit": None, "signal": name, "state": f"killed by {name}"}
    return {"exit": ws.exit_code, "signal": None, "state": f"exited {ws.exit_code}"}


def build_report(summary, plan, session, interrupted: int | None = None) -> dict:
    """The JSON document of the issue: {"workers": [...], "verified": bool} plus run metadata."""
    means = summary.mean_throughput()
    final = {w.rank: w for w in summary.final}
    procs = {p.rank: p for p in session.procs}
    workers = []
    for wv in summary.verdict.workers:
        threads = []
        for tv in wv.threads:
            s = tv.sample
            threads.append(
                {
                    "tid": tv.tid,
                    "omp_thread": tv.omp_thread,
                    "planned": None if tv.planned is None else tv.planned.to_list(),
                    "allowed": tv.allowed.to_list(),
                    "cpu": None if s is None else s.cpu,
                    "cpu_percent": None if s is None else round(s.cpu_percent, 1),
                    "migrations": None if s is None else s.migrations,
                    "ok": tv.ok,
                    "verdict": tv.verdict,
                    "detail": tv.detail,
                    "source": tv.source,  # proc: /proc of the live thread; report: the runtime's affinity line
                }
            )
        fw = final.get(wv.rank)
        p = procs.get(wv.rank)
        tail = p.output.snapshot().tail if p is not None else ()
        workers.append(
            {
                "rank": wv.rank,
                "pid": None if p is None else p.pid,
                **_exit_fields(fw),
                "throughput": None if means.get(wv.rank) is None else round(means[wv.rank], 1),
                "team_size": wv.team_size,
                "expected_team": wv.expected_team,
                "verdict": wv.verdict,
                "verified_from": wv.source if wv.threads else None,  # proc | report | proc+report
                "note": wv.note or None,
                "problems": list(wv.problems),
                "threads": threads,
                "last_output": tail[-1] if tail else None,
            }
        )
    return {
        "run_id": summary.run_id,
        "runtime_lib": summary.runtime_lib,
        "command": list(summary.command),
        "duration": round(summary.duration, 2),
        "samples": len(summary.samples),
        "interrupted_by": None if interrupted is None else signal.Signals(interrupted).name,
        "workers": workers,
        "verified": summary.verdict.verified,
    }


_RUNTIME_NAMES = {"gnu": "libgomp rules", "llvm": "LLVM libomp rules", "intel": "Intel/LLVM libomp rules"}


def _tid_text(t: dict) -> str:
    if t["tid"]:
        return str(t["tid"])
    return "(report)" if t["source"] == "report" else "?"


def _fmt_rate(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def format_text(r: dict) -> str:
    lines = [
        f"ompviz run {r['run_id'][:8]}: {plural(len(r['workers']), 'worker')}, {r['duration']:.1f} s, "
        f"{plural(r['samples'], 'sample')}, "
        f"runtime {r['runtime_lib']}" + (f", interrupted by {r['interrupted_by']}" if r["interrupted_by"] else ""),
        "",
        f"{'rank':>4}  {'pid':>7}  {'state':<20} {'team':>9}  {'iter/s (mean)':>14}  verdict",
    ]
    for w in r["workers"]:
        team = f"{w['team_size'] if w['team_size'] is not None else '?'}/{w['expected_team']}"
        lines.append(
            f"{w['rank']:>4}  {w['pid'] or '-':>7}  {w['state']:<20} {team:>9}  {_fmt_rate(w['throughput']):>14}  "
            f"{w['verdict']}"
        )
    lines += [
        "",
        f"{'rank':>4}  {'thread':>6}  {'tid':>8}  {'planned':<12} {'allowed':<12} {'cpu':>3}  "
        f"{'cpu%':>5}  {'migr':>4}  verdict",
    ]
    for w in r["workers"]:
        for t in w["threads"]:
            omp = "-" if t["omp_thread"] is None else t["omp_thread"]
            lines.append(
                f"{w['rank']:>4}  {omp:>6}  {_tid_text(t):>8}  {t['planned'] or '-':<12} {t['allowed']:<12} "
                f"{'-' if t['cpu'] is None else t['cpu']:>3}  "
                f"{'-' if t['cpu_percent'] is None else format(t['cpu_percent'], '.0f'):>5}  "
                f"{'-' if t['migrations'] is None else t['migrations']:>4}  {t['verdict']}"
                + (f"  ({t['detail']})" if t["detail"] and t["verdict"] != "ok" else "")
            )
    problems = [(w["rank"], p) for w in r["workers"] for p in w["problems"]]
    crashed = [w for w in r["workers"] if w["signal"] or (w["exit"] not in (None, 0))]
    notes = [w for w in r["workers"] if w["note"]]
    if problems or crashed or notes:
        lines.append("")
    for w in notes:
        lines.append(f"rank {w['rank']}: {w['note']}")
    for rank, p in problems:
        lines.append(f"rank {rank}: {p}")
    for w in crashed:
        extra = f"; last output: {w['last_output']}" if w["last_output"] else ""
        lines.append(f"rank {w['rank']}: {w['state']}{extra}")
    lines.append("")
    rules = _RUNTIME_NAMES.get(r["runtime_lib"], r["runtime_lib"])
    if r["verified"]:
        lines.append(f"verified: every OpenMP thread is bound as planned ({rules})")
    else:
        lines.append(f"NOT verified: see the verdicts above (planned placement by {rules})")
    return "\n".join(lines)
