"""The planner: ``plan(topology, request) -> Plan``. Pure: no Textual, no processes, no I/O.

Pipeline:
1. candidate CPUs = online & allowed CPUs − ``--reserve``, then the SMT policy (``one`` keeps the lowest-id
   remaining sibling of each core, ``one-last`` the highest; ``all`` keeps them all);
2. a strategy splits the candidates into one CPU set per rank (``split_ranks``), on whole cores when there are
   at least as many cores as ranks, else on single CPUs (with a warning);
3. each worker's places (``--places`` granularity, within its own CPUs), OMP_PLACES in the chosen notation,
   OMP_PROC_BIND, OMP_NUM_THREADS (always together), GOMP_CPU_AFFINITY / KMP_AFFINITY equivalents;
4. per OpenMP thread its place under libgomp and LLVM (ompviz.plan.runtime), warnings, explanation.

Strategies (every rank gets only candidate CPUs; sizes are in cores):
- ``compact``: consecutive cores in logical (hwloc L#) order, all cores used, sizes q or q+1 (q = cores // ranks).
  Which ranks get the extra core is chosen so that as few ranks as possible cross a package, then NUMA, then L3
  boundary ("a rank stays inside one L3/NUMA/package where it fits").
- ``spread``: ranks dealt round-robin over packages, then NUMA nodes, then L3 groups, in proportion to their
  cores; every rank gets q or q+1 cores inside one NUMA node where possible. q is the largest share for which no
  rank has to cross a package or NUMA node; cores left over stay idle ("equal share each").
- ``numa`` / ``l3``: whole NUMA nodes / L3 groups per rank (several whole ones when ranks < groups), or an equal
  slice of one (ranks > groups: each group's ranks split its cores evenly).
- ``distrib``: hwloc_distrib() over the candidate CPUs (ompviz.plan.distrib).
- ``manual``: ``--cpus "A|B|..."`` one list per rank, used as written minus reserved CPUs, SMT policy applied.
- ``vllm``: what vLLM's CPU backend binds (ompviz.plan.vllm).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ompviz.cpuset import CpuSet, parse_list
from ompviz.errors import OmpvizError
from ompviz.plan import runtime as rt
from ompviz.plan.model import (
    BIND_POLICIES,
    NOTATIONS,
    PLACES,
    RUNTIMES,
    SMT_POLICIES,
    STRATEGIES,
    Plan,
    PlanRequest,
    PlanWarning,
    ThreadPlacement,
    Worker,
)
from ompviz.plan.places import abstract_name, format_places, group_places, ids_of, with_ids
from ompviz.topology.model import Topology


# -- candidates -------------------------------------------------------------------------------------------------
def apply_smt(topology: Topology, cpus: CpuSet, smt: str) -> CpuSet:
    """Keep all, the first (lowest id) or the last (highest id) CPU of each core among ``cpus``.

    Applied after the reservation: if the reserve takes a core's first sibling, ``one`` keeps the next one.
    CPUs the topology does not place in a core are kept as they are.
    """
    if smt == "all":
        return cpus
    bits = cpus.mask
    keep = covered = 0
    for core in topology.cores:
        cm = core.cpus.mask
        covered |= cm
        m = cm & bits
        if m:
            keep |= (m & -m) if smt == "one" else 1 << (m.bit_length() - 1)
    return CpuSet.from_mask(keep | (bits & ~covered))


def candidate_cpus(topology: Topology, request: PlanRequest) -> CpuSet:
    """Online & allowed CPUs, minus the reserve, after the SMT policy: what the strategies may hand out."""
    return apply_smt(topology, topology.allowed - request.reserve, request.smt)


# -- units: a core's usable CPUs (or single CPUs when there are more ranks than cores) ----------------------------
class _Units:
    """Ordered units (logical order) with their package/NUMA/L3 keys, as parallel lists (fast for 4,096 PUs)."""

    __slots__ = ("masks", "pkg", "numa", "l3")

    def __init__(self) -> None:
        self.masks: list[int] = []
        self.pkg: list[object] = []
        self.numa: list[object] = []
        self.l3: list[object] = []

    def add(self, mask: int, pkg: object, numa: object, l3: object) -> None:
        self.masks.append(mask)
        self.pkg.append(pkg)
        self.numa.append(numa)
        self.l3.append(l3)

    def __len__(self) -> int:
        return len(self.masks)


def _core_units(topology: Topology, cand: CpuSet) -> _Units:
    u = _Units()
    bits = cand.mask
    for core in topology.cores:  # logical order
        m = core.cpus.mask & bits
        if m:
            u.add(m, core.package, core.numa, core.l3)
    return u


def _cpu_units(topology: Topology, cand: CpuSet) -> _Units:
    u = _Units()
    for c in topology.logical_order:
        if c in cand:
            p = topology._by_os[c]
            u.add(1 << c, p.package, p.numa, p.l3)
    return u


def _mask(units: _Units, idx: Sequence[int]) -> int:
    m = 0
    masks = units.masks
    for i in idx:
        m |= masks[i]
    return m


# -- compact ----------------------------------------------------------------------------------------------------
_DP_LIMIT = 300_000


def _compact(units: _Units, n: int) -> list[list[int]]:
    """Consecutive blocks of q or q+1 units; the big blocks placed to minimise package/NUMA/L3 crossings."""
    U = len(units)
    q, r = divmod(U, n)
    pkg, numa, l3 = units.pkg, units.numa, units.l3

    def cost(a: int, size: int) -> int:
        b = a + size - 1
        return (pkg[a] != pkg[b]) * 10_000 + (numa[a] != numa[b]) * 100 + (l3[a] != l3[b])

    if r == 0 or n * r > _DP_LIMIT:
        sizes = [q + 1] * r + [q] * (n - r)
    else:
        # best[i][b]: least cost for ranks i.. given b big blocks already used (position = i*q + b).
        INF = 1 << 60
        best = [[INF] * (r + 2) for _ in range(n + 1)]
        best[n][r] = 0
        for i in range(n - 1, -1, -1):
            row, nxt = best[i], best[i + 1]
            for b in range(min(i, r), max(0, r - (n - i)) - 1, -1):
                pos = i * q + b
                v = INF
                if b < r and nxt[b + 1] < INF:
                    v = cost(pos, q + 1) + nxt[b + 1]
                if nxt[b] < INF:
                    v2 = cost(pos, q) + nxt[b]
                    if v2 < v:
                        v = v2
                row[b] = v
        sizes, b = [], 0
        for i in range(n):
            pos = i * q + b
            # prefer the big block first on ties: earlier ranks get the extra core, as in a plain split
            if b < r and best[i + 1][b + 1] < (1 << 60) and cost(pos, q + 1) + best[i + 1][b + 1] == best[i][b]:
                sizes.append(q + 1)
                b += 1
            else:
                sizes.append(q)
    out, pos = [], 0
    for s in sizes:
        out.append(list(range(pos, pos + s)))
        pos += s
    return out


# -- spread -----------------------------------------------------------------------------------------------------
def _groups(idx: list[int], keys: list[object]) -> list[list[int]]:
    """Group unit indices by key, groups ordered by first appearance (units are in logical order)."""
    d: dict[object, list[int]] = {}
    for i in idx:
        d.setdefault(keys[i], []).append(i)
    return list(d.values())


def _shares(n: int, weights: list[int], caps: list[int]) -> list[int] | None:
    """Split n items over children in proportion to weights (largest remainder), never above caps."""
    if sum(caps) < n:
        return None
    W = sum(weights)
    ideal = [n * w / W for w in weights]
    counts = [min(int(x), c) for x, c in zip(ideal, caps, strict=True)]
    for _ in range(n - sum(counts)):
        best, bi = None, -1
        for i, (x, k, c) in enumerate(zip(ideal, counts, caps, strict=True)):
            if k < c and (best is None or x - k > best):
                best, bi = x - k, i
        counts[bi] += 1
    return counts


def _deal(ranks: list[int], counts: list[int]) -> list[list[int]]:
    """Deal ranks round-robin over children, each up to its count (rank 0 -> child 0, rank 1 -> child 1, ...)."""
    out: list[list[int]] = [[] for _ in counts]
    left = list(counts)
    it = iter(ranks)
    remaining = len(ranks)
    while remaining:
        for c in range(len(counts)):
            if left[c] and remaining:
                out[c].append(next(it))
                left[c] -= 1
                remaining -= 1
    return out


def _spread_try(units: _Units, n: int, q: int) -> dict[int, list[int]] | None:
    levels = [(units.pkg, True), (units.numa, True), (units.l3, False)]
    out: dict[int, list[int]] = {}

    def go(idx: list[int], ranks: list[int], lv: int) -> bool:
        while lv < len(levels):
            keys, strict = levels[lv]
            groups = _groups(idx, keys)
            if len(groups) > 1:
                counts = _shares(len(ranks), [len(g) for g in groups], [len(g) // q for g in groups])
                if counts is None:
                    if strict:
                        return False
                    break  # lenient level (L3): ranks may cross it, split this domain flat
                for g, rs in zip(groups, _deal(ranks, counts), strict=True):
                    if rs and not go(g, rs, lv + 1):
                        return False
                return True
            lv += 1
        extra = len(idx) - len(ranks) * q
        pos = 0
        for k, r in enumerate(ranks):
            size = q + (1 if k < extra else 0)
            out[r] = idx[pos : pos + size]
            pos += size
        return True

    return out if go(list(range(len(units))), list(range(n)), 0) else None


def _spread(units: _Units, n: int) -> list[list[int]]:
    hi = len(units) // n
    lo = 1
    best = _spread_try(units, n, 1)  # q=1 always fits: every level has at least as many units as ranks
    # feasibility is monotone in q (a smaller share fits everywhere a larger one does): binary search the largest
    while lo < hi:
        mid = (lo + hi + 1) // 2
        got = _spread_try(units, n, mid)
        if got is None:
            hi = mid - 1
        else:
            lo, best = mid, got
    assert best is not None
    return [best[r] for r in range(n)]


# -- numa / l3 --------------------------------------------------------------------------------------------------
def _by_groups(units: _Units, keys: list[object], n: int) -> list[list[int]] | None:
    """Whole groups per rank (ranks <= groups), else each group sliced evenly among its ranks."""
    groups = _groups(list(range(len(units))), keys)
    G = len(groups)
    if n <= G:
        q, r = divmod(G, n)
        out, pos = [], 0
        for k in range(n):
            take = q + (1 if k < r else 0)
            out.append([i for g in groups[pos : pos + take] for i in g])
            pos += take
        return out
    counts = _shares(n, [len(g) for g in groups], [len(g) for g in groups])
    if counts is None:
        return None
    out = []
    for g, c in zip(groups, counts, strict=True):
        if not c:
            continue
        q, r = divmod(len(g), c)
        pos = 0
        for k in range(c):
            s = q + (1 if k < r else 0)
            out.append(g[pos : pos + s])
            pos += s
    return out


# -- rank CPU sets ----------------------------------------------------------------------------------------------
def split_ranks(topology: Topology, request: PlanRequest, cand: CpuSet) -> tuple[list[CpuSet], list[PlanWarning]]:
    """CPU set per rank for the built-in strategies (not manual/vllm), plus the warnings the split raises."""
    warns: list[PlanWarning] = []
    n = request.ranks
    strategy = request.strategy
    if strategy == "distrib":
        from ompviz.plan.distrib import distrib

        sets = distrib(topology, n, cand)
        if n > len(cand):
            warns.append(
                PlanWarning(
                    "more-ranks-than-cpus",
                    "error",
                    f"{n} ranks but only {len(cand)} usable CPUs: hwloc_distrib gives several ranks the same CPU",
                    cpus=cand,
                )
            )
        return sets, warns
    units = _core_units(topology, cand)
    if n > len(units):
        ncpu = len(cand)
        if n > ncpu:
            warns.append(
                PlanWarning(
                    "more-ranks-than-cpus",
                    "error",
                    f"{n} ranks but only {ncpu} usable CPUs: ranks must share CPUs; use --ranks {ncpu} or fewer",
                    tuple(range(ncpu, n)),
                    cand,
                )
            )
            ids = cand.ids
            return [CpuSet.from_mask(1 << ids[k % ncpu]) for k in range(n)], warns
        warns.append(
            PlanWarning(
                "more-ranks-than-cores",
                "warning",
                f"{n} ranks but only {len(units)} usable cores: ranks are split on single CPUs, so SMT siblings "
                "of one core serve different ranks and compete for it",
                cpus=cand,
            )
        )
        units = _cpu_units(topology, cand)
    if strategy == "compact":
        blocks = _compact(units, n)
    elif strategy == "spread":
        blocks = _spread(units, n)
    elif strategy in ("numa", "l3"):
        keys = units.numa if strategy == "numa" else units.l3
        if all(k is None for k in keys):
            what = "NUMA" if strategy == "numa" else "L3 cache"
            warns.append(
                PlanWarning(
                    f"no-{strategy}-info",
                    "info",
                    f"the topology has no {what} information: the whole machine is treated as one {what} group",
                )
            )
        blocks = _by_groups(units, keys, n) or _compact(units, n)
    else:  # pragma: no cover - guarded by validate()
        raise OmpvizError(f"unknown strategy {strategy!r}")
    out = []
    for b in blocks:
        m = _mask(units, b)
        out.append(with_ids(ids_of(m), m))
    return out, warns


def parse_manual(text: str | None) -> list[CpuSet]:
    """``"0-31|32-63"``: one CPU list per rank (vLLM's VLLM_CPU_OMP_THREADS_BIND syntax)."""
    if text is None or not text.strip():
        raise OmpvizError("--strategy manual needs --cpus: one CPU list per rank separated by '|', e.g. 0-31|32-63")
    out = []
    for k, seg in enumerate(text.split("|")):
        if not seg.strip():
            raise OmpvizError(f"--cpus {text!r}: rank {k} has an empty CPU list; remove the extra '|'")
        try:
            out.append(parse_list(seg))
        except OmpvizError as e:
            raise OmpvizError(f"--cpus rank {k}: {e}") from None
    return out


# -- per worker -------------------------------------------------------------------------------------------------
def _placements(runtime: str, bind: str, places: tuple[CpuSet, ...], cpus: CpuSet, T: int, cache: dict):
    if T < 1:
        return ()
    if bind == "false" or not places:
        return tuple(ThreadPlacement(i, None, cpus) for i in range(T))
    key = (runtime, bind, len(places), T)
    idx = cache.get(key)
    if idx is None:  # ranks of one plan mostly share (P, T): compute each runtime's rule once per plan
        idx = cache[key] = rt.place_threads(runtime, bind, len(places), T)
    return tuple(ThreadPlacement(i, p, cpus if p is None else places[p]) for i, p in enumerate(idx))


def thread_cpu_list(threads: Sequence[ThreadPlacement]) -> list[int]:
    """One CPU per thread in thread order: the k-th thread on a place takes the place's k-th CPU (cycling)."""
    seen: dict[int | None, int] = {}
    out = []
    for t in threads:
        k = seen.get(t.place, 0)
        seen[t.place] = k + 1
        ids = t.cpus.ids
        out.append(ids[k % len(ids)])
    return out


def build_worker(
    topology: Topology, request: PlanRequest, rank: int, cpus: CpuSet, cache: dict | None = None
) -> tuple[Worker, str | None, bool]:
    """Places, env and thread placement of one worker. Returns (worker, abstract name or None, alt env exact)."""
    places = group_places(topology, cpus, request.places) if cpus else ()
    T = len(places) if request.threads is None else request.threads
    name = None
    if request.notation == "abstract" and places:
        name = abstract_name(topology, places, request.places)
        omp_places = name if name else format_places(places, "explicit")
    else:
        omp_places = format_places(places, request.notation) if places else ""
    env = (("OMP_PLACES", omp_places), ("OMP_PROC_BIND", request.bind), ("OMP_NUM_THREADS", str(T)))
    cache = {} if cache is None else cache
    gnu = _placements("gnu", request.bind, places, cpus, T, cache)
    llvm = _placements("llvm", request.bind, places, cpus, T, cache)
    alt: tuple[tuple[str, str], ...] = ()
    exact = True
    if request.bind != "false" and T >= 1 and places:
        chosen = llvm if request.runtime == "llvm" else gnu
        lst = thread_cpu_list(chosen)
        exact = all(len(t.cpus) == 1 for t in chosen)
        alt = (
            ("GOMP_CPU_AFFINITY", " ".join(map(str, lst))),
            ("KMP_AFFINITY", "granularity=fine,explicit,proclist=[" + ",".join(map(str, lst)) + "]"),
        )
    w = Worker(rank=rank, cpus=cpus, places=places, env=env, num_threads=T, gnu=gnu, llvm=llvm, alt_env=alt)
    return w, name, exact


def summary(topology: Topology) -> dict:
    """Same dict as Topology.summary(), computed with masks (that one costs ~10 ms on 4,096 PUs)."""
    online = topology.online.mask
    return {
        "name": topology.name,
        "source": topology.source,
        "source_kind": topology.source_kind,
        "packages": sum(1 for g in topology.packages if g.cpus.mask & online),
        "numa_nodes": sum(1 for g in topology.numa_nodes if g.cpus.mask & online),
        "l3_caches": sum(1 for g in topology.l3s if g.cpus.mask & online),
        "cores": sum(1 for c in topology.cores if c.cpus.mask & online),
        "pus": online.bit_count(),
    }


# -- entry point ------------------------------------------------------------------------------------------------
def validate(request: PlanRequest) -> None:
    """Reject values outside the documented choices (one clear line each)."""
    for value, choices, flag in (
        (request.strategy, STRATEGIES, "--strategy"),
        (request.smt, SMT_POLICIES, "--smt"),
        (request.places, PLACES, "--places"),
        (request.notation, NOTATIONS, "--notation"),
        (request.bind, BIND_POLICIES, "--bind"),
        (request.runtime, RUNTIMES, "--runtime"),
    ):
        if value not in choices:
            raise OmpvizError(f"{flag} {value!r} is not valid: use one of {', '.join(choices)}")
    if request.ranks < 1:
        raise OmpvizError(f"--ranks {request.ranks}: need at least 1 rank")


def plan(topology: Topology, request: PlanRequest) -> Plan:
    """Plan ``request`` on ``topology``. Raises OmpvizError only for invalid requests (bad choices, an
    unparsable --cpus list); every problem of the plan itself is a PlanWarning (errors included)."""
    from ompviz.plan import warnings as W
    from ompviz.plan.explain import explain

    validate(request)
    warns: list[PlanWarning] = []
    cand = candidate_cpus(topology, request)
    strategy_info: dict = {}

    if request.strategy == "vllm":
        from ompviz.plan.vllm import plan_vllm

        workers, vwarns, strategy_info = plan_vllm(topology, request)
        warns.extend(vwarns)
        names: dict[int, str | None] = {}
        inexact: list[int] = []
    else:
        if request.strategy == "manual":
            raw = parse_manual(request.cpus)
            if len(raw) != request.ranks:
                warns.append(
                    PlanWarning(
                        "ranks-from-cpus",
                        "info",
                        f"--cpus lists {len(raw)} rank{'s' if len(raw) != 1 else ''}: that sets the number of ranks "
                        f"(--ranks {request.ranks} ignored)",
                    )
                )
                request = replace(request, ranks=len(raw))
            sets = []
            for k, s in enumerate(raw):
                res = s & request.reserve
                if res:
                    warns.append(
                        PlanWarning(
                            "reserved-in-rank",
                            "warning",
                            f"rank {k}'s --cpus list includes reserved CPUs {res.to_list()}: removed from the rank",
                            (k,),
                            res,
                        )
                    )
                sets.append(apply_smt(topology, s - request.reserve, request.smt))
            strategy_info["manual_raw"] = raw
        elif not cand:
            sets = []
        else:
            sets, swarns = split_ranks(topology, request, cand)
            warns.extend(swarns)
        workers, names, inexact = [], {}, []
        cache: dict = {}
        for k, s in enumerate(sets):
            w, name, exact = build_worker(topology, request, k, s, cache)
            workers.append(w)
            names[k] = name
            if not exact:
                inexact.append(k)
    warns.extend(W.check(topology, request, workers, cand, names=names, alt_inexact=inexact))
    plan_obj = Plan(
        request=request,
        topology_summary=summary(topology),
        workers=tuple(workers),
        warnings=tuple(W.sort(warns)),
    )
    return replace(plan_obj, explanation=tuple(explain(topology, plan_obj, strategy_info)))
