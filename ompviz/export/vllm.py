"""vLLM CPU backend: VLLM_CPU_OMP_THREADS_BIND and VLLM_CPU_NUM_OF_RESERVED_CPU, checked against ompviz's own
emulation of what vLLM does with them (the planner's ``--strategy vllm``)."""

from __future__ import annotations

import dataclasses
import shlex

from ompviz.errors import OmpvizError
from ompviz.export.common import header, rank_comment
from ompviz.plan.model import Plan
from ompviz.topology.model import Topology
from ompviz.words import plural


def _emulate(plan: Plan, topology: Topology, bind: str, reserved: int) -> Plan | None:
    try:
        from ompviz.plan import plan as make_plan
    except ImportError:
        return None
    # smt="one": vLLM's default keeps one hardware thread per core, whatever the exported list holds.
    req = dataclasses.replace(
        plan.request,
        strategy="vllm",
        smt="one",
        ranks=max(1, bind.count("|") + 1),  # vLLM runs one worker per exported segment
        cpus=None,
        vllm_vars=(("VLLM_CPU_OMP_THREADS_BIND", bind), ("VLLM_CPU_NUM_OF_RESERVED_CPU", str(reserved))),
    )
    try:
        return make_plan(topology, req)
    except OmpvizError:
        return None


def to_vllm(plan: Plan, topology: Topology, *, command: list[str] | None = None) -> str:
    workers = [w for w in plan.workers if w.cpus]
    out = header(plan, topology, "vllm")
    if not workers:
        out.append("# this plan gives no rank any CPU: nothing to export")
        return "\n".join(out) + "\n"
    bind = "|".join(w.cpus.to_list() for w in workers)
    out += [
        "# vLLM's CPU backend starts one worker per rank (tensor/pipeline parallel size = "
        f"{len(workers)}); worker i takes the i-th '|' segment,",
        "# keeps the CPUs of it that it may use, splits it per NUMA node, and binds ALL its OpenMP threads to that",
        "# one place (OMP_PLACES={...}, OMP_PROC_BIND=TRUE): threads float inside the place, not one CPU each.",
        "# VLLM_CPU_NUM_OF_RESERVED_CPU lowers OMP_NUM_THREADS only; the reserved CPUs stay in the place.",
    ]
    for w in workers:
        out.append(rank_comment(topology, w))

    first = _emulate(plan, topology, bind, 0)
    reserved = 0
    if first is not None and len(first.workers) == len(workers):
        diffs = {e.num_threads - w.num_threads for e, w in zip(first.workers, workers, strict=True)}
        if len(diffs) == 1 and (d := diffs.pop()) > 0:
            reserved = d
    else:
        sizes = {len(w.cpus) - w.num_threads for w in workers}
        if len(sizes) == 1 and (d := sizes.pop()) > 0:
            reserved = d
    emu = _emulate(plan, topology, bind, reserved) if reserved else first
    if emu is None:
        out.append("# NOT CHECKED: ompviz's vLLM emulation could not run on this plan")
    else:
        mismatch = []
        errors = [x.message for x in emu.warnings if x.severity == "error"]
        for i, w in enumerate(workers):
            e = emu.workers[i] if i < len(emu.workers) else None
            if e is None or e.cpus != w.cpus:
                got = "nothing" if e is None else (e.cpus.to_list() or "nothing")
                mismatch.append(f"rank {w.rank}: planned CPUs {w.cpus.to_list()}, vLLM would bind {got}")
            elif e.num_threads != w.num_threads:
                mismatch.append(
                    f"rank {w.rank}: planned {plural(w.num_threads, 'thread')}, vLLM would start {e.num_threads}"
                )
        bound = [e for e in emu.workers if e.cpus]
        if len(bound) > len(workers):
            mismatch.append(
                f"vLLM would bind {plural(len(bound), 'worker')}, the plan has {plural(len(workers), 'rank')} with CPUs"
            )
        if not mismatch and not errors:
            out.append("# CHECKED: ompviz's emulation of vLLM on this machine binds every rank to exactly the planned")
            out.append("# CPUs with the planned OMP_NUM_THREADS (its OMP_PLACES is one place per rank, see above)")
        else:
            out.append("# WARNING: vLLM will NOT reproduce this plan (ompviz's emulation of vLLM on this machine):")
            out += [f"#   {m}" for m in mismatch + errors]
    out.append(f"export VLLM_CPU_OMP_THREADS_BIND={shlex.quote(bind)}")
    out.append(f"export VLLM_CPU_NUM_OF_RESERVED_CPU={reserved}")
    return "\n".join(out) + "\n"
