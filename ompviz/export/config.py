"""The saved config (``--format json``): versioned, self-contained, reopened by ``--config FILE``.

Layout (version 1)::

    {"schema": "ompviz-config", "version": 1, "ompviz_version": "...",
     "topology": {<summary keys>, "source": ..., "snapshot": <ompviz topology snapshot>},
     "request": PlanRequest.to_dict(),
     "workers": [...], "warnings": [...], ...      <- the keys of plan_to_dict (the `plan --format json` layout)
     "command": [...] | null}

The plan keys sit at the top level so the file is also a valid ``ompviz plan --format json`` document. The
embedded snapshot makes the file reopen on another machine; loading warns when it differs from the live one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from ompviz import __version__
from ompviz.cpuset import CpuSet, parse_list
from ompviz.errors import OmpvizError
from ompviz.plan.model import BIND_POLICIES, NOTATIONS, PLACES, RUNTIMES, SMT_POLICIES, STRATEGIES, Plan, PlanRequest
from ompviz.topology.model import Topology
from ompviz.words import plural

SCHEMA = "ompviz-config"
VERSION = 1
MAX_CONFIG_BYTES = 64 * 1024 * 1024  # a 65,536-PU snapshot is a few MB; anything far bigger is not ours


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    topology: Topology  # the embedded snapshot, or the --topology override
    request: PlanRequest
    saved_plan: dict  # the plan part as saved: {"workers": [...], "warnings": [...], ...}
    notes: tuple[str, ...] = ()  # one-line warnings: topology differs from the live machine, etc.
    command: tuple[str, ...] | None = None  # the worker command saved with the config, if any


def config_dict(plan: Plan, topology: Topology, *, command: list[str] | None = None) -> dict:
    from ompviz.plan.serialize import plan_to_dict
    from ompviz.topology.snapshot import to_snapshot

    body = plan_to_dict(plan)
    topo = dict(body.get("topology") or topology.summary())
    topo["source"] = topology.source
    topo["snapshot"] = to_snapshot(topology, levels=True)  # distrib needs the hwloc tree to replan exactly
    out: dict = {"schema": SCHEMA, "version": VERSION, "ompviz_version": __version__}
    out.update(body)
    out["topology"] = topo
    out["request"] = plan.request.to_dict()
    out["command"] = list(command) if command else None
    return out


def to_json(plan: Plan, topology: Topology, *, command: list[str] | None = None) -> str:
    return json.dumps(config_dict(plan, topology, command=command), indent=1) + "\n"


# -- loading ------------------------------------------------------------------------------------------------


def _choice(d: dict, key: str, choices: tuple[str, ...], default: str, where: str) -> str:
    v = d.get(key, default)
    if v not in choices:
        raise OmpvizError(f"{where}: request.{key} is {v!r}; expected one of {', '.join(choices)}")
    return v


def request_from_dict(d: object, where: str = "config") -> PlanRequest:
    """Inverse of PlanRequest.to_dict, with one-line errors naming the bad field."""
    if not isinstance(d, dict):
        raise OmpvizError(f"{where}: 'request' must be an object")
    base = PlanRequest()
    ranks = d.get("ranks", base.ranks)
    if not isinstance(ranks, int) or isinstance(ranks, bool) or ranks < 1:
        raise OmpvizError(f"{where}: request.ranks is {ranks!r}; expected a whole number >= 1")
    threads = d.get("threads", "auto")
    if threads in ("auto", None):
        threads = None
    elif not isinstance(threads, int) or isinstance(threads, bool):
        raise OmpvizError(f'{where}: request.threads is {threads!r}; expected a whole number or "auto"')
    reserve = d.get("reserve", [])
    try:
        if isinstance(reserve, str):
            reserve_set = parse_list(reserve)
        elif isinstance(reserve, list) and all(isinstance(c, int) and not isinstance(c, bool) for c in reserve):
            reserve_set = CpuSet(reserve)
        else:
            raise OmpvizError("expected a list of CPU ids")
    except OmpvizError as e:
        raise OmpvizError(f"{where}: request.reserve: {e}") from None
    cpus = d.get("cpus")
    if cpus is not None and not isinstance(cpus, str):
        raise OmpvizError(f'{where}: request.cpus is {cpus!r}; expected a string like "0-31|32-63" or null')
    vv = d.get("vllm_vars") or {}
    if not isinstance(vv, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in vv.items()):
        raise OmpvizError(f"{where}: request.vllm_vars must map names to string values")
    return PlanRequest(
        ranks=ranks,
        threads=threads,
        strategy=_choice(d, "strategy", STRATEGIES, base.strategy, where),
        smt=_choice(d, "smt", SMT_POLICIES, base.smt, where),
        reserve=reserve_set,
        places=_choice(d, "places", PLACES, base.places, where),
        notation=_choice(d, "notation", NOTATIONS, base.notation, where),
        bind=_choice(d, "bind", BIND_POLICIES, base.bind, where),
        runtime=_choice(d, "runtime", RUNTIMES, base.runtime, where),
        cpus=cpus,
        vllm_vars=tuple(vv.items()),
    )


def _signature(t: Topology) -> tuple:
    """What a plan depends on: PU ids and their grouping, online/allowed flags (not names or sources)."""
    return (
        tuple((p.os_index, p.numa, p.package, p.online, p.allowed) for p in t.pus),
        tuple(c.cpus for c in t.cores),
        tuple(g.cpus for g in t.l3s),
        tuple(g.cpus for g in t.numa_nodes),
    )


def same_machine(a: Topology, b: Topology) -> bool:
    return _signature(a) == _signature(b)


def _describe(t: Topology) -> str:
    s = t.summary()
    return f"'{t.name}' ({plural(s['pus'], 'PU')}, {plural(s['numa_nodes'], 'NUMA node')}, {len(t.allowed)} allowed)"


def _load_live() -> Topology | None:
    from ompviz.topology import load

    try:
        return load("live")
    except (OmpvizError, OSError):
        return None


def load_config(
    path: str,
    *,
    topology: str | None = None,
    live: Callable[[], Topology | None] | None = None,
) -> LoadedConfig:
    """Read a saved config. ``topology`` (a --topology source) overrides the embedded snapshot.

    ``live`` returns the current machine for the comparison note (default: the live sysfs topology; tests pass
    their own). Malformed files and unknown versions raise OmpvizError with one line.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise OmpvizError(f"{path}: cannot read config: {e.strerror or e}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise OmpvizError(f"{path}: too large for an ompviz config")
    try:
        d = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise OmpvizError(f"{path}: not an ompviz config (not UTF-8 text)") from None
    except json.JSONDecodeError as e:
        raise OmpvizError(f"{path}: not an ompviz config (invalid JSON at line {e.lineno}: {e.msg})") from None
    except RecursionError:
        raise OmpvizError(f"{path}: not an ompviz config (JSON nested too deeply)") from None
    if not isinstance(d, dict) or d.get("schema") != SCHEMA:
        raise OmpvizError(f'{path}: not an ompviz config (no "schema": "{SCHEMA}"); save one with --format json')
    version = d.get("version")
    if version != VERSION:
        raise OmpvizError(
            f"{path}: config version {version!r} is not supported by ompviz {__version__} (it reads version {VERSION})"
        )
    request = request_from_dict(d.get("request"), path)
    topo_d = d.get("topology")
    if not isinstance(topo_d, dict):
        raise OmpvizError(f"{path}: 'topology' must be an object")
    saved_source = topo_d.get("source") if isinstance(topo_d.get("source"), str) else path
    snap = topo_d.get("snapshot")
    embedded: Topology | None = None
    if snap is not None:
        from ompviz.topology.snapshot import from_snapshot

        if not isinstance(snap, dict):
            raise OmpvizError(f"{path}: topology.snapshot must be an object")
        try:
            embedded = from_snapshot(snap, source=saved_source)
        except OmpvizError as e:
            raise OmpvizError(f"{path}: embedded topology: {e}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise OmpvizError(f"{path}: embedded topology is malformed ({type(e).__name__}: {e})") from None

    notes: list[str] = []
    if topology is not None:
        from ompviz.topology import load

        topo = load(topology)
        if embedded is not None and not same_machine(embedded, topo):
            notes.append(
                f"{path}: planning for {topology} {_describe(topo)}, not the machine the config was saved on "
                f"{_describe(embedded)}"
            )
    elif embedded is not None:
        topo = embedded
        current = (live or _load_live)()
        if current is not None and not same_machine(embedded, current):
            notes.append(
                f"{path}: saved on {_describe(embedded)}, which differs from this machine {_describe(current)}: "
                "planning for the saved machine; add --topology live to plan for this one"
            )
    else:
        from ompviz.topology import load

        topo = load(saved_source)
        notes.append(f"{path}: no embedded topology; loaded it again from {saved_source}")

    saved_plan = {k: v for k, v in d.items() if k not in ("schema", "version", "ompviz_version", "topology", "request")}
    cmd = d.get("command")
    command = tuple(cmd) if isinstance(cmd, list) and all(isinstance(a, str) for a in cmd) and cmd else None
    return LoadedConfig(topo, request, saved_plan, tuple(notes), command)


def plan_matches_saved(plan: Plan, saved_plan: dict) -> bool:
    """True when replanning gives the workers and warnings the config recorded."""
    from ompviz.plan.serialize import plan_to_dict

    now = json.loads(json.dumps(plan_to_dict(plan)))
    return all(now.get(k) == saved_plan.get(k) for k in ("workers", "warnings"))
