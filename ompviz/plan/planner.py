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
  cores; every rank gets exactly q cores inside one NUMA node where possible. q is the largest share for which no
  rank has to cross a package or NUMA node; cores left over stay idle ("equal share each", warning idle-cpus).
- ``numa`` / ``l3``: whole NUMA nodes / L3 groups per rank (several whole ones when ranks < groups), or an equal
  slice of one (ranks > groups: each group's ranks split its cores evenly).
- ``distrib``: hwloc_distrib() over the candidate CPUs (ompviz.plan.distrib).
- ``manual``: ``--cpus "A|B|..."`` one list per rank, used as written minus reserved CPUs, SMT policy applied.
- ``vllm``: what vLLM's CPU backend binds (ompviz.plan.vllm).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from itertools import groupby

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
    placement,
)
from ompviz.plan.places import abstract_name, format_places, group_places
from ompviz.plan.warnings import cpus_text
from ompviz.topology.model import Topology
from ompviz.words import plural


# -- candidates -------------------------------------------------------------------------------------------------
def apply_smt(topology: Topology, cpus: CpuSet, smt: str) -> CpuSet:
    """Keep all, the first (lowest id) or the last (highest id) CPU of each core among ``cpus``.

    Applied after the reservation: if the reserve takes a core's first sibling, ``one`` keeps the next one.
    CPUs the topology does not place in a core are kept as they are.
    """
    if smt == "all":
        return cpus
    return CpuSet.from_mask(topology.index.one_per_core(cpus.mask, last=smt != "one"))


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
    """One unit per core with candidate CPUs, in logical order (the per-core lists are precomputed per topology)."""
    idx = topology.index
    u = _Units()
    bits = cand.mask
    masks = idx.core_masks
    if bits & idx.covered == idx.covered:  # every core whole (e.g. --smt all, nothing reserved): the lists as is
        u.masks, u.pkg, u.numa, u.l3 = list(masks), list(idx.core_package), list(idx.core_numa), list(idx.core_l3)
        return u
    keep, whole = idx.cores_in(bits)  # mask algebra per SMT layout, not a loop over every core
    u.masks = [masks[k] if k in whole else masks[k] & bits for k in keep]
    u.pkg = list(map(idx.core_package.__getitem__, keep))
    u.numa = list(map(idx.core_numa.__getitem__, keep))
    u.l3 = list(map(idx.core_l3.__getitem__, keep))
    return u


def _cpu_units(topology: Topology, cand: CpuSet) -> _Units:
    u = _Units()
    keep = set(cand.ids)
    by_os = topology._by_os
    for c in topology.logical_order:
        if c in keep:
            p = by_os[c]
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
    # units of one group are mostly consecutive: take whole runs of equal keys at a time (groupby runs in C)
    for k, run in groupby(idx, keys.__getitem__):
        g = d.get(k)
        if g is None:
            d[k] = list(run)
        else:
            g.extend(run)
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


def _shares_memo(n: int, groups: list[list[int]], q: int, memo: dict) -> list[int] | None:
    """_shares(n, group sizes, sizes // q), remembered: symmetric machines ask the same question in every domain
    and in every try of the search for q. The list returned is shared: callers only read it."""
    sizes = tuple(map(len, groups))
    key = ("shares", n, q, sizes)
    try:
        return memo[key]
    except KeyError:
        got = memo[key] = _shares(n, list(sizes), [x // q for x in sizes])
        return got


def _deal(ranks: list[int], counts: list[int]) -> list[list[int]]:
    """Deal ranks round-robin over children, each up to its count (rank 0 -> child 0, rank 1 -> child 1, ...)."""
    out: list[list[int]] = [[] for _ in counts]
    if sum(counts) == len(ranks):
        # the same deal, round by round: in round k every child still owed a rank (count > k) takes the next one
        it = iter(ranks)
        for k in range(max(counts, default=0)):
            for c, cnt in enumerate(counts):
                if cnt > k:
                    out[c].append(next(it))
        return out
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


def _spread_try(units: _Units, n: int, q: int, memo: dict) -> dict[int, list[int]] | None:
    levels = [(units.pkg, True), (units.numa, True), (units.l3, False)]
    out: dict[int, list[int]] = {}

    def go(idx: list[int], ranks: list[int], lv: int) -> bool:
        while lv < len(levels):
            keys, strict = levels[lv]
            groups = _level_groups(idx, keys, lv, memo)
            if len(groups) > 1:
                counts = _shares_memo(len(ranks), groups, q, memo)
                if counts is None:
                    if strict:
                        return False
                    break  # lenient level (L3): ranks may cross it, split this domain flat
                for g, rs in zip(groups, _deal(ranks, counts), strict=True):
                    if rs and not go(g, rs, lv + 1):
                        return False
                return True
            lv += 1
        # every rank exactly q units: q is the largest share all ranks can get inside their package/NUMA node, so
        # an extra unit for some would make the shares unequal (48/49/48 cores on a 2x96-core Zen4) - the units
        # left over stay idle and the plan says so (warning idle-cpus)
        for k, r in enumerate(ranks):
            out[r] = idx[k * q : (k + 1) * q]
        return True

    return out if go(list(range(len(units))), list(range(n)), 0) else None


def _level_groups(idx: list[int], keys, lv: int, memo: dict) -> list[list[int]]:
    """_groups(idx, keys) of the domain ``idx`` at level ``lv``. The grouping of a domain does not depend on q: it
    is computed once for all the tries of the binary search. At one level the domains are disjoint, so (level,
    first unit) names one domain."""
    mk = (lv, idx[0])
    groups = memo.get(mk)
    if groups is None:
        groups = memo[mk] = _groups(idx, keys)
    return groups


def _spread_fits(units: _Units, n: int, q: int, memo: dict) -> bool:
    """Whether _spread_try(units, n, q) succeeds, without building the split: feasibility depends only on how
    many ranks each domain gets (the same _shares counts), not on which ones."""
    levels = [(units.pkg, True), (units.numa, True), (units.l3, False)]

    def fits(idx: list[int], nranks: int, lv: int) -> bool:
        while lv < len(levels):
            keys, strict = levels[lv]
            groups = _level_groups(idx, keys, lv, memo)
            if len(groups) > 1:
                counts = _shares_memo(nranks, groups, q, memo)
                if counts is None:
                    return not strict
                return all(fits(g, c, lv + 1) for g, c in zip(groups, counts, strict=True) if c)
            lv += 1
        return True

    return fits(list(range(len(units))), n, 0)


def _spread(units: _Units, n: int) -> list[list[int]]:
    hi = len(units) // n
    lo = 1
    memo: dict = {}
    best_q = 1  # q=1 always fits: every level has at least as many units as ranks
    # feasibility is monotone in q (a smaller share fits everywhere a larger one does): binary search the largest,
    # testing feasibility only; the split itself is built once, for the q found
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _spread_fits(units, n, mid, memo):
            lo, best_q = mid, mid
        else:
            hi = mid - 1
    best = _spread_try(units, n, best_q, memo)
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
        from ompviz.plan.distrib import distrib, tree_warning

        sets = distrib(topology, n, cand)
        if (tw := tree_warning(topology)) is not None:
            warns.append(tw)
        if n > len(cand):
            warns.append(
                PlanWarning(
                    "more-ranks-than-cpus",
                    "error",
                    f"{n} ranks but only {plural(len(cand), 'usable CPU')}: hwloc_distrib gives several ranks the "
                    "same CPU",
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
                    f"{n} ranks but only {plural(ncpu, 'usable CPU')}: ranks must share CPUs; use --ranks {ncpu} "
                    "or fewer",
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
                f"{n} ranks but only {plural(len(units), 'usable core')}: ranks are split on single CPUs, so SMT "
                "siblings of one core serve different ranks and compete for it",
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
    return [CpuSet.from_mask(_mask(units, b)) for b in blocks], warns


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
def _place_index(runtime: str, bind: str, P: int, T: int, cache: dict) -> tuple[int | None, ...]:
    key = (runtime, bind, P, T)
    idx = cache.get(key)
    if idx is None:  # ranks of one plan mostly share (P, T): compute each runtime's rule once per plan
        idx = cache[key] = rt.place_threads(runtime, bind, P, T)
    return idx


def _bound(idx: tuple[int, ...], places: tuple[CpuSet, ...]) -> tuple[ThreadPlacement, ...]:
    """Thread i on place idx[i] (every entry a place index): thousands per 4,096-PU plan, hence placement()."""
    return tuple(map(placement, range(len(idx)), idx, map(places.__getitem__, idx)))


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


def _cpu_list(idx: tuple[int, ...], places: tuple[CpuSet, ...], cpus: CpuSet) -> tuple[list[int], bool]:
    """thread_cpu_list() of threads on places ``idx``, and whether every place used has one CPU (then it is exact)."""
    if len(places) == len(cpus):  # places partition the CPUs: as many places as CPUs = one CPU each, in order
        return list(map(cpus.ids.__getitem__, idx)), True
    if len(set(idx)) == len(idx):  # one thread per place at most (T <= P): each takes its place's first CPU
        used = [places[p].ids for p in idx]
        return [x[0] for x in used], all(len(x) == 1 for x in used)
    ids = [pl.ids for pl in places]  # cached on the (mostly shared) place sets
    if all(len(ids[p]) == 1 for p in set(idx)):
        return [ids[p][0] for p in idx], True
    seen: dict[int, int] = {}
    out = []
    for p in idx:
        k = seen.get(p, 0)
        seen[p] = k + 1
        pids = ids[p]
        out.append(pids[k % len(pids)])
    return out, False


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
    bind = request.bind
    env = (("OMP_PLACES", omp_places), ("OMP_PROC_BIND", bind), ("OMP_NUM_THREADS", str(T)))
    cache = {} if cache is None else cache
    if T < 1:
        return Worker(rank, cpus, places, env, T, (), ()), name, True
    if bind == "false" or not places:
        unbound = tuple(ThreadPlacement(i, None, cpus) for i in range(T))
        return Worker(rank, cpus, places, env, T, unbound, unbound), name, True
    gi = _place_index("gnu", bind, len(places), T, cache)
    li = _place_index("llvm", bind, len(places), T, cache)
    ai = li if request.runtime == "llvm" else gi
    # the thread placements and the GOMP/KMP strings are built when first read (the explorer reads one rank's)
    make = partial(_threads_and_alt, gi, li, ai, places, cpus)
    w = Worker.deferred(rank, cpus, places, env, T, (gi, li), make)
    return w, name, _exact(ai, places, cpus)


def _threads_and_alt(
    gi: tuple[int, ...], li: tuple[int, ...], ai: tuple[int, ...], places: tuple[CpuSet, ...], cpus: CpuSet
) -> tuple[tuple[ThreadPlacement, ...], tuple[ThreadPlacement, ...], tuple[tuple[str, str], ...]]:
    """A bound worker's libgomp and LLVM placements (threads on places ``gi`` / ``li``) and its GOMP_CPU_AFFINITY /
    KMP_AFFINITY equivalents (one CPU per thread of the runtime modelled, ``ai``)."""
    gnu = _bound(gi, places)
    llvm = gnu if li == gi else _bound(li, places)  # equal tuples of immutable objects: share them
    strs = list(map(str, _cpu_list(ai, places, cpus)[0]))
    alt = (
        ("GOMP_CPU_AFFINITY", " ".join(strs)),
        ("KMP_AFFINITY", "granularity=fine,explicit,proclist=[" + ",".join(strs) + "]"),
    )
    return gnu, llvm, alt


def _exact(idx: tuple[int, ...], places: tuple[CpuSet, ...], cpus: CpuSet) -> bool:
    """Whether one CPU per thread (_cpu_list) says exactly what the places do: every place used has one CPU."""
    return len(places) == len(cpus) or all(len(places[p]) == 1 for p in set(idx))


def summary(topology: Topology) -> dict:
    """Topology.summary() (kept here for callers of the planner's own name)."""
    return topology.summary()


# -- entry point ------------------------------------------------------------------------------------------------
# Size limits: a plan materialises one Worker per rank and one ThreadPlacement per thread (and runtime), so a typo
# such as ``-n 99999999999`` would otherwise exhaust memory instead of failing. The limits are far above any real
# use: more ranks than CPUs is already an error plan (ranks share CPUs), and libgomp/LLVM teams of tens of
# thousands of threads on one process are not a binding plan anyone runs.
RANKS_PER_CPU = 8  # ranks beyond the machine's CPUs are planned (as an error plan) up to this many per CPU
MAX_RANKS = 65_536
MAX_THREADS = 65_536  # OpenMP threads per rank
MAX_TOTAL_THREADS = 262_144  # ranks x threads: what one plan materialises per runtime


def max_ranks(topology: Topology) -> int:
    """The largest --ranks planned on ``topology``: RANKS_PER_CPU per allowed CPU, at most MAX_RANKS."""
    return min(MAX_RANKS, RANKS_PER_CPU * max(1, len(topology.allowed)))


def _check_size(topology: Topology, ranks: int, threads: int | None, what: str | None = None) -> None:
    """One clear line when ``ranks`` (x ``threads``) would be too big to plan on ``topology``; ``what`` names
    where the rank count came from (default ``--ranks N``)."""
    limit = max_ranks(topology)
    if ranks > limit:
        ncpu = len(topology.allowed)
        raise OmpvizError(
            f"{what or f'--ranks {ranks}'}: too many ranks for {topology.name}, which has "
            f"{plural(ncpu, 'usable CPU')}; plan at most {limit:,} ranks ({RANKS_PER_CPU} per CPU, never more "
            f"than {MAX_RANKS:,})"
        )
    if threads is not None:
        if threads > MAX_THREADS:
            raise OmpvizError(
                f"--threads {threads}: at most {MAX_THREADS:,} OpenMP threads per rank; use --threads auto "
                "(one per place) or a smaller number"
            )
        if threads > 0 and ranks * threads > MAX_TOTAL_THREADS:
            raise OmpvizError(
                f"{ranks} ranks x {threads} threads = {ranks * threads:,} OpenMP threads: at most "
                f"{MAX_TOTAL_THREADS:,} in one plan; lower --threads or --ranks"
            )


def validate(request: PlanRequest, topology: Topology | None = None) -> None:
    """Reject values outside the documented choices, and (given the topology) sizes too big to plan: one clear
    line each. The CLI and the TUI both get here through plan()."""
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
    if topology is not None:
        # manual: the rank count comes from the --cpus lists (checked once parsed), --ranks is ignored
        _check_size(topology, 1 if request.strategy == "manual" else request.ranks, request.threads)


def plan(topology: Topology, request: PlanRequest) -> Plan:
    """Plan ``request`` on ``topology``. Raises OmpvizError only for invalid requests (bad choices, an
    unparsable --cpus list); every problem of the plan itself is a PlanWarning (errors included)."""
    from ompviz.plan import warnings as W
    from ompviz.plan.explain import explain

    validate(request, topology)
    warns: list[PlanWarning] = []
    ghost = request.reserve - topology.all_cpus
    if ghost:
        warns.append(
            PlanWarning(
                "reserve-not-exist",
                "info",
                f"--reserve names {cpus_text(ghost)} that {topology.name} does not have (CPUs: "
                f"{topology.all_cpus.to_list()}): nothing to keep free there",
                cpus=ghost,
            )
        )
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
            _check_size(topology, len(raw), request.threads, f"--cpus lists {plural(len(raw), 'rank')}")
            if len(raw) != request.ranks:
                warns.append(
                    PlanWarning(
                        "ranks-from-cpus",
                        "info",
                        f"--cpus lists {plural(len(raw), 'rank')}: that sets the number of ranks "
                        f"(--ranks {request.ranks} ignored)",
                    )
                )
                request = replace(request, ranks=len(raw))
            sets = []
            existing = topology.all_cpus
            for k, s in enumerate(raw):
                missing = s - existing
                if missing:
                    # CPUs the machine does not have are reported and left out of the rank by mask algebra: a
                    # list such as 0-1048575 never becomes a million ids, places or threads
                    warns.append(
                        PlanWarning(
                            "cpu-not-exist",
                            "error",
                            f"rank {k} names {cpus_text(missing)} that {topology.name} does not have "
                            f"(CPUs: {existing.to_list()})",
                            (k,),
                            missing,
                        )
                    )
                    s = s & existing
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
