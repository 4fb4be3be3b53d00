"""Exporters for MPI launchers: Slurm ``srun`` with per-task CPU masks and Open MPI rankfiles."""

from __future__ import annotations

import shlex

from ompviz.cpuset import CpuSet
from ompviz.export.common import (
    common_env,
    dq_assign,
    header,
    placeholder_note,
    quote_cmd,
    rank_comment,
)
from ompviz.plan.model import Plan
from ompviz.topology.model import Topology
from ompviz.words import plural

RANKFILE = "ompviz.rankfile"


def _per_rank_wrapper(per_rank: list[list[tuple[str, str]]], selector: str, ranks: list[int]) -> str | None:
    """A ``bash -c`` script exporting each rank's own variables, chosen by ``selector`` (e.g. $SLURM_LOCALID)."""
    if not any(per_rank):
        return None
    lines = [f'case "{selector}" in']
    for rank, env in zip(ranks, per_rank, strict=True):
        exports = "; ".join(f"export {dq_assign(k, v)}" for k, v in env) or ":"
        lines.append(f"  {rank}) {exports} ;;")
    lines.append(f'  *) echo "ompviz: no binding planned for rank {selector}" >&2; exit 1 ;;')
    lines.append("esac")
    lines.append('exec "$@"')
    return "\n".join(lines)


def to_slurm(plan: Plan, topology: Topology, *, command: list[str] | None = None) -> str:
    """``srun --cpu-bind=verbose,mask_cpu:<hex,...>`` (``map_cpu`` when every rank has one CPU) + OMP_* env."""
    workers = [w for w in plan.workers if w.cpus]
    out = ["#!/usr/bin/env bash"]
    out += header(plan, topology, "slurm")
    out += [
        "# Slurm applies mask i (or CPU i of map_cpu) to local task i on each node; masks are hexadecimal bit masks",
        "# of OS CPU ids (bit n = CPU n), as taskset uses them. Binding to explicit CPUs needs the whole node",
        "# allocated to the job (e.g. sbatch --exclusive); 'verbose' makes every task print the mask it got.",
    ]
    out += placeholder_note(command)
    out.append("set -euo pipefail")
    if len(workers) != len(plan.workers):
        missing = [w.rank for w in plan.workers if not w.cpus]
        one = len(missing) == 1
        out.append(
            f"# {plural(len(missing), 'rank', count=False)} {','.join(map(str, missing))} "
            f"{'has' if one else 'have'} no CPUs in this plan and {'is' if one else 'are'} left out"
        )
    if not workers:
        out.append("echo 'ompviz: this plan gives no rank any CPU: nothing to launch' >&2")
        out.append("exit 1")
        return "\n".join(out) + "\n"
    for w in workers:
        out.append(rank_comment(topology, w))
    sizes = {len(w.cpus) for w in workers}
    if all(len(w.cpus) == 1 for w in workers):
        bind = "map_cpu:" + ",".join(str(w.cpus.first) for w in workers)
    else:
        bind = "mask_cpu:" + ",".join(w.cpus.to_hex() for w in workers)
    if len(sizes) > 1:
        out.append(
            f"# ranks have different sizes ({', '.join(map(str, sorted(sizes)))} CPUs): --cpus-per-task is the largest"
        )
    sub = Plan(plan.request, plan.topology_summary, tuple(workers), plan.warnings, plan.explanation)
    shared, per_rank = common_env(sub)
    for k, v in shared:
        out.append(f"export {shlex.quote(f'{k}={v}')}")
    srun = [
        "srun",
        f"--ntasks={len(workers)}",
        f"--cpus-per-task={max(sizes)}",
        f"--cpu-bind=verbose,{bind}",
    ]
    wrapper = _per_rank_wrapper(per_rank, "$SLURM_LOCALID", list(range(len(workers))))
    line = " ".join(srun)
    if wrapper:
        out.append("# each task exports its own OMP_* values (they differ per rank), chosen by SLURM_LOCALID")
        line += f" \\\n  bash -c {shlex.quote(wrapper)} ompviz-rank"
    out.append(f"{line} \\\n  {quote_cmd(command)}")
    return "\n".join(out) + "\n"


def _logical(topology: Topology, cpus: CpuSet) -> str:
    return CpuSet(topology.os_to_logical(cpus)).to_list()


# Open MPI 4.x (ORTE) and 5.x (PRRTE) spell the rankfile mapping differently; the script picks by the mpirun on
# PATH. Both read the slot numbers as hwloc logical indices, of hardware threads with these options (4.1: no
# rmaps_rank_file_physical, --use-hwthread-cpus; 5.x: logical only, the :hwtcpus qualifier).
_OMPI_SELECT = """\
case "$(mpirun --version 2>/dev/null || true)" in
  *"(Open MPI) "[1-4].*) OMPI_MAP=(--rankfile {rf} --use-hwthread-cpus --report-bindings) ;;
  *"(Open MPI) "[5-9]*) OMPI_MAP=(--map-by rankfile:file={rf}:hwtcpus --display bindings{overload}) ;;
  *) echo "ompviz: this launcher needs Open MPI's mpirun (4.x or 5.x) on PATH" >&2; exit 1 ;;
esac"""


def _overlapping(workers: list) -> list[int]:
    seen = CpuSet()
    out = []
    for i, w in enumerate(workers):
        if w.cpus.intersects(seen):
            out.append(i)
        seen = seen | w.cpus
    return out


def to_openmpi(plan: Plan, topology: Topology, *, command: list[str] | None = None) -> str:
    """An Open MPI rankfile (written by the script) plus the ``mpirun`` line for Open MPI 4.x or 5.x."""
    workers = [w for w in plan.workers if w.cpus]
    out = ["#!/usr/bin/env bash"]
    out += header(plan, topology, "openmpi")
    out += [
        "# Open MPI reads plain rankfile slot numbers as hwloc LOGICAL indices (L#, as lstopo shows them by default)",
        "# of cores, or of hardware threads (PUs) with --use-hwthread-cpus (4.x) / the :hwtcpus qualifier (5.x).",
        "# This file gives logical PU indices, converted from the plan's OS ids, and the mpirun options below",
        "# select PUs; the script picks the 4.x or the 5.x spelling from `mpirun --version`.",
        "# Every rank runs on localhost = the node mpirun runs on (the plan is for one machine); put a host name",
        "# there to run on another node (or +n0 inside an allocation: outside one, Open MPI 4.1 rejects +n0).",
    ]
    if topology.disallowed:
        out.append(
            "# NOTE: this machine has CPUs outside the allowed set; logical indices here count every online PU "
            "(lstopo --whole-system), as Open MPI 4.1 does"
        )
    out += placeholder_note(command)
    out.append("set -euo pipefail")
    if not workers:
        out.append("echo 'ompviz: this plan gives no rank any CPU: nothing to launch' >&2")
        out.append("exit 1")
        return "\n".join(out) + "\n"
    overlap = _overlapping(workers)
    if overlap:
        out.append(
            f"# {plural(len(overlap), 'rank', count=False)} {','.join(map(str, overlap))} "
            f"{'shares' if len(overlap) == 1 else 'share'} CPUs with lower ranks: Open MPI 5 refuses overlapping "
            "rankfile bindings unless --bind-to :overload-allowed (its mpirun docs), so 5.x gets that option"
        )
    # The mpirun check comes first: with another MPI's mpirun nothing is written or launched.
    out.append(_OMPI_SELECT.format(rf=RANKFILE, overload=" --bind-to :overload-allowed" if overlap else ""))
    out.append(f"cat > {RANKFILE} <<'EOF'")
    for i, w in enumerate(workers):
        out.append(f"# rank {i}: OS CPUs {w.cpus.to_list()} = logical PUs L#{_logical(topology, w.cpus)}")
        out.append(f"rank {i}=localhost slot={_logical(topology, w.cpus)}")
    out.append("EOF")
    sub = Plan(plan.request, plan.topology_summary, tuple(workers), plan.warnings, plan.explanation)
    shared, per_rank = common_env(sub)
    line = 'mpirun "${OMPI_MAP[@]}"'
    cmd = quote_cmd(command)
    if any(per_rank):
        # Open MPI 4.1 applies an -x given before the first app context to that context only (checked with a
        # probe): every rank's OMP_* therefore goes through `env` in its own context, shared values included.
        out.append("# OMP_* values differ per rank: each rank is its own app context (MPMD) setting them with env")
        contexts = []
        for w in workers:
            assigns = " ".join(shlex.quote(f"{k}={v}") for k, v in w.env)
            contexts.append(f"-np 1 env {assigns} {cmd}" if assigns else f"-np 1 {cmd}")
        line += " \\\n  " + " \\\n  : ".join(contexts)
    else:
        for k, v in shared:
            line += f" -x {shlex.quote(f'{k}={v}')}"
        line += f" -np {len(workers)} {cmd}"
    out.append(line)
    return "\n".join(out) + "\n"
