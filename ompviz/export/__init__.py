"""Plan -> text for the tools people launch with. One small pure function per format, shared by CLI and TUI.

``render(fmt, plan, topology, command=[...])`` returns the text; ``FORMATS`` lists every format with a one-line
description (for help texts and the TUI export dialog). ``text`` and ``json`` are the plan itself (json = the saved
config, see ``ompviz.export.config``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ompviz.errors import OmpvizError
from ompviz.plan.model import Plan
from ompviz.topology.model import Topology


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    description: str
    render: Callable[..., str]
    filename: str  # a sensible default file name for the TUI's save dialog


def _text(plan: Plan, topology: Topology, *, command: list[str] | None = None) -> str:
    from ompviz.plan.serialize import plan_to_text

    text = plan_to_text(plan)
    return text if text.endswith("\n") else text + "\n"


def _json(plan: Plan, topology: Topology, *, command: list[str] | None = None) -> str:
    from ompviz.export.config import to_json

    return to_json(plan, topology, command=command)


def _lazy(module: str, func: str) -> Callable[..., str]:
    def call(plan: Plan, topology: Topology, *, command: list[str] | None = None) -> str:
        import importlib

        return getattr(importlib.import_module(module), func)(plan, topology, command=command)

    return call


_SH = "ompviz.export.shell"
FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("text", "the plan as a readable table with its warnings", _text, "plan.txt"),
        Format("json", "saved config: topology snapshot + request + plan (reopen with --config)", _json, "ompviz.json"),
        Format(
            "sh",
            "bash launcher: env OMP_...=... CMD & per rank, waits, stops all on a signal",
            _lazy(_SH, "to_sh"),
            "launch.sh",
        ),
        Format(
            "env",
            "dotenv block per rank (or --per-rank-dir DIR for rank-N.env files)",
            _lazy(_SH, "to_env"),
            "ranks.env",
        ),
        Format(
            "vllm",
            "VLLM_CPU_OMP_THREADS_BIND / VLLM_CPU_NUM_OF_RESERVED_CPU, checked",
            _lazy("ompviz.export.vllm", "to_vllm"),
            "vllm.env",
        ),
        Format(
            "slurm",
            "srun --cpu-bind=mask_cpu:... (map_cpu for one CPU per rank) + OMP_*",
            _lazy("ompviz.export.launchers", "to_slurm"),
            "srun.sh",
        ),
        Format(
            "openmpi",
            "Open MPI rankfile (hwloc logical PUs) + mpirun --rankfile line",
            _lazy("ompviz.export.launchers", "to_openmpi"),
            "mpirun.sh",
        ),
        Format(
            "numactl",
            "numactl --physcpubind=... --membind=<NUMA nodes of the rank> per rank",
            _lazy(_SH, "to_numactl"),
            "numactl.sh",
        ),
        Format("taskset", "taskset -c ... per rank", _lazy(_SH, "to_taskset"), "taskset.sh"),
        Format(
            "docker", "docker run --cpuset-cpus --cpuset-mems -e OMP_... per rank", _lazy(_SH, "to_docker"), "docker.sh"
        ),
        Format("likwid", "likwid-pin -c <one CPU per thread> per rank", _lazy(_SH, "to_likwid"), "likwid.sh"),
        Format(
            "kmp", "KMP_AFFINITY=granularity=fine,explicit,proclist=[...] (LLVM/Intel)", _lazy(_SH, "to_kmp"), "kmp.sh"
        ),
        Format("gomp", "GOMP_CPU_AFFINITY (libgomp)", _lazy(_SH, "to_gomp"), "gomp.sh"),
    )
}

# Formats that are shell scripts: written with the executable bit.
EXECUTABLE = frozenset({"sh", "slurm", "openmpi", "numactl", "taskset", "docker", "likwid", "kmp", "gomp"})


def render(fmt: str, plan: Plan, topology: Topology, *, command: list[str] | None = None, **opts) -> str:
    """The text of ``plan`` in format ``fmt``; ``command`` is the worker command (None = a marked placeholder)."""
    f = FORMATS.get(fmt)
    if f is None:
        raise OmpvizError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if opts:
        raise OmpvizError(f"format {fmt}: unexpected options {', '.join(sorted(opts))}")
    return f.render(plan, topology, command=list(command) if command else None)


__all__ = ["EXECUTABLE", "FORMATS", "Format", "render"]
