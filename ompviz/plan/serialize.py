"""Plan -> JSON-ready dict (the layout documented in issue 3) and Plan -> readable text table.

JSON layout::

    {"topology": {...summary}, "request": {...},
     "workers": [{"rank", "cpus", "places", "env", "threads": [{"thread", "place", "cpus"}],
                  "threads_by_runtime": {"gnu": [...], "llvm": [...]}}],
     "warnings": [{"code", "severity", "message", "ranks"}]}

CPU sets are strings in Linux cpulist notation ("0-3,8"), places a list of such strings, env a
{NAME: value} object (OMP_PLACES, OMP_PROC_BIND, OMP_NUM_THREADS), "place" an index into "places" or null
when the runtime does not bind; "threads" is the runtime chosen by the request's --runtime.
"""

from __future__ import annotations

import textwrap

from ompviz.plan.model import Plan, PlanWarning, ThreadPlacement, Worker
from ompviz.words import plural

WIDTH = 100


def _threads(ts: tuple[ThreadPlacement, ...]) -> list[dict]:
    return [{"thread": t.thread, "place": t.place, "cpus": t.cpus.to_list()} for t in ts]


def worker_to_dict(w: Worker, runtime: str) -> dict:
    return {
        "rank": w.rank,
        "cpus": w.cpus.to_list(),
        "places": [p.to_list() for p in w.places],
        "env": dict(w.env),
        "threads": _threads(w.threads(runtime)),
        "threads_by_runtime": {"gnu": _threads(w.gnu), "llvm": _threads(w.llvm)},
    }


def warning_to_dict(w: PlanWarning) -> dict:
    return {"code": w.code, "severity": w.severity, "message": w.message, "ranks": list(w.ranks)}


def plan_to_dict(plan: Plan) -> dict:
    return {
        "topology": dict(plan.topology_summary),
        "request": plan.request.to_dict(),
        "workers": [worker_to_dict(w, plan.request.runtime) for w in plan.workers],
        "warnings": [warning_to_dict(w) for w in plan.warnings],
    }


def _threads_text(w: Worker, runtime: str) -> str:
    """'8' or '8 on 4 places' style summary; the per-thread list is in the JSON and the TUI."""
    if not w.env:
        return "-"
    ts = w.threads(runtime)
    if not ts:
        return str(w.num_threads)
    if ts[0].place is None:
        return f"{w.num_threads} unbound"
    P = len(w.places)
    return f"{w.num_threads} on {plural(P, 'place')}"


def _abbrev(s: str, width: int) -> str:
    """Keep the start and the end of a long list, cut at place/item boundaries: '{0},{1} ... {286},{287}'."""
    if len(s) <= width:
        return s
    head_max = (width - 5) * 2 // 3
    tail_max = width - 5 - head_max
    head = s[:head_max]
    cut = head.rfind("},")  # end of a whole place
    if cut > 0:
        head = head[: cut + 1]
    tail = s[-tail_max:]
    cut = tail.find(",{")  # start of a whole place
    if cut >= 0:
        tail = tail[cut + 1 :]
    return head + " ... " + tail


def _ranks_head(plan: Plan) -> str:
    """``2 ranks``; ``1 rank requested, none planned`` when nothing was left to plan (e.g. --reserve took all)."""
    if not plan.workers:
        return f"{plural(plan.request.ranks, 'rank')} requested, none planned"
    return plural(len(plan.workers), "rank")


def plan_to_text(plan: Plan, width: int = WIDTH) -> str:
    """A table rank | CPUs | OMP_PLACES | threads (fits ``width`` columns), then bind/threads env, warnings."""
    req = plan.request
    s = plan.topology_summary
    how = (
        "vLLM's own places and OMP_PROC_BIND=TRUE"
        if req.strategy == "vllm"
        else f"places {req.places}, OMP_PROC_BIND={req.bind}"
    )
    lines = textwrap.wrap(
        f"{s.get('name', '?')} ({plural(s['pus'], 'CPU') if isinstance(s.get('pus'), int) else '? CPUs'}) - "
        f"strategy {req.strategy}, "
        f"{_ranks_head(plan)}, {how}, runtime {req.runtime}",
        width,
        subsequent_indent="  ",
    )
    rows = [
        (str(w.rank), w.cpus.to_list() or "-", w.env_dict.get("OMP_PLACES", "-") or "-", _threads_text(w, req.runtime))
        for w in plan.workers
    ]
    c_rank = max([4] + [len(r[0]) for r in rows])
    c_thr = max([7] + [len(r[3]) for r in rows])
    c_cpus = min(max([4] + [len(r[1]) for r in rows]), 28)
    c_places = max(20, width - c_rank - c_cpus - c_thr - 9)
    sep = " | "

    def row(a: str, b: str, c: str, d: str) -> list[str]:
        bw = textwrap.wrap(b, c_cpus, break_on_hyphens=False) or [""]
        if len(bw) > 2:
            bw = [_abbrev(b, c_cpus)]
        # OMP_PLACES: wrap at place boundaries; very long lists keep their first and last places
        cw = textwrap.wrap(c.replace("},{", "}, {"), c_places, break_on_hyphens=False) or [""]
        cw = [x.replace("}, {", "},{") for x in cw]
        if len(cw) > 3:
            cw = [_abbrev(c, c_places)]
        out = []
        for k in range(max(len(bw), len(cw))):
            out.append(
                (a if k == 0 else "").rjust(c_rank)
                + sep
                + (bw[k] if k < len(bw) else "").ljust(c_cpus)
                + sep
                + (cw[k] if k < len(cw) else "").ljust(c_places)
                + sep
                + (d if k == 0 else "").rjust(c_thr)
            )
        return [x.rstrip() for x in out]

    lines += row("rank", "CPUs", "OMP_PLACES", "threads")
    lines.append("-" * c_rank + "-+-" + "-" * c_cpus + "-+-" + "-" * c_places + "-+-" + "-" * c_thr)
    for r in rows:
        lines += row(*r)
    if plan.warnings:
        lines.append("")
        lines.append("warnings:")
        for wn in plan.warnings:
            lines += textwrap.wrap(
                f"{wn.severity}: [{wn.code}] {wn.message}", width, initial_indent="  ", subsequent_indent="      "
            )
    return "\n".join(lines) + "\n"
