"""Warnings about a plan: stable codes, severity info|warning|error, the ranks and CPUs involved.

Codes (stable: the TUI, exports and scripts key on them):
  nothing-left          error    no usable CPU after --reserve / SMT policy
  threads-lt-1          error    OMP_NUM_THREADS < 1
  empty-rank            error    a rank ends up with no CPU
  more-ranks-than-cpus  error    ranks must share CPUs
  more-ranks-than-cores warning  ranks split on single CPUs (SMT siblings serve different ranks)
  cpu-not-exist         error    a rank names a CPU the machine does not have (left out of the rank)
  reserve-not-exist     info     --reserve names CPUs the machine does not have
  cpu-offline           warning  a rank includes offline CPUs
  cpu-not-allowed       warning  a rank includes CPUs outside the allowed set (cgroup / affinity)
  reserved-in-rank      warning  a manual list includes reserved CPUs (they are removed)
  overlap               warning  two ranks share CPUs
  oversubscribed        warning  more threads than CPUs in a rank
  threads-share-places  info     more threads than places (several threads per place, CPUs suffice)
  spans-package         warning  a rank spans packages
  spans-numa            warning  a rank spans NUMA nodes (info when the numa strategy gave whole nodes)
  smt-split             warning  SMT siblings of one core are in different ranks
  unequal-ranks         info|warning ranks of unequal size (warning when they differ by more than one core)
  runtime-differs       warning  libgomp and LLVM libomp put threads on different places for this plan
  abstract-exact        info     why an abstract OMP_PLACES name is exact
  abstract-fallback     info     why explicit places were written instead of an abstract name
  alt-env-approx        info     GOMP_CPU_AFFINITY/KMP_AFFINITY pin each thread to one CPU of a wider place
  ranks-from-cpus, no-numa-info, no-l3-info   info
  vllm-*                vLLM emulation (see ompviz.plan.vllm)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ompviz.cpuset import CpuSet
from ompviz.plan.model import PlanRequest, PlanWarning, Worker
from ompviz.topology.model import Topology
from ompviz.words import plural

_SEV_ORDER = {"error": 0, "warning": 1, "info": 2}


def sort(warns: Iterable[PlanWarning]) -> list[PlanWarning]:
    """Errors first, then warnings, then info; stable within a severity."""
    return sorted(warns, key=lambda w: _SEV_ORDER.get(w.severity, 3))


def cpus_text(cpus: CpuSet, limit: int = 24) -> str:
    """``CPUs 2-1048575`` / ``CPU 9``; a set of more than ``limit`` runs (e.g. ``0-1048575:2``) is summed up as
    ``524288 CPUs from 0 to 1048574`` instead of a megabyte of text in a one-line message."""
    bits = cpus.mask
    runs = bits.bit_count() - (bits & (bits >> 1)).bit_count()
    if runs > limit:
        return f"{len(cpus)} CPUs from {cpus.first} to {cpus.last}"
    return f"{plural(len(cpus), 'CPU', count=False)} {cpus.to_list()}"


def _place_text(place: CpuSet | None) -> str:
    return "missing" if place is None else cpus_text(place, limit=4)


def ranks_text(ranks: Sequence[int]) -> str:
    """'rank 3' / 'ranks 0-2,5' (range notation, short even for 64 ranks)."""
    if len(ranks) == 1:
        return f"rank {ranks[0]}"
    return "ranks " + CpuSet(ranks).to_list()


def _idle_cause(topology: Topology, request: PlanRequest) -> str:
    """Why a strategy leaves usable CPUs to nobody."""
    st = request.strategy
    if st == "manual":
        return "not listed in --cpus"
    if st == "spread":
        if len(topology.numa_nodes) > 1:
            return "spread keeps every rank inside one NUMA node with an equal share"
        if len(topology.packages) > 1:
            return "spread keeps every rank inside one package with an equal share"
        return "spread gives every rank an equal share of whole cores"
    return f"--strategy {st} leaves them to no rank"


def _unequal_cause(topology: Topology, request: PlanRequest, sized: Sequence[Worker], candidates: CpuSet) -> str:
    """The right reason ranks differ in CPU count: the strategy's division of cores, or cores with fewer usable
    CPUs (offline, not allowed, reserved siblings)."""
    st = request.strategy
    if st == "manual":
        return "as listed in --cpus"
    if st == "distrib":
        return "hwloc_distrib divides the ranks by the CPU counts of packages, caches and cores, which differ"
    idx = topology.index
    n = len(sized)
    ncores = len(idx.cores_in(candidates.mask)[0])
    if n > ncores and st in ("compact", "spread", "numa", "l3"):  # split_ranks fell back to single-CPU units
        return f"the {plural(len(candidates), 'usable CPU')} do not divide evenly by {n} ranks"
    cores = [len(idx.cores_in(w.cpus.mask)[0]) for w in sized]
    if min(cores) == max(cores):
        used = 0
        for w in sized:
            used |= w.cpus.mask
        missing = CpuSet.from_mask(idx.core_closure(used) & ~used)
        whys = [
            what
            for what, cpus in (
                ("reserved", request.reserve),
                ("offline", topology.offline),
                ("not allowed", topology.disallowed),
            )
            if missing.intersects(cpus)
        ]
        # offline CPUs have no core in the model (sysfs gives them no topology): a core may just look smaller
        detail = f" ({cpus_text(missing)}: {' / '.join(whys)})" if missing and whys else ""
        return f"each rank has {plural(cores[0], 'core')}, but some cores have fewer usable CPUs{detail}"
    if st in ("numa", "l3"):
        what = "NUMA node" if st == "numa" else "L3 group"
        attr = "numa" if st == "numa" else "l3"
        _, masks, _ = idx.attr_groups(attr)
        groups = sum(1 for m in masks.values() if m & candidates.mask)
        if n <= groups:
            if groups % n:
                return f"each rank gets whole {what}s and {plural(groups, what)} do not divide evenly by {n} ranks"
            return f"each rank gets whole {what}s, which have different numbers of usable cores"
        return f"each {what}'s usable cores are split between its ranks and do not divide evenly"
    return f"the {plural(ncores, 'usable core')} do not divide evenly by {n} ranks"


def check(
    topology: Topology,
    request: PlanRequest,
    workers: Sequence[Worker],
    candidates: CpuSet,
    *,
    names: dict[int, str | None] | None = None,
    alt_inexact: Sequence[int] = (),
) -> list[PlanWarning]:
    out: list[PlanWarning] = []
    add = out.append
    names = names or {}
    vllm = request.strategy == "vllm"

    if not vllm and request.strategy != "manual" and not candidates:
        allowed = topology.allowed
        why = "--reserve and --smt leave" if allowed else "the machine has"
        add(
            PlanWarning(
                "nothing-left",
                "error",
                f"{why} no usable CPU: reserve fewer CPUs (allowed: {allowed.to_list() or 'none'})",
                cpus=request.reserve & allowed,
            )
        )
    if request.threads is not None and request.threads < 1 and not vllm:
        add(
            PlanWarning(
                "threads-lt-1",
                "error",
                f"OMP_NUM_THREADS={request.threads}: a team needs at least 1 thread; use --threads 1 or more, or auto",
                tuple(w.rank for w in workers),
            )
        )

    # per-rank CPU problems (the sets are only built when some rank leaves the allowed CPUs: big machines)
    allowed = topology.allowed
    outside = any(not (w.cpus <= allowed) for w in workers)
    existing = topology.all_cpus if outside else allowed
    offline = topology.offline if outside else CpuSet()
    disallowed = topology.disallowed if outside else CpuSet()
    for w in workers:
        if not w.cpus and not (vllm and not w.env):
            add(PlanWarning("empty-rank", "error", f"rank {w.rank} has no CPU left", (w.rank,)))
        if not outside:  # every rank inside the allowed CPUs: none of the problems below
            continue
        ne = w.cpus - existing
        if ne:
            add(
                PlanWarning(
                    "cpu-not-exist",
                    "error",
                    f"rank {w.rank} names {cpus_text(ne)} that {topology.name} does not have "
                    f"(CPUs: {existing.to_list()})",
                    (w.rank,),
                    ne,
                )
            )
        off = w.cpus & offline
        if off:
            add(
                PlanWarning(
                    "cpu-offline",
                    "warning",
                    f"rank {w.rank} includes offline CPUs {off.to_list()}: the runtime drops them (libgomp says so)",
                    (w.rank,),
                    off,
                )
            )
        dis = w.cpus & disallowed
        if dis:
            add(
                PlanWarning(
                    "cpu-not-allowed",
                    "warning",
                    f"rank {w.rank} includes CPUs {dis.to_list()} outside the allowed set (cgroup/affinity): "
                    "the process cannot run there",
                    (w.rank,),
                    dis,
                )
            )

    # overlap
    seen = 0
    shared = 0
    for w in workers:
        m = w.cpus.mask
        shared |= seen & m
        seen |= m
    if shared:
        shared_set = CpuSet.from_mask(shared)
        ranks = tuple(w.rank for w in workers if w.cpus.mask & shared)
        add(
            PlanWarning(
                "overlap",
                "warning",
                f"{ranks_text(ranks)} share CPUs {shared_set.to_list()}: their threads will compete for them",
                ranks,
                shared_set,
            )
        )

    # threads vs places / CPUs
    over, share = [], []
    for w in workers:
        if w.num_threads < 1 or not w.places:
            continue
        if w.num_threads > len(w.cpus):
            over.append(w)
        elif w.num_threads > len(w.places) and request.bind != "false" and not vllm:
            share.append(w)
    if over:
        w0 = over[0]
        add(
            PlanWarning(
                "oversubscribed",
                "warning",
                f"{ranks_text([w.rank for w in over])}: {plural(w0.num_threads, 'thread')} on "
                f"{plural(len(w0.cpus), 'CPU')} "
                "(oversubscribed: threads time-share CPUs)",
                tuple(w.rank for w in over),
                CpuSet.union_all(w.cpus for w in over),
            )
        )
    if share:
        w0 = share[0]
        add(
            PlanWarning(
                "threads-share-places",
                "info",
                f"{ranks_text([w.rank for w in share])}: {plural(w0.num_threads, 'thread')} on "
                f"{plural(len(w0.places), 'place')}: "
                "several threads share each place (each place has enough CPUs)",
                tuple(w.rank for w in share),
            )
        )

    # spans packages / NUMA nodes: count the groups each rank's mask meets (no per-CPU work)
    idx = topology.index
    whole_numa = request.strategy == "numa" and request.ranks <= len(topology.numa_nodes)
    for attr, code, what in (("package", "spans-package", "packages"), ("numa", "spans-numa", "NUMA nodes")):
        value_of, masks, known = idx.attr_groups(attr)
        group_masks = list(masks.values())
        spanning = []
        for w in workers:
            m = w.cpus.mask & known
            if not m or not m & ~masks[value_of[(m & -m).bit_length() - 1]]:
                continue  # inside the group of its lowest CPU: one group (or none)
            nvals = 0
            for gm in group_masks:
                if gm & m:
                    nvals += 1
            spanning.append((w, nvals))
        if spanning:
            sev = "info" if (code == "spans-numa" and whole_numa) else "warning"
            w0, nvals = spanning[0]
            tail = (
                " (whole nodes, as asked: fewer ranks than NUMA nodes)"
                if sev == "info"
                else ": memory and cache traffic cross the interconnect"
            )
            add(
                PlanWarning(
                    code,
                    sev,
                    f"{ranks_text([w.rank for w, _ in spanning])} "
                    f"{plural(len(spanning), 'spans', 'span', count=False)} {nvals} {what}{tail}",
                    tuple(w.rank for w, _ in spanning),
                    CpuSet.union_all(w.cpus for w, _ in spanning),
                )
            )

    # SMT siblings split between ranks. Each CPU belongs to the first rank listing it; a core is split when CPUs
    # of it belong to two ranks, i.e. when the cores a rank touches meet the cores the other ranks touch.
    owned = []
    seen = 0
    for w in workers:
        m = w.cpus.mask & ~seen
        seen |= m
        owned.append((w.rank, m))
    split_cpus = 0
    closure = idx.core_closure
    # no rank holding part of a core (the usual plan) = no split core; otherwise find the cores held by two ranks
    if len(owned) > 1 and any(closure(m) != m for _r, m in owned):
        for _r, m in owned:
            if m:
                split_cpus |= closure(m) & closure(seen & ~m)
    if split_cpus:
        split_ranks = sorted({r for r, m in owned if m & split_cpus})
        add(
            PlanWarning(
                "smt-split",
                "warning",
                f"SMT siblings of {CpuSet.from_mask(split_cpus).to_list()} are in different ranks "
                f"({ranks_text(split_ranks)}): those ranks share cores",
                tuple(split_ranks),
                CpuSet.from_mask(split_cpus),
            )
        )

    # unequal sizes
    sized = [w for w in workers if w.cpus]
    if len(sized) > 1 and not vllm:
        sizes = [len(w.cpus) for w in sized]
        lo, hi = min(sizes), max(sizes)
        if lo != hi:
            per_core = max(1, topology.smt if request.smt == "all" else 1)
            sev = "info" if hi - lo <= per_core else "warning"
            big = tuple(w.rank for w in sized if len(w.cpus) == hi)
            cause = _unequal_cause(topology, request, sized, candidates)
            add(
                PlanWarning(
                    "unequal-ranks",
                    sev,
                    f"ranks have {lo} to {hi} CPUs ({ranks_text(big)} {plural(len(big), 'gets', 'get', count=False)} "
                    f"{hi}): {cause}"
                    + ("" if sev == "info" else "; work split evenly between ranks will wait for the smallest"),
                    big,
                )
            )

    # usable CPUs no rank got (vLLM's own choices are explained by its vllm-* warnings)
    if workers and candidates and not vllm:
        used = 0
        for w in workers:
            used |= w.cpus.mask
        idle = candidates.mask & ~used
        if idle:
            idle_set = CpuSet.from_mask(idle)
            verb = plural(len(idle_set), "stays", "stay", count=False)
            add(
                PlanWarning(
                    "idle-cpus",
                    "info",
                    f"{cpus_text(idle_set)} {verb} idle: {_idle_cause(topology, request)}",
                    cpus=idle_set,
                )
            )

    # runtime differences
    if request.bind in ("close", "spread", "true"):
        diff = [
            w
            for w in workers
            # same as runtime.runtime_differs(bind, P, T), from the place indexes the planner computed
            if w.places and w.num_threads >= 1 and w.place_index("gnu") != w.place_index("llvm")
        ]
        if diff:
            w0 = diff[0]
            g = " ".join(map(str, w0.place_index("gnu")))
            lv = " ".join(map(str, w0.place_index("llvm")))
            add(
                PlanWarning(
                    "runtime-differs",
                    "warning",
                    f"libgomp and LLVM libomp place threads differently here ({ranks_text([w.rank for w in diff])}: "
                    f"{plural(w0.num_threads, 'thread')} on {plural(len(w0.places), 'place')}, "
                    f"OMP_PROC_BIND={request.bind}; "
                    f"place per thread: libgomp {g} / LLVM {lv})",
                    tuple(w.rank for w in diff),
                )
            )

    # notation
    if request.notation == "abstract" and workers and not vllm:
        exact = [w.rank for w in workers if names.get(w.rank)]
        fallback = [w.rank for w in workers if w.places and not names.get(w.rank)]
        if exact:
            add(
                PlanWarning(
                    "abstract-exact",
                    "info",
                    f"OMP_PLACES={names[exact[0]]} is exact for {ranks_text(exact)}: ompviz starts each worker with "
                    "the whole allowed CPU set, and both libgomp and LLVM expand the name to exactly these places",
                    tuple(exact),
                )
            )
        if fallback:
            from ompviz.plan.places import abstract_mismatch

            # one warning per reason, with the first differing place of the first rank as the example
            by_kind: dict[str, list[tuple[int, int, tuple]]] = {}
            wmap = {w.rank: w for w in workers}
            for r in fallback:
                kind, k, pair = abstract_mismatch(topology, wmap[r].places, request.places)
                by_kind.setdefault(kind, []).append((r, k, pair))
            g = request.places
            for kind, items in by_kind.items():
                ranks = [r for r, _, _ in items]
                _, k, (a, b) = items[0]
                if kind == "order":
                    why = (
                        f"libgomp and LLVM libomp order '{g}' places differently on this machine's numbering "
                        f"(place {k} is {_place_text(a)} for libgomp, {_place_text(b)} for LLVM: libgomp follows "
                        "CPU ids, LLVM hwloc's logical order, which keeps a core's SMT siblings together), so no "
                        "abstract name gives these places under both"
                    )
                else:
                    why = (
                        f"ompviz starts workers without restricting their affinity, so '{g}' expands over the whole "
                        f"machine, not over the rank's CPUs (its place {k} would be {_place_text(a)}, the rank's is "
                        f"{_place_text(b)})"
                    )
                add(
                    PlanWarning(
                        "abstract-fallback",
                        "info",
                        f"OMP_PLACES written explicitly for {ranks_text(ranks)}: {why}",
                        tuple(ranks),
                    )
                )
    if alt_inexact:
        add(
            PlanWarning(
                "alt-env-approx",
                "info",
                f"GOMP_CPU_AFFINITY / KMP_AFFINITY pin each thread to one CPU; the places of "
                f"{ranks_text(list(alt_inexact))} have several CPUs, so they are tighter than OMP_PLACES",
                tuple(alt_inexact),
            )
        )
    return out
