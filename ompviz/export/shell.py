"""Exporters that produce shell text: sh launcher, dotenv blocks, and one launch line per rank for taskset,
numactl, docker, likwid-pin, KMP_AFFINITY and GOMP_CPU_AFFINITY.

Every word that comes from the user (the command after ``--``) or from the plan goes through shlex.quote, so a
command holding ``$(...)``, backticks, quotes, ``;`` or newlines is passed to the program verbatim, never run.
"""

from __future__ import annotations

import re
import shlex

from ompviz.export.common import (
    OMP_VARS,
    cmd_words,
    env_assignments,
    header,
    numa_nodes,
    omp_env,
    ordered_list,
    placeholder_note,
    quote_cmd,
    rank_comment,
    thread_cpus,
)
from ompviz.plan.model import Plan, Worker
from ompviz.topology.model import Topology

_SH_TRAP = """\
pids=()
# Stop every rank when the launcher is interrupted or terminated, then report the signal's status.
# shellcheck disable=SC2317  # stop() is only reached through the traps below
stop() {
  trap - INT TERM HUP
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null || true
  fi
  wait || true
  exit "$1"
}
trap 'stop 130' INT
trap 'stop 143' TERM
trap 'stop 129' HUP
"""

_SH_WAIT = """\
# Wait for every rank; exit with the last failing rank's status (0 when all succeeded).
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=$?
done
exit "$status"
"""


def to_sh(plan: Plan, topology: Topology, *, command: list[str] | None = None) -> str:
    """A bash launcher: one ``env OMP_...=... CMD &`` line per rank, waits for all, stops them on a signal."""
    out = ["#!/usr/bin/env bash"]
    out += header(plan, topology, "sh")
    out += placeholder_note(command)
    out.append("set -euo pipefail")
    out.append("")
    out.append("# The worker command, one quoted word per array item (run verbatim, never re-parsed by the shell).")
    out.append("# shellcheck disable=SC2016  # words in single quotes are meant literally: the program gets them as is")
    out.append("CMD=(" + " ".join(shlex.quote(a) for a in cmd_words(command)) + ")")
    out.append("")
    out.append(_SH_TRAP)
    for w in plan.workers:
        out.append(rank_comment(topology, w))
        if not w.cpus and not w.env:
            out.append(f"# rank {w.rank} has no CPUs in this plan: not started")
            continue
        env = omp_env(w)
        if not env:
            out.append("# no OMP_* variables for this rank (the plan binds nothing)")
        prefix = f"env {env_assignments(env)} " if env else ""
        out.append(f'{prefix}"${{CMD[@]}}" &')
        out.append("pids+=($!)")
    out.append("")
    out.append(_SH_WAIT.rstrip("\n"))
    return "\n".join(out) + "\n"


_DOTENV_SAFE = re.compile(r"^[A-Za-z0-9_.,:/+-]*$")


def _dotenv_value(v: str) -> str:
    # Double quotes are understood by bash `source`, python-dotenv, systemd and compose env files; the values
    # are generated (numbers, braces, words), so they never hold a character special inside double quotes.
    if _DOTENV_SAFE.match(v):
        return v
    if not any(ch in v for ch in '"$`\\\n'):
        return f'"{v}"'
    return shlex.quote(v)


def env_blocks(plan: Plan, topology: Topology) -> list[tuple[int, str]]:
    """(rank, dotenv text) per rank; used for one file or for DIR/rank-N.env files."""
    out = []
    for w in plan.workers:
        lines = [rank_comment(topology, w)]
        env = omp_env(w)
        if not env:
            lines.append("# no OMP_* variables for this rank")
        lines += [f"{k}={_dotenv_value(v)}" for k, v in env]
        out.append((w.rank, "\n".join(lines) + "\n"))
    return out


def to_env(plan: Plan, topology: Topology, *, command: list[str] | None = None) -> str:
    """One dotenv block per rank under a ``# rank N`` header."""
    out = header(plan, topology, "env")
    out.append(
        "# load one rank's block in bash with: set -a; . ./rank-N.env; set +a   (ompviz plan --per-rank-dir DIR)"
    )
    text = "\n".join(out) + "\n"
    for _, block in env_blocks(plan, topology):
        text += "\n" + block
    return text


def env_file(plan: Plan, topology: Topology, rank: int) -> str:
    """The ``rank-N.env`` file for one rank: header + that rank's block."""
    block = dict(env_blocks(plan, topology))[rank]
    return "\n".join(header(plan, topology, "env")) + "\n" + block


def _lines(
    plan: Plan, topology: Topology, fmt: str, notes: list[str], line, command: list[str] | None, placeholder=True
) -> str:
    """Shared skeleton of the one-line-per-rank formats: header, notes, ``LINE &`` per rank, ``wait``."""
    out = header(plan, topology, fmt)
    out += [f"# {n}" for n in notes]
    if placeholder:
        out += placeholder_note(command)
    for w in plan.workers:
        out.append(rank_comment(topology, w))
        if not w.cpus:
            out.append(f"# rank {w.rank} has no CPUs in this plan: not started")
            continue
        out.append(line(w) + " &")
    out.append("wait")
    return "\n".join(out) + "\n"


def _env_prefix(w: Worker) -> str:
    env = omp_env(w)
    return f"env {env_assignments(env)} " if env else ""


def to_taskset(plan: Plan, topology: Topology, *, command: list[str] | None = None) -> str:
    notes = ["taskset -c takes OS CPU ids; it sets the process mask, OMP_* then binds threads inside it"]
    return _lines(
        plan,
        topology,
        "taskset",
        notes,
        lambda w: f"{_env_prefix(w)}taskset -c {w.cpus.to_list()} {quote_cmd(command)}",
        command,
    )


def to_numactl(plan: Plan, topology: Topology, *, command: list[str] | None = None) -> str:
    notes = [
        "numactl --physcpubind takes OS CPU ids; --membind lists the NUMA nodes (OS ids) holding the rank's CPUs",
    ]

    def line(w: Worker) -> str:
        nodes = numa_nodes(topology, w.cpus)
        mem = f" --membind={','.join(map(str, nodes))}" if nodes else ""
        return f"{_env_prefix(w)}numactl --physcpubind={w.cpus.to_list()}{mem} -- {quote_cmd(command)}"

    return _lines(plan, topology, "numactl", notes, line, command)


DOCKER_IMAGE = "REPLACE-WITH-YOUR-IMAGE"


def to_docker(plan: Plan, topology: Topology, *, command: list[str] | None = None) -> str:
    notes = [
        "--cpuset-cpus/--cpuset-mems take host OS ids; inside the container the CPUs keep those ids",
        f"{DOCKER_IMAGE} is a placeholder: replace it with your image",
    ]

    def line(w: Worker) -> str:
        nodes = numa_nodes(topology, w.cpus)
        mems = f" --cpuset-mems={','.join(map(str, nodes))}" if nodes else ""
        envs = "".join(f" -e {shlex.quote(f'{k}={v}')}" for k, v in omp_env(w))
        cmd = f" {' '.join(shlex.quote(a) for a in command)}" if command else ""
        return f"docker run --rm --cpuset-cpus={w.cpus.to_list()}{mems}{envs} {DOCKER_IMAGE}{cmd}"

    # Without a command the image's own CMD runs: nothing to replace but the image name.
    return _lines(plan, topology, "docker", notes, line, command, placeholder=False)


def _threads_env(w: Worker) -> list[tuple[str, str]]:
    return [("OMP_NUM_THREADS", str(w.num_threads))] if w.num_threads >= 1 else []


def _unset_omp() -> str:
    # OMP_PLACES / OMP_PROC_BIND take precedence over (or fight with) these per-thread pinning schemes.
    return "env -u OMP_PLACES -u OMP_PROC_BIND "


def to_likwid(plan: Plan, topology: Topology, *, command: list[str] | None = None) -> str:
    runtime = plan.request.runtime
    notes = [
        "likwid-pin -c without a domain prefix uses physical numbering = OS CPU ids; it pins thread i (creation",
        "order, the primary thread first) to the i-th CPU of the list: ONE CPU per thread, as the plan's "
        f"{runtime} placement puts thread i",
        "OMP_PLACES/OMP_PROC_BIND are unset so the OpenMP runtime does not re-bind what likwid-pin pinned",
    ]

    def line(w: Worker) -> str:
        cpus = thread_cpus(w, runtime)
        env = _threads_env(w)
        return f"{_unset_omp()}{env_assignments(env)} likwid-pin -q -c {ordered_list(cpus)} {quote_cmd(command)}"

    return _lines(plan, topology, "likwid", notes, line, command)


def kmp_value(w: Worker, runtime: str = "llvm") -> str:
    return f"granularity=fine,explicit,proclist=[{','.join(map(str, thread_cpus(w, runtime)))}]"


def gomp_value(w: Worker, runtime: str = "gnu") -> str:
    return ordered_list(thread_cpus(w, runtime), sep=" ")


def to_kmp(plan: Plan, topology: Topology, *, command: list[str] | None = None) -> str:
    notes = [
        "KMP_AFFINITY is read by LLVM libomp and Intel libiomp5 (not by libgomp); proclist holds OS CPU ids,",
        "thread i is bound to the i-th entry (granularity=fine: one CPU each), as the plan's llvm placement puts it",
    ]

    def line(w: Worker) -> str:
        env = [("KMP_AFFINITY", kmp_value(w)), *_threads_env(w)]
        return f"{_unset_omp()}{env_assignments(env)} {quote_cmd(command)}"

    return _lines(plan, topology, "kmp", notes, line, command)


def to_gomp(plan: Plan, topology: Topology, *, command: list[str] | None = None) -> str:
    notes = [
        "GOMP_CPU_AFFINITY is read by libgomp (GCC), ignored when OMP_PLACES is set or OMP_PROC_BIND=false;",
        "OS CPU ids, thread i is bound to the i-th CPU (one each), as the plan's gnu placement puts it",
    ]

    def line(w: Worker) -> str:
        env = [("GOMP_CPU_AFFINITY", gomp_value(w)), *_threads_env(w)]
        return f"{_unset_omp()}{env_assignments(env)} {quote_cmd(command)}"

    return _lines(plan, topology, "gomp", notes, line, command)


__all__ = [
    "OMP_VARS",
    "env_blocks",
    "env_file",
    "to_docker",
    "to_env",
    "to_gomp",
    "to_kmp",
    "to_likwid",
    "to_numactl",
    "to_sh",
    "to_taskset",
]
