"""Plain-language explanation of a plan on THIS machine: strategy, places, bind (the TUI's explain panel)."""

from __future__ import annotations

from ompviz.plan import runtime as rt
from ompviz.plan.model import Plan
from ompviz.plan.warnings import cpus_text
from ompviz.topology.model import Topology
from ompviz.words import plural

_PLACES_WORDS = {
    "threads": "one place per hardware thread (CPU)",
    "cores": "one place per core, holding the core's SMT siblings in the rank",
    "ll_caches": "one place per last-level (L3) cache group",
    "numa_domains": "one place per NUMA node",
    "sockets": "one place per package (socket)",
}


def _machine(topology: Topology, s: dict) -> str:
    smt = topology.smt
    return (
        f"{s['name']}: {plural(s['packages'], 'package')}, {plural(s['numa_nodes'], 'NUMA node')}, "
        f"{plural(s['l3_caches'], 'L3 group')}, {plural(s['cores'], 'core')}, {plural(s['pus'], 'CPU')}"
        + (f" ({smt} hardware threads per core)" if smt > 1 else "")
    )


def _strategy(topology: Topology, plan: Plan, info: dict) -> list[str]:
    req = plan.request
    n = len(plan.workers)
    st = req.strategy
    if st == "compact":
        return [
            f"compact: {'the 1 rank takes' if n == 1 else f'the {n} ranks take'} consecutive cores in hwloc "
            "logical order, so "
            "neighbouring ranks share packages and caches; a rank only crosses an L3/NUMA/package boundary when "
            "the cores do not divide evenly."
        ]
    if st == "spread":
        return [
            f"spread: ranks are dealt round-robin over the {plural(len(topology.packages), 'package')}, then NUMA "
            "nodes, then L3 groups (rank 0 on the first, rank 1 on the next ...), each with an equal share of cores, "
            "so every rank gets its own memory bandwidth and cache."
        ]
    if st == "numa":
        return [
            f"numa: each rank gets whole NUMA nodes (or an equal slice of one when there are more ranks than the "
            f"{plural(len(topology.numa_nodes), 'node')}), so its memory is local."
        ]
    if st == "l3":
        return [
            f"l3: each rank gets whole L3 cache groups (or an equal slice of one) out of the {len(topology.l3s)} "
            "on this machine, so its threads share one last-level cache and nobody else's."
        ]
    if st == "distrib":
        return [
            "distrib: hwloc_distrib() divides the ranks over packages, then caches, then cores in proportion to "
            "their CPU counts, exactly like `hwloc-distrib N`."
        ]
    if st == "manual":
        return ["manual: each rank gets exactly the CPU list given in --cpus (minus reserved CPUs)."]
    if st == "vllm":
        return list(info.get("vllm_explain", ()))
    return []


def _relation(topology: Topology, a, b) -> str:
    """Where CPU set b lies relative to a on this machine, from the coarsest difference down."""
    pa, pb = topology._by_os.get(a.first), topology._by_os.get(b.first)
    if pa is None or pb is None:
        return "another CPU"
    if pa.package != pb.package:
        return f"the other package (package {pb.package}, thread 0 is on package {pa.package})"
    if pa.numa != pb.numa:
        return f"another NUMA node (node {pb.numa})"
    if pa.l3 != pb.l3:
        return "another L3 cache group"
    if pa.core != pb.core:
        return "another core of the same L3 cache"
    return "the SMT sibling of thread 0's CPU: the same core, so both threads share its execution units"


def _bind(topology: Topology, plan: Plan) -> list[str]:
    req = plan.request
    lines: list[str] = []
    w = next((w for w in plan.workers if w.places and w.num_threads >= 1), None)
    if w is None:
        return lines
    P, T = len(w.places), w.num_threads
    lines.append(rt.describe("gnu", req.bind, P, T))
    if req.bind != "false" and rt.runtime_differs(req.bind, P, T):
        lines.append(rt.describe("llvm", req.bind, P, T))
    if req.bind == "spread" and 1 < T <= P and w.gnu[1].place is not None:
        t0, t1 = w.gnu[0], w.gnu[1]
        a, b = w.places[t0.place], w.places[t1.place]
        lines.append(
            f"spread: thread 1 goes to place {t1.place} (CPU {b.to_list()}), not next to thread 0 (CPU "
            f"{a.to_list()}): spread cuts the {P} places into {T} parts and starts each thread at its own part; "
            f"here that is {_relation(topology, a, b)}."
        )
    if req.bind == "close" and T > 1:
        lines.append(
            "close: thread i goes to the place right after thread i-1's, so a team stays together and shares caches."
        )
    return lines


def _places(topology: Topology, plan: Plan) -> list[str]:
    req = plan.request
    w = next((w for w in plan.workers if w.places), None)
    if w is None:
        return []
    count = plural(len(w.places), "place")
    line = f"places={req.places}: {_PLACES_WORDS[req.places]}; rank {w.rank} has {count}."
    lines = [line]
    if req.places == "cores" and topology.smt > 1 and req.smt == "all":
        lines.append(
            "SMT siblings share a core: its execution units, L1 and L2 caches. With places=cores a thread may run "
            f"on any of the {topology.smt} siblings of its core, and two threads are never put on one core while "
            "another place is free."
        )
    if req.places == "threads" and topology.smt > 1 and req.smt == "all":
        lines.append(
            "places=threads with SMT: neighbouring places may be siblings of one core, so close binding can put "
            "two threads on one core (they share its execution units); use --smt one or places=cores to avoid it."
        )
    return lines


def explain(topology: Topology, plan: Plan, info: dict | None = None) -> list[str]:
    """Lines of plain text, most important first."""
    info = info or {}
    lines = [_machine(topology, plan.topology_summary)]
    lines += _strategy(topology, plan, info)
    lines += _places(topology, plan)
    lines += _bind(topology, plan)
    reserve = plan.request.reserve
    if reserve:
        verb = plural(len(reserve), "is", "are", count=False)
        lines.append(f"reserve: {cpus_text(reserve)} {verb} kept out of every rank for the main process.")
    return lines
