"""``--strategy vllm``: what vLLM's CPU backend would bind on this machine.

Emulates ``OMPProcessManager`` from vllm/utils/ompmultiprocessing.py (vLLM PR #36487), used by the CPU worker
(vllm/v1/worker/cpu_worker.py) with strategy "nodes":

- ``VLLM_CPU_OMP_THREADS_BIND``: unset -> one mask = every CPU; ``nobind`` -> no OMP variables at all;
  ``A|B|...`` -> one mask per segment. Each mask is intersected with the process affinity
  (``os.sched_getaffinity(0)``) and, when ``CPU_VISIBLE_MEMORY_NODES`` is set, with the CPUs of those nodes.
- Every mask is split per NUMA node (``lscpu -J -e`` "node" column; ``-`` or junk counts as node 0): one place per
  node, keeping the first listed CPU of each core (lscpu lists CPUs in id order, so the lowest id) unless SMT is
  kept (``--smt all``).
- Places are sorted by the string ``"{len:04d}-{max:04d}"`` in reverse: largest first, ties broken by the higher
  top CPU id; worker i takes the i-th place; when they run out vLLM raises ``IndexError("Out of OMP places")``.
- Env per worker: ``OMP_PLACES`` = ``"{}".format(set_of_cpus)`` (Python set notation, ONE place),
  ``OMP_PROC_BIND=TRUE``, ``OMP_NUM_THREADS`` = place size - ``VLLM_CPU_NUM_OF_RESERVED_CPU`` (default 0).
- vLLM's mask parser (``parse_mask``) accepts ``N``, ``A-B`` and comma lists; ``int()`` failures raise ValueError
  (``auto``, hex, strides, empty tokens) and a reversed range raises IndexError. ompviz runs the same parsing and
  reports vLLM's exception as an error warning instead of failing.

ompviz's ``--reserve`` is not a vLLM knob: it is applied as if vLLM were started with those CPUs removed from its
affinity (e.g. under taskset), and said so in an info warning.
"""

from __future__ import annotations

from functools import partial
from itertools import repeat

from ompviz.cpuset import MAX_CPU, CpuSet
from ompviz.errors import OmpvizError
from ompviz.plan.model import PlanRequest, PlanWarning, ThreadPlacement, Worker, placement
from ompviz.plan.warnings import ranks_text
from ompviz.topology.model import Topology
from ompviz.words import plural

VARS = ("VLLM_CPU_OMP_THREADS_BIND", "VLLM_CPU_NUM_OF_RESERVED_CPU", "CPU_VISIBLE_MEMORY_NODES")


def vllm_parse_mask(mask: str, limit: int = MAX_CPU) -> set[int]:
    """Same steps as vLLM's ``parse_mask``: raises the same ValueError / IndexError on the same input. Ranges stop
    at ``limit`` (ids above it, e.g. CPUs the machine lacks, change nothing once intersected with real CPUs)."""
    result: list[int] = []
    for token in mask.split(","):
        try:
            start, finish = token.split("-")
            if int(start) > int(finish):
                raise IndexError("Invalid Indexes for cpu ranges")
            # every mask is intersected with real CPUs: stopping at the limit gives the same binding without
            # building a billion-element list for a typo like 0-1000000000
            result.extend(range(int(start), min(int(finish), limit) + 1))
        except ValueError:
            result.append(int(token))
    return set(result)


def _err(var: str, value: str, exc: Exception) -> PlanWarning:
    return PlanWarning(
        "vllm-error",
        "error",
        f"vLLM would fail at start-up: {type(exc).__name__}: {exc} (from {var}={value!r}); vLLM accepts only "
        "N, A-B and comma lists of them, segments separated by '|'",
    )


def _teaching(
    topology: Topology, request: PlanRequest, places: list[tuple[int, set[int]]], reserved: int, n_ranks: int
) -> list[PlanWarning]:
    out: list[PlanWarning] = []
    used = places[:n_ranks]
    if used:
        big = max(len(m) for _, m in used)
        out.append(
            PlanWarning(
                "vllm-whole-node-place",
                "info",
                f"each vLLM worker gets ONE place of up to {big} CPUs with OMP_PROC_BIND=TRUE: threads are bound to "
                "the whole place (NUMA node), not to one CPU each, so the OS may stack or move them inside it",
                tuple(range(len(used))),
            )
        )
    if reserved > 0 and used:
        out.append(
            PlanWarning(
                "vllm-reserved-in-place",
                "info",
                f"VLLM_CPU_NUM_OF_RESERVED_CPU={reserved} only lowers OMP_NUM_THREADS: the reserved CPUs stay inside "
                "the place, so OpenMP threads may still run on them",
                tuple(range(len(used))),
            )
        )
    nodes = [node for node, _ in used]
    if len(used) > 1 and nodes != sorted(nodes):
        order = ", ".join(f"rank {i} -> node {n}" for i, n in enumerate(nodes))
        out.append(
            PlanWarning(
                "vllm-rank-order",
                "info",
                f"rank order is not NUMA order ({order}): vLLM hands out places largest first, ties broken by the "
                "higher top CPU id",
                tuple(range(len(used))),
            )
        )
    return out


def _numa_alternative(topology: Topology, request: PlanRequest, n: int) -> PlanWarning | None:
    from dataclasses import replace

    from ompviz.plan.planner import candidate_cpus, split_ranks

    req = replace(request, strategy="numa", ranks=n, places="cores")
    cand = candidate_cpus(topology, req)
    if not cand or n < 1:
        return None
    sets, _ = split_ranks(topology, req, cand)
    desc = ", ".join(f"rank {i}: {s.to_list()}" for i, s in enumerate(sets))
    return PlanWarning(
        "vllm-vs-numa",
        "info",
        f"ompviz's own --strategy numa would give {desc}, in node order, with one place per core "
        "(OMP_PLACES lists the cores, so each thread gets its own core)",
        tuple(range(n)),
    )


def _node_places(
    topology: Topology, allowed: set[int], allowed_nodes: set[int] | None, keep_smt: bool
) -> list[tuple[int, set[int]]] | None:
    """vLLM's per-node split of one mask, with CPU-set algebra: (node, CPUs) in order of each node's lowest CPU,
    one CPU per core (the lowest) unless ``keep_smt``. None when some CPU is outside the topology's cores (then
    the caller's per-CPU walk, which mirrors vLLM line by line, decides)."""
    idx = topology.index
    bits = CpuSet(allowed).mask
    if bits & ~idx.covered:
        return None
    _, numa_masks, known = idx.attr_groups("numa")
    nodes: dict[int, int] = {}
    for node, gm in numa_masks.items():
        m = bits & gm
        if m:
            nodes[node] = m
    rest = bits & ~known
    if rest:  # no NUMA information: vLLM's _int("-") -> node 0
        nodes[0] = nodes.get(0, 0) | rest
    order = sorted(nodes, key=lambda n: (nodes[n] & -nodes[n]).bit_length())
    out = []
    for node in order:
        if allowed_nodes is not None and node not in allowed_nodes:
            continue
        m = nodes[node] if keep_smt else idx.one_per_core(nodes[node])
        out.append((node, set(CpuSet.from_mask(m).ids)))  # ascending inserts, as vLLM's loop: same set repr
    return out


def _on_one_place(gi: tuple, li: tuple, cpus: CpuSet) -> tuple[tuple, tuple, tuple]:
    """The libgomp and LLVM placements of a vLLM worker (threads on places ``gi`` / ``li`` of its one place)."""
    gnu = tuple(map(placement, range(len(gi)), gi, repeat(cpus)))
    return gnu, gnu if li == gi else tuple(map(placement, range(len(li)), li, repeat(cpus))), ()


def plan_vllm(topology: Topology, request: PlanRequest) -> tuple[list[Worker], list[PlanWarning], dict]:
    """Workers, warnings and explanation info for ``--strategy vllm``."""
    vars_ = dict(request.vllm_vars)
    warns: list[PlanWarning] = []
    n = request.ranks
    unknown = sorted(k for k in vars_ if k not in VARS)
    if unknown:
        warns.append(
            PlanWarning(
                "vllm-unknown-var",
                "warning",
                f"{', '.join(unknown)} not used by vLLM's CPU binding (known: {', '.join(VARS)})",
            )
        )
    affinity = topology.allowed - request.reserve
    if request.reserve:
        warns.append(
            PlanWarning(
                "vllm-reserve",
                "info",
                f"--reserve {request.reserve.to_list()} is not a vLLM setting: emulated as if vLLM ran with those CPUs "
                "removed from its affinity (e.g. under taskset)",
                cpus=request.reserve,
            )
        )
    keep_smt = request.smt == "all"
    if request.smt == "one-last":
        warns.append(
            PlanWarning(
                "vllm-smt",
                "info",
                "vLLM keeps either the first listed sibling of each core or all of them: --smt one-last acts as one",
            )
        )
    info: dict = {}
    bind = vars_.get("VLLM_CPU_OMP_THREADS_BIND")
    explain = [
        "vllm: emulates vLLM's CPU backend (OMPProcessManager, vllm/utils/ompmultiprocessing.py): one place per "
        "NUMA node of each VLLM_CPU_OMP_THREADS_BIND segment, handed to workers largest first.",
    ]
    info["vllm_explain"] = explain

    if bind == "nobind":
        explain.append("VLLM_CPU_OMP_THREADS_BIND=nobind: vLLM sets no OMP variable; each runtime uses its defaults.")
        workers = []
        T = len(affinity)
        ts = tuple(ThreadPlacement(i, None, affinity) for i in range(T))  # the same for every worker: shared
        for r in range(n):
            workers.append(Worker(r, affinity, (), (), T, ts, ts))
        warns.append(
            PlanWarning(
                "vllm-nobind",
                "warning",
                f"VLLM_CPU_OMP_THREADS_BIND=nobind: workers get no OMP variables, so each starts one thread per "
                f"allowed CPU ({T}) and all {n} workers share them unbound",
                tuple(range(n)),
                affinity,
            )
        )
        return workers, warns, info

    # Parse everything vLLM parses, in its order; any exception means vLLM fails before any worker starts.
    try:
        top = topology.all_cpus.last or 0
        masks = [vllm_parse_mask(spec, top) for spec in bind.split("|")] if bind is not None else [None]
    except (ValueError, IndexError) as e:
        return [], [*warns, _err("VLLM_CPU_OMP_THREADS_BIND", bind or "", e)], info
    nodes_txt = vars_.get("CPU_VISIBLE_MEMORY_NODES")
    try:
        allowed_nodes = vllm_parse_mask(nodes_txt) if nodes_txt is not None else None
    except (ValueError, IndexError) as e:
        return [], [*warns, _err("CPU_VISIBLE_MEMORY_NODES", nodes_txt or "", e)], info
    res_txt = vars_.get("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    try:
        reserved = int(res_txt)
    except ValueError as e:
        return [], [*warns, _err("VLLM_CPU_NUM_OF_RESERVED_CPU", res_txt, e)], info
    from ompviz.plan.planner import MAX_THREADS, _place_index

    if -reserved > MAX_THREADS:  # a negative count raises OMP_NUM_THREADS: a typo must not plan a million threads
        raise OmpvizError(
            f"VLLM_CPU_NUM_OF_RESERVED_CPU={reserved} would give each worker more than {MAX_THREADS:,} OpenMP "
            "threads; give 0 or a small positive number"
        )

    by_os = topology._by_os
    places: list[tuple[int, set[int]]] = []  # (node, mask)
    aff_ids = set(affinity.ids)
    for mask in masks:
        allowed = aff_ids if mask is None else aff_ids & mask
        fast = _node_places(topology, allowed, allowed_nodes, keep_smt)
        if fast is not None:
            places.extend(fast)
            continue
        nodes: dict[int, list[int]] = {}
        for c in sorted(allowed):  # lscpu -e lists CPUs in id order
            pu = by_os.get(c)
            if pu is None:
                continue
            node = pu.numa if pu.numa is not None else 0  # vLLM's _int("-") -> 0
            if allowed_nodes is not None and node not in allowed_nodes:
                continue
            nodes.setdefault(node, []).append(c)
        for node, cpus in nodes.items():
            seen_cores: set[object] = set()
            kept = []
            for c in cpus:
                core = by_os[c].core
                if keep_smt or core not in seen_cores:
                    kept.append(c)
                seen_cores.add(core)
            places.append((node, set(kept)))
    places.sort(key=lambda p: "{:04d}-{:04d}".format(len(p[1]), max(p[1])), reverse=True)  # noqa: UP032 - as vLLM

    workers: list[Worker] = []
    index_cache: dict = {}  # workers of one node size share their thread -> place rule: computed once
    out_of: list[int] = []
    low: list[int] = []
    for r in range(n):
        if r >= len(places):
            out_of.append(r)
            workers.append(Worker(r, CpuSet(), (), (), 0, (), ()))
            continue
        _node, mask = places[r]
        cpus = CpuSet(mask)
        T = len(mask) - reserved
        env = (("OMP_PLACES", "{}".format(mask)), ("OMP_PROC_BIND", "TRUE"), ("OMP_NUM_THREADS", str(T)))  # noqa: UP032
        if T < 1:
            low.append(r)
            workers.append(Worker(r, cpus, (cpus,), env, T, (), ()))
        else:
            gi, li = _place_index("gnu", "true", 1, T, index_cache), _place_index("llvm", "true", 1, T, index_cache)
            # every thread on the one place; built when first read (the explorer reads one rank's threads)
            workers.append(Worker.deferred(r, cpus, (cpus,), env, T, (gi, li), partial(_on_one_place, gi, li, cpus)))
    if out_of:
        warns.append(
            PlanWarning(
                "vllm-out-of-places",
                "error",
                f"vLLM fails with IndexError: Out of OMP places for {ranks_text(out_of)}: only "
                f"{plural(len(places), 'place')} (one per NUMA node per segment) for {plural(n, 'worker')}",
                tuple(out_of),
            )
        )
    if low:
        warns.append(
            PlanWarning(
                "vllm-threads-lt-1",
                "error",
                f"OMP_NUM_THREADS < 1 for {ranks_text(low)}: VLLM_CPU_NUM_OF_RESERVED_CPU={reserved} "
                "is at least the place size",
                tuple(low),
            )
        )
    warns.extend(_teaching(topology, request, places, reserved, n))
    alt = _numa_alternative(topology, request, n)
    if alt is not None:
        warns.append(alt)
    explain.append(
        f"{plural(len(places), 'place')} found; "
        + "; ".join(f"rank {i}: node {nd}" for i, (nd, _) in enumerate(places[:n]))
    )
    return workers, warns, info
