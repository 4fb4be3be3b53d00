"""OMP_PLACES: build a worker's places, write them in three notations, and parse any OMP_PLACES value back.

Place order: places are sorted by their lowest CPU id (OS order). That is the order libgomp builds for the
abstract names (it walks CPUs 0..n and opens a place at the first CPU of each core/cache/node/package, see
libgomp/config/linux/affinity.c ``gomp_affinity_init_level``), so an explicit list and the abstract name agree
under libgomp. LLVM libomp orders abstract places by hwloc logical index instead; for ``threads`` on machines
whose SMT siblings are not numbered consecutively (``0,192``) that order differs, which ``abstract_name`` checks.

Notations written by ``format_places``:
- ``explicit``  every id listed: ``{0},{1},{2}`` or ``{0,192},{1,193}``;
- ``intervals`` runs of places that are shifted copies of one another become place intervals ``{0:4}:2:4``
  (a single CPU place run is ``{0}:3:1``); other places use resource intervals ``{0:4:2}``;
- ``abstract``  ``cores`` / ``cores(4)`` etc., only when exact (see ``abstract_name``).

``parse_places`` accepts the whole OpenMP grammar: abstract names with an optional ``(n)``, explicit places,
resource intervals ``{lo:len[:stride]}``, place intervals ``{..}:len[:stride]`` (negative strides too), and the
``!`` exclusion operator on CPUs inside a place and on whole places (``{0:4},{4:4},!{4:4}`` removes the first
equal place listed before it, as libgomp does). Differences from libgomp, which filters by the machine: it
drops CPUs that do not exist or are not in the affinity mask (and empty places), and it rejects negative place
interval strides that the OpenMP grammar allows; this parser is machine-independent and follows the grammar.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import groupby
from operator import sub

from ompviz.cpuset import MAX_CPU, CpuSet, parse_omp_place
from ompviz.errors import OmpvizError
from ompviz.topology.model import Topology

ABSTRACT_NAMES = ("threads", "cores", "ll_caches", "numa_domains", "sockets")


# -- ids ------------------------------------------------------------------------------------------------------
def ids_of(mask: int) -> list[int]:
    """Set bits of ``mask`` in ascending order (CpuSet's own fast path)."""
    return list(CpuSet.from_mask(mask).ids)


def with_ids(ids: list[int], mask: int | None = None) -> CpuSet:
    """A CpuSet of ascending ``ids`` (``mask`` when the caller already has it)."""
    return CpuSet(ids) if mask is None else CpuSet.from_mask(mask)


def _omp(p: CpuSet) -> str:
    """Same text as CpuSet.to_omp (resource intervals)."""
    ids = p.ids
    if not ids:
        raise OmpvizError("an OpenMP place cannot be empty")
    if len(ids) == 1:
        return f"{{{ids[0]}}}"
    if len(ids) > 2:
        stride = ids[1] - ids[0]
        if all(ids[k + 1] - ids[k] == stride for k in range(len(ids) - 1)):
            return f"{{{ids[0]}:{len(ids)}}}" if stride == 1 else f"{{{ids[0]}:{len(ids)}:{stride}}}"
    parts = []
    lo = prev = ids[0]
    for i in [*ids[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        n = prev - lo + 1
        parts.append(str(lo) if n == 1 else f"{lo},{prev}" if n == 2 else f"{lo}:{n}")
        if i is not None:
            lo = prev = i
    return "{" + ",".join(parts) + "}"


# -- building places --------------------------------------------------------------------------------------------
_ATTR = {"cores": "core", "ll_caches": "l3", "numa_domains": "numa", "sockets": "package"}


def _key_fn(topology: Topology, granularity: str):
    """Function CPU id -> grouping key for one granularity (None key = a place of its own)."""
    if granularity not in ABSTRACT_NAMES:
        raise OmpvizError(f"unknown places granularity {granularity!r}: use one of {', '.join(ABSTRACT_NAMES)}")
    attr = _ATTR.get(granularity)
    by_os = topology._by_os

    def key(cpu: int):
        if attr is None:
            return ("cpu", cpu)
        pu = by_os.get(cpu)
        v = None if pu is None else getattr(pu, attr)
        # CPUs the topology knows nothing about (offline, or absent: manual lists) each get a place of their own.
        return ("cpu", cpu) if v is None else (attr, v)

    return key


def group_places(topology: Topology, cpus: CpuSet, granularity: str) -> tuple[CpuSet, ...]:
    """Split ``cpus`` into places of the given granularity, ordered by lowest CPU id.

    Places that are a whole core/cache/node/package (or one CPU) are the topology's shared CpuSets, so a plan on a
    4,096-PU machine does not rebuild thousands of sets; the grouping itself is mask algebra per group.
    """
    idx = topology.index
    if granularity == "threads":
        if cpus.mask & ~idx.all_mask:  # CPUs the machine does not have (manual lists)
            return tuple(map(idx.single, cpus.ids))
        return tuple(map(idx.singles.__getitem__, cpus.ids))
    if granularity not in _ATTR:
        _key_fn(topology, granularity)  # raises the error for an unknown granularity
    attr = _ATTR[granularity]
    value_of, masks, known = idx.attr_groups(attr)
    m = cpus.mask
    if m & ~known:
        # some CPUs have no such object (offline, or not on this machine: manual lists): one place each
        key = _key_fn(topology, granularity)
        groups: dict[object, list[int]] = {}
        for c in cpus.ids:
            groups.setdefault(key(c), []).append(c)
        # dict preserves first-seen order and CPUs are visited in ascending order: ordered by lowest CPU id.
        return tuple(CpuSet(ids) for ids in groups.values())
    # objects in order of their lowest CPU in ``cpus`` (first seen walking the ids upwards), found in C
    order = dict.fromkeys(map(value_of.__getitem__, cpus.ids))
    if attr == "core" and idx.cores_are_pu_groups and idx.core_closure(m) == m:
        return tuple(map(idx.attr_sets("core").__getitem__, order))  # whole cores only (the usual rank)
    out = []
    group_set, single = idx.attr_set, idx.single
    for v in order:
        gm = masks[v]
        pm = gm & m
        if pm == gm:
            out.append(group_set(attr, v))
        elif pm & (pm - 1):
            out.append(CpuSet.from_mask(pm))
        else:  # one CPU of the object (e.g. --smt one with places=cores)
            out.append(single(pm.bit_length() - 1))
    return tuple(out)


def _abstract_places(topology: Topology, granularity: str, runtime: str) -> tuple[CpuSet, ...]:
    allowed = topology.allowed
    if granularity == "threads" and runtime == "llvm":
        single, bits = topology.index.single, allowed.mask
        return tuple(single(c) for c in topology.logical_order if bits >> c & 1)
    return group_places(topology, allowed, granularity)


def abstract_places(topology: Topology, granularity: str, runtime: str = "gnu") -> tuple[CpuSet, ...]:
    """The places a runtime builds for an abstract name when the process may use every allowed CPU.

    gnu: OS order of each place's first CPU (libgomp). llvm: hwloc logical order (for ``threads`` the SMT
    siblings of a core are adjacent; for coarser levels logical order of objects = order of their first CPU,
    which is how ompviz's topology model numbers them). Computed once per topology.
    """
    if granularity not in ABSTRACT_NAMES:
        _key_fn(topology, granularity)  # raises the error for an unknown granularity
    return topology.memo(  # type: ignore[return-value]
        ("plan.abstract_places", granularity, runtime), lambda t: _abstract_places(t, granularity, runtime)
    )


def abstract_name(topology: Topology, places: Sequence[CpuSet], granularity: str) -> str | None:
    """``cores`` or ``cores(n)`` when both runtimes, started with the whole allowed CPU set, build exactly
    ``places``; None otherwise.

    ompviz launches every worker with the full allowed set (it never calls sched_setaffinity), so the runtime
    expands the abstract name over the whole machine; ``name(n)`` then keeps the first n places. The worker's
    places must therefore be exactly the first n places of that list, in the same order, for libgomp and LLVM.
    """
    n = len(places)
    if n == 0:
        return None
    for rt in ("gnu", "llvm"):
        full = abstract_places(topology, granularity, rt)
        if n > len(full) or full[:n] != tuple(places):
            return None
    full_len = len(abstract_places(topology, granularity, "gnu"))
    return granularity if n == full_len else f"{granularity}({n})"


def abstract_mismatch(topology: Topology, places: Sequence[CpuSet], granularity: str) -> tuple[str, int, tuple]:
    """Why ``abstract_name`` found no name for ``places``: ``(kind, k, (a, b))`` with k the first place that differs.

    kind ``"order"``: one runtime builds exactly these places, the other orders them differently (``threads`` on
    machines whose SMT siblings are numbered N, N+192: libgomp goes by CPU id, LLVM by hwloc logical index);
    (a, b) = (libgomp's place k, LLVM's place k). kind ``"machine"``: neither runtime's list starts with these
    places, because the name expands over the whole allowed CPU set, not the rank's CPUs; (a, b) = (the runtime's
    place k, the rank's place k), a = None when the machine has fewer such places than the rank.
    """
    n = len(places)
    places = tuple(places)
    full = {rt: abstract_places(topology, granularity, rt) for rt in ("gnu", "llvm")}
    ok = {rt: n <= len(f) and f[:n] == places for rt, f in full.items()}

    def first_diff(f: tuple[CpuSet, ...]) -> int:
        return next((k for k in range(n) if k >= len(f) or f[k] != places[k]), n)

    if ok["gnu"] != ok["llvm"]:
        k = first_diff(full["llvm"] if ok["gnu"] else full["gnu"])
        g, lv = full["gnu"], full["llvm"]
        return "order", k, (g[k] if k < len(g) else None, lv[k] if k < len(lv) else None)
    g = full["gnu"]
    k = first_diff(g)
    return "machine", k, (g[k] if k < len(g) else None, places[k] if k < n else None)


# -- formatting -------------------------------------------------------------------------------------------------
def format_explicit(places: Sequence[CpuSet]) -> str:
    # to_braces() text is kept by each set: a plan's places are mostly the topology's shared sets (one CPU, a
    # whole core ...), so each is formatted once per machine, not once per plan
    return ",".join(map(CpuSet.to_braces, places))


def _shift(p: CpuSet, by: int) -> CpuSet | None:
    """p moved by ``by`` CPU ids; None when that leaves the id range (so it cannot equal any real place)."""
    if by >= 0:
        if p.last is not None and p.last + by > MAX_CPU:
            return None
        return CpuSet.from_mask(p.mask << by)
    if p.first is not None and p.first + by < 0:
        return None
    return CpuSet.from_mask(p.mask >> -by)


def _is_shift(p: CpuSet, a: tuple[int, ...], b: tuple[int, ...], stride: int) -> bool:
    """``_shift(p, stride) == q`` for ids ``a`` of p and ``b`` of q, on the small ids instead of the masks (a shift
    of a 4,096-bit mask costs O(machine size)); False when the shift leaves the CPU id range, like _shift."""
    if a[-1] + stride > MAX_CPU:
        return False
    if len(a) != len(b):
        return False
    if len(a) == 1:
        return b[0] - a[0] == stride
    return all(y - x == stride for x, y in zip(a, b, strict=True))


def format_intervals(places: Sequence[CpuSet]) -> str:
    """Collapse runs of equally shifted places into place intervals; single places use resource intervals."""
    out: list[str] = []
    i, n = 0, len(places)
    ids = [p.ids for p in places]
    if n > 2 and max(map(len, ids)) == 1:
        return _intervals_of_cpus([x[0] for x in ids], places)
    while i < n:
        p = places[i]
        j = i + 1
        if p and j < n and len(ids[j]) == len(ids[i]):
            stride = ids[j][0] - ids[i][0]
            if stride > 0 and _is_shift(p, ids[i], ids[j], stride):
                j += 1
                while j < n and _is_shift(places[j - 1], ids[j - 1], ids[j], stride):
                    j += 1
                out.append(f"{_omp(p)}:{j - i}:{stride}")
                i = j
                continue
        out.append(_omp(p))
        i += 1
    return ",".join(out)


def _intervals_of_cpus(f: list[int], places: Sequence[CpuSet]) -> str:
    """format_intervals() when every place is one CPU (``f``: the CPUs): the same greedy walk, but over runs of
    equal steps between consecutive CPUs (found in C by groupby) instead of place by place."""
    n = len(f)
    steps = list(map(sub, f[1:], f[:-1]))
    runs = []  # (step, first index into steps, length)
    pos = 0
    for v, g in groupby(steps):
        k = len(list(g))
        runs.append((v, pos, k))
        pos += k
    out = []
    i = ri = 0
    while i < n:
        if i == n - 1:
            out.append(f"{{{f[i]}}}")
            break
        while runs[ri][1] + runs[ri][2] <= i:
            ri += 1
        v, st, k = runs[ri]
        if v > 0:
            last = st + k  # steps[st + k - 1] leads to place st + k: the last place of this interval
            out.append(f"{{{f[i]}}}:{last - i + 1}:{v}")
            i = last + 1
        else:
            out.append(f"{{{f[i]}}}")
            i += 1
    return ",".join(out)


def format_places(places: Sequence[CpuSet], notation: str) -> str:
    """``explicit`` or ``intervals`` (abstract is decided by the planner, which knows the topology)."""
    if notation == "intervals":
        return format_intervals(places)
    return format_explicit(places)


# -- parsing ----------------------------------------------------------------------------------------------------
_ABSTRACT_RE = re.compile(r"^\s*([a-z_]+)\s*(?:\(\s*(\d+)\s*\)\s*)?$", re.IGNORECASE)
_INT_RE = re.compile(r"^[+-]?\d+$")


def _split_top(text: str) -> list[str]:
    """Split at commas outside braces."""
    items, depth, cur = [], 0, []
    for ch in text:
        if ch == "{":
            if depth:
                raise OmpvizError(f"nested braces in OMP_PLACES {text!r}: a place is one {{...}} list")
            depth = 1
        elif ch == "}":
            if not depth:
                raise OmpvizError(f"unmatched '}}' in OMP_PLACES {text!r}")
            depth = 0
        if ch == "," and not depth:
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth:
        raise OmpvizError(f"unclosed brace in OMP_PLACES {text!r}: write e.g. {{0:4}},{{4:4}}")
    items.append("".join(cur))
    return items


def _num(tok: str, what: str, text: str) -> int:
    tok = tok.strip()
    if not _INT_RE.match(tok):
        raise OmpvizError(f"{tok!r} is not a number ({what}) in OMP_PLACES {text!r}")
    return int(tok)


def parse_places(text: str, topology: Topology | None = None, runtime: str = "gnu") -> tuple[CpuSet, ...]:
    """Parse an OMP_PLACES value into its list of places (CPU sets, OS indices), in order.

    Abstract names need ``topology`` (the places are those the runtime builds with every allowed CPU).
    """
    if text is None or not text.strip():
        raise OmpvizError("empty OMP_PLACES: write e.g. cores or {0:4},{4:4}")
    t = text.strip()
    m = _ABSTRACT_RE.match(t)
    if m and "{" not in t:
        name = m.group(1).lower()
        if name not in ABSTRACT_NAMES:
            raise OmpvizError(f"unknown OMP_PLACES name {name!r}: use one of {', '.join(ABSTRACT_NAMES)}")
        if topology is None:
            raise OmpvizError(f"OMP_PLACES={t} depends on the machine: a topology is needed to expand it")
        full = abstract_places(topology, name, runtime)
        if m.group(2) is None:
            return full
        n = int(m.group(2))
        if n < 1:
            raise OmpvizError(f"OMP_PLACES={t}: the count must be at least 1")
        return full[:n]
    places: list[CpuSet] = []
    for item in _split_top(t):
        it = item.strip()
        if not it:
            raise OmpvizError(f"empty item in OMP_PLACES {text!r}: remove the extra comma")
        neg = it.startswith("!")
        if neg:
            it = it[1:].lstrip()
        if not it.startswith("{"):
            raise OmpvizError(f"{item.strip()!r} in OMP_PLACES {text!r} is not a place: write e.g. {{0,1}}")
        close = it.index("}")
        place = parse_omp_place(it[: close + 1])
        rest = it[close + 1 :].strip()
        length, stride = 1, 1
        if rest:
            if not rest.startswith(":"):
                raise OmpvizError(f"unexpected {rest!r} after a place in OMP_PLACES {text!r}")
            parts = rest[1:].split(":")
            if len(parts) > 2:
                raise OmpvizError(f"{item.strip()!r} in OMP_PLACES {text!r}: a place interval is {{..}}:len[:stride]")
            length = _num(parts[0], "length", text)
            if length < 1:
                raise OmpvizError(f"place interval {item.strip()!r} in OMP_PLACES {text!r} has length < 1")
            if len(parts) == 2:
                stride = _num(parts[1], "stride", text)
        if neg and length != 1:
            raise OmpvizError(f"'!{it}' in OMP_PLACES {text!r}: '!' excludes one place, not a place interval")
        expanded = []
        for k in range(length):
            p = _shift(place, k * stride)
            if p is None or (p.last is not None and p.last > MAX_CPU):
                raise OmpvizError(f"place interval {item.strip()!r} in OMP_PLACES {text!r} leaves the CPU range")
            expanded.append(p)
        if neg:
            # As libgomp 14 does (checked with OMP_DISPLAY_ENV): '!{..}' removes the FIRST equal place listed
            # before it; no equal place (or '!' first) makes the whole OMP_PLACES invalid.
            try:
                places.pop(places.index(place))
            except ValueError:
                raise OmpvizError(
                    f"'!{it}' in OMP_PLACES {text!r} excludes a place that is not listed before it"
                ) from None
        else:
            places.extend(expanded)
    return tuple(places)
