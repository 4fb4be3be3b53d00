"""Arguments shared by several subcommands: topology source and the plan request flags."""

from __future__ import annotations

import argparse
import dataclasses
import os

from ompviz.cpuset import parse_list
from ompviz.errors import OmpvizError
from ompviz.plan.model import (
    BIND_POLICIES,
    NOTATIONS,
    PLACES,
    RUNTIMES,
    SMT_POLICIES,
    STRATEGIES,
    PlanRequest,
)


def add_topology_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--topology",
        "-t",
        metavar="SRC",
        default=None,
        help="live (default), preset:NAME, synthetic:'pack:2 core:8 pu:2', or a path: hwloc XML, "
        "lscpu -e / -p / -J -e output, sysfs dump (dir or tarball), ompviz snapshot",
    )


def add_plan_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("plan")
    g.add_argument("--ranks", "-n", type=int, default=None, help="number of workers (processes), default 1")
    g.add_argument("--threads", default=None, metavar="T|auto", help="OpenMP threads per worker (auto = one per place)")
    g.add_argument("--strategy", "-s", choices=STRATEGIES, default=None, help="how CPUs are split between ranks")
    g.add_argument("--smt", choices=SMT_POLICIES, default=None, help="hardware threads used per core")
    g.add_argument("--reserve", default=None, metavar="CPUS", help="CPUs kept free for the main process, e.g. 0-1")
    g.add_argument("--places", choices=PLACES, default=None, help="granularity of each worker's places")
    g.add_argument("--notation", choices=NOTATIONS, default=None, help="how OMP_PLACES is written")
    g.add_argument("--bind", choices=BIND_POLICIES, default=None, help="OMP_PROC_BIND")
    g.add_argument("--runtime", choices=RUNTIMES, default=None, help="runtime whose placement is shown first")
    g.add_argument("--cpus", default=None, metavar="A|B|...", help="manual: one CPU list per rank, '|' separated")
    g.add_argument(
        "--vllm-var",
        action="append",
        default=None,
        metavar="NAME=VALUE",
        help="vLLM variable for --strategy vllm (repeatable); default: from the environment",
    )


VLLM_VARS = ("VLLM_CPU_OMP_THREADS_BIND", "VLLM_CPU_NUM_OF_RESERVED_CPU", "CPU_VISIBLE_MEMORY_NODES")


def _unknown_vllm_var(name: str) -> str:
    """One line: the name is not one of vLLM's binding variables, the three that are, and the closest one."""
    import difflib

    close = difflib.get_close_matches(name.upper(), VLLM_VARS, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    a, b, c = VLLM_VARS
    return f"--vllm-var {name}: unknown variable{hint}; vLLM's CPU binding reads only {a}, {b} and {c}"


def request_from_args(args: argparse.Namespace, base: PlanRequest | None = None) -> PlanRequest:
    """Build a PlanRequest from the flags; flags left unset keep ``base`` (e.g. a loaded config)."""
    r = base or PlanRequest()
    kw: dict = {}
    if getattr(args, "ranks", None) is not None:
        if args.ranks < 1:
            raise OmpvizError(f"--ranks {args.ranks}: need at least 1 rank")
        kw["ranks"] = args.ranks
    t = getattr(args, "threads", None)
    if t is not None:
        if str(t).strip().lower() == "auto":
            kw["threads"] = None
        else:
            try:
                kw["threads"] = int(t)
            except ValueError:
                raise OmpvizError(f"--threads {t!r}: give a whole number or 'auto'") from None
    for name in ("strategy", "smt", "places", "notation", "bind", "runtime", "cpus"):
        v = getattr(args, name, None)
        if v is not None:
            kw[name] = v
    if getattr(args, "reserve", None) is not None:
        try:
            kw["reserve"] = parse_list(args.reserve)
        except OmpvizError as e:
            raise OmpvizError(f"--reserve: {e}") from None
    if kw.get("cpus") is not None and "strategy" not in kw and r.strategy != "manual":
        kw["strategy"] = "manual"
    vv = getattr(args, "vllm_var", None)
    if vv is not None:
        pairs = []
        for item in vv:
            if "=" not in item or not item.split("=", 1)[0].strip():
                raise OmpvizError(f"--vllm-var {item!r}: write NAME=VALUE, e.g. VLLM_CPU_OMP_THREADS_BIND=0-31|32-63")
            k, v = item.split("=", 1)
            k = k.strip()
            if k not in VLLM_VARS:
                raise OmpvizError(_unknown_vllm_var(k))
            pairs.append((k, v))
        kw["vllm_vars"] = tuple(pairs)
    elif (kw.get("strategy") or r.strategy) == "vllm" and not r.vllm_vars:
        kw["vllm_vars"] = tuple((k, os.environ[k]) for k in VLLM_VARS if k in os.environ)
    if (kw.get("strategy") or r.strategy) == "vllm" and "smt" not in kw and base is None:
        # vLLM keeps one sibling per core unless told otherwise: emulate its default, not ompviz's "all"
        kw["smt"] = "one"
    return dataclasses.replace(r, **kw)
