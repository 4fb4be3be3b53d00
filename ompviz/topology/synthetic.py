"""hwloc synthetic topology strings: ``synthetic:pack:2 numa:2 l3:2 core:8 pu:2``.

Follows hwloc 2.x ``topology-synthetic.c`` / ``hwloc_type_sscanf`` so a string means what ``lstopo -i STR``
shows:
- Levels ``TYPE:N`` from the top, the last one PU. Type names are case-insensitive prefixes of the hwloc
  name with at least 2 letters (``pa``/``pack``/``package``, ``socket``; ``no``/``node``/``nu``/``numa``/
  ``numanode``; ``di``/``die``; ``co``/``core``; ``pu``; ``gr``/``group``; ``l3``/``l3cache``, ``L1d``,
  ``L1i``, ``L2``...; ``Tile``/``Module`` are groups). A single letter (``p``, ``n``, ``c``) is refused, as
  hwloc refuses it: ``p`` could be package or PU.
- Bare arities ``2 2 4``: hwloc's rule, in priority NUMA, package, core, up to four caches (L2, L1d, L3,
  L1i), then groups; placed top-down as groups, package, NUMA, caches, core. ``2 2 4`` = pack:2 numa:2 pu:4.
- ``[numa]`` / ``[NUMANode(memory=1GB)]`` attaches memory to the level before it (``lstopo --of synthetic``
  writes this); without any NUMA level there is one NUMA node for the machine.
- Attributes: ``(memory=SIZE)`` (as in hwloc 2.x: bytes, kB/MB/GB/TB = powers of 1000, KiB..TiB of
  1024), ``(size=SIZE)`` for caches,
  ``(indexes=...)``: an explicit list ``0,4,1,5,...`` or interleave loops ``step*count:...`` /
  ``type:type`` (``PU:2(indexes=2*192:1*2)`` numbers SMT siblings N and N+192). Where hwloc silently
  ignores an invalid ``indexes=`` (and falls back to 0,1,2...), ompviz refuses it: a planner working on
  numbering the user did not mean is worse than an error.
- Memory attached at more than one level is refused (a PU would have several "local" NUMA nodes).
Above 65,536 PUs is refused before anything is allocated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ompviz.errors import OmpvizError
from ompviz.topology.model import MAX_PUS, PURecord, Topology, build_topology

__all__ = ["load_synthetic"]

EXAMPLE = "pack:2 numa:2 l3:2 core:8 pu:2"
_MAX_LEVELS = 128  # HWLOC_SYNTHETIC_MAX_DEPTH
_MAX_OS_INDEX = 1_048_575  # ompviz.cpuset.MAX_CPU

# hwloc_type_sscanf order: (hwloc name, min letters, kind); kind None = a type hwloc refuses in synthetic
# strings (or ompviz cannot model), listed so the error says so instead of "unknown".
_NAMES: tuple[tuple[str, int, str | None], ...] = (
    ("osdev", 2, None),
    ("block", 4, None),
    ("network", 3, None),
    ("openfabrics", 7, None),
    ("dma", 3, None),
    ("gpu", 3, None),
    ("coproc", 5, None),
    ("co-processor", 6, None),
    ("machine", 2, None),
    ("numanode", 2, "numa"),
    ("node", 2, "numa"),
    ("memcache", 5, None),
    ("package", 2, "package"),
    ("socket", 2, "package"),
    ("die", 2, "die"),
    ("core", 2, "core"),
    ("pu", 2, "pu"),
    ("misc", 4, None),
    ("bridge", 4, None),
    ("hostbridge", 6, None),
    ("pcibridge", 5, None),
    ("pcidev", 3, None),
)


@dataclass(slots=True)
class _Level:
    kind: str | None  # package numa die core pu group cache; None = bare arity, resolved later
    arity: int = 1  # number of these objects in each parent
    cache_depth: int = 0
    cache_type: str = ""  # "", "d", "i"
    group_depth: int | None = None
    memory: int | None = None  # memory= (NUMA) or size= (caches)
    indexes: str | None = None
    total: int = 1  # objects of this level in the whole machine
    word: str = ""  # the token as written, for error messages


@dataclass(frozen=True, slots=True)
class _Attached:
    parent: int  # level index the memory hangs from (0 = machine)
    memory: int | None
    indexes: str | None


class _Error(Exception):
    """A problem with one token; turned into a one-line OmpvizError naming the source."""


def load_synthetic(desc: str, *, source: str) -> Topology:
    """Build a Topology from an hwloc synthetic description (without the ``synthetic:`` prefix)."""
    try:
        return _load(desc, source)
    except _Error as e:
        raise OmpvizError(f"{source}: {e}; a valid example: synthetic:'{EXAMPLE}'") from None


def _load(desc: str, source: str) -> Topology:
    levels, attached = _parse(desc)
    _resolve_types(levels, attached)
    _totals_and_limits(levels)
    for lv in levels:
        lv.memory = lv.memory if lv.memory else _default_size(lv)
    pu_idx = _indexes(levels, len(levels) - 1)
    return _build(desc, source, levels, attached, pu_idx)


# -- parsing --------------------------------------------------------------------------------------------
def _parse(desc: str) -> tuple[list[_Level], list[_Attached]]:
    s = desc
    i = _skip(s, 0)
    if i >= len(s):
        raise _Error("empty synthetic topology")
    root = _Level("machine")
    levels = [root]
    attached: list[_Attached] = []
    if s[i] == "(":
        i = _attrs(s, i, root)
    while True:
        i = _skip(s, i)
        if i >= len(s):
            break
        start = i
        token = _token_at(s, i)
        if s[i] == "[":
            end = s.find("]", i)
            if end < 0:
                raise _Error(f"token {token!r} has no closing ']'")
            inner = s[i + 1 : end]
            word = re.match(r"[^(\s]*", inner).group(0)
            kind = _type_of(word, token)[0]
            if kind != "numa":
                raise _Error(f"token {token!r}: only NUMA nodes can be attached with [..], e.g. [numa]")
            lv = _Level("numa", word=token)
            if "(" in inner:
                _attrs(inner, inner.index("("), lv)
            attached.append(_Attached(len(levels) - 1, lv.memory, lv.indexes))
            i = end + 1
            if i < len(s) and not s[i].isspace():
                raise _Error(f"expected a space after {s[start:i]!r}")
            continue
        lv = _Level(None, word=token)
        if not s[i].isdigit():
            m = re.match(r"[^\s:()\[\]]+", s[i:])
            word = m.group(0) if m else ""
            j = i + len(word)
            if j >= len(s) or s[j] != ":":
                raise _Error(f"token {token!r} needs ':' and a count after the type, e.g. core:8")
            (lv.kind, lv.cache_depth, lv.cache_type, lv.group_depth) = _type_of(word, token)
            i = j + 1
        n, i = _strtoul0(s, i)
        if n is None:
            raise _Error(f"token {token!r} has no number of objects")
        if n == 0:
            raise _Error(f"token {token!r}: the number of objects must be at least 1")
        lv.arity = n
        if i < len(s) and s[i] == "(":
            i = _attrs(s, i, lv)
        if i < len(s) and not s[i].isspace() and s[i] != "[":
            raise _Error(f"unexpected {s[i:][:10]!r} in token {token!r}")
        levels.append(lv)
        if len(levels) >= _MAX_LEVELS:
            raise _Error(f"too many levels (hwloc allows at most {_MAX_LEVELS - 1})")
    if len(levels) < 2:
        raise _Error(f"no levels in {desc.strip()[:40]!r}")
    return levels, attached


def _skip(s: str, i: int) -> int:
    while i < len(s) and s[i].isspace():
        i += 1
    return i


def _token_at(s: str, i: int) -> str:
    """The whitespace-separated token starting at i, keeping parenthesised attributes together."""
    depth = 0
    j = i
    while j < len(s) and (depth or not s[j].isspace()):
        depth += {"(": 1, ")": -1}.get(s[j], 0)
        depth = max(depth, 0)
        j += 1
    tok = s[i:j]
    return tok if len(tok) <= 40 else tok[:37] + "..."


def _strtoul0(s: str, i: int) -> tuple[int | None, int]:
    """C strtoul(.., 0): decimal, 0x hex, or leading-0 octal (as hwloc reads counts and sizes)."""
    m = re.match(r"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*", s[i:])
    if not m:
        return None, i
    t = m.group(0)
    if t[:2].lower() == "0x":
        v = int(t, 16)
    elif len(t) > 1 and t[0] == "0":
        v = int(t, 8)
    else:
        v = int(t)
    return v, i + len(t)


def _attrs(s: str, i: int, lv: _Level) -> int:
    """Parse ``(name=value name=value)`` at s[i] == '('; return the index after ')'."""
    close = s.find(")", i)
    if close < 0:
        raise _Error(f"attributes {s[i:][:20]!r} have no closing ')'")
    body = s[i + 1 : close]
    is_cache = lv.kind == "cache"
    for item in body.split(" "):
        if not item:
            raise _Error(f"empty attribute in {s[i : close + 1]!r} (separate attributes with one space)")
        name, eq, value = item.partition("=")
        if not eq:
            raise _Error(f"attribute {item!r} is not name=value")
        if name == "indexes":
            if not value:
                raise _Error("empty indexes= attribute")
            lv.indexes = value
        elif (name == "size" and is_cache) or (name == "memory" and not is_cache):
            lv.memory = _size(value, item)
        else:
            allowed = "size=, indexes=" if is_cache else "memory=, indexes="
            raise _Error(f"unknown attribute {item!r} (allowed here: {allowed})")
    return close + 1


def _size(value: str, item: str) -> int:
    n, j = _strtoul0(value, 0)
    if n is None:
        raise _Error(f"attribute {item!r} needs a size such as 1GB")
    unit = value[j:].lower()
    # hwloc 2.x: kB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB powers of 1024 (lstopo shows "1GB" as 954MB)
    scale = {"": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
    scale.update({"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40})
    if unit not in scale:
        raise _Error(f"attribute {item!r}: unknown size unit {value[j:]!r} (use kB, MB, GB, TB or KiB, MiB, GiB, TiB)")
    return n * scale[unit]


def _type_of(word: str, token: str) -> tuple[str, int, str, int | None]:
    """hwloc_type_sscanf on one word: (kind, cache depth, cache type, group depth)."""
    low = word.lower()
    letters = re.match(r"[a-z-]*", low).group(0)
    rest = low[len(letters) :]
    for name, minlen, kind in _NAMES:
        if len(letters) >= minlen and name.startswith(letters) and not rest:
            if kind is None:
                raise _Error(f"object type {word!r} in token {token!r} is not allowed in a synthetic topology")
            return kind, 0, "", None
    m = re.fullmatch(r"l([0-9]+)([diu]?)(c|ca|cac|cach|cache)?", low)
    if m:
        depth, letter = int(m.group(1)), m.group(2)
        if (letter == "i" and 1 <= depth <= 3) or (letter != "i" and 1 <= depth <= 5):
            return "cache", depth, "" if letter == "u" else letter, None
    m = re.fullmatch(r"(gr|gro|grou|group)([0-9]*)", low)
    if m:
        return "group", 0, "", int(m.group(2)) if m.group(2) else None
    if word in ("Tile", "Module"):  # hwloc: "possible future types", made groups
        return "group", 0, "", None
    raise _Error(
        f"unknown object type {word!r} in token {token!r} (use at least 2 letters of package, numa, die, "
        "group, l3, core, pu)"
    )


# -- resolution -----------------------------------------------------------------------------------------
def _resolve_types(levels: list[_Level], attached: list[_Attached]) -> None:
    last = levels[-1]
    if last.kind not in (None, "pu"):
        raise _Error(f"the last level {last.word!r} must be PUs, e.g. '... core:8 pu:2'")
    last.kind = "pu"
    middle = levels[1:-1]
    unset = sum(1 for lv in middle if lv.kind is None)
    if unset and unset != len(middle):
        raise _Error("cannot mix bare counts and typed levels (write every type, or none as in '2 2 4')")
    if unset:
        _assign_bare(middle, has_attached=bool(attached))
    for kind, what in (("pu", "PU"), ("package", "package"), ("die", "die"), ("numa", "NUMA"), ("core", "core")):
        same = [lv for lv in levels[1:] if lv.kind == kind]
        if len(same) > 1:
            raise _Error(f"several {what} levels ({same[0].word!r} and {same[1].word!r}); keep one")
    if attached and any(lv.kind == "numa" for lv in levels):
        raise _Error("NUMA nodes both as a level and attached with [..]; keep one")
    if len({a.parent for a in attached}) > 1:
        raise _Error("memory attached at several levels; ompviz supports [numa] at one level only")
    if not attached and not any(lv.kind == "numa" for lv in levels):
        # hwloc inserts a single NUMA node below the machine
        levels.insert(1, _Level("numa", arity=1, word="(implicit NUMA node)"))


def _assign_bare(middle: list[_Level], *, has_attached: bool) -> None:
    count = len(middle)
    neednuma = int(count >= 1 and not has_attached)
    count -= neednuma
    needpack = int(count >= 1)
    count -= needpack
    needcore = int(count >= 1)
    count -= needcore
    needcaches = min(count, 4)
    count -= needcaches
    kinds: list[tuple[str, int, str]] = [("group", 0, "")] * count
    kinds += [("package", 0, "")] * needpack + [("numa", 0, "")] * neednuma
    if needcaches:
        caches = [("cache", 2, "")]  # priority l2, l1d, l3, l1i; order l3, l2, l1d, l1i
        if needcaches >= 2:
            caches.append(("cache", 1, "d"))
        if needcaches >= 3:
            caches.insert(0, ("cache", 3, ""))
        if needcaches >= 4:
            caches.append(("cache", 1, "i"))
        kinds += caches
    kinds += [("core", 0, "")] * needcore
    for lv, (kind, depth, ctype) in zip(middle, kinds, strict=True):
        lv.kind, lv.cache_depth, lv.cache_type = kind, depth, ctype


def _totals_and_limits(levels: list[_Level]) -> None:
    """Objects per level; refuse oversize machines before building anything."""
    total = 1
    for lv in levels[1:]:
        total *= lv.arity
        lv.total = total
        if total > MAX_PUS:
            raise _Error(
                f"token {lv.word!r} makes {total} objects, more than the {MAX_PUS} PUs ompviz handles"
                if lv is not levels[-1]
                else f"{total} PUs is more than the {MAX_PUS} ompviz handles"
            )


def _default_size(lv: _Level) -> int | None:
    # hwloc's defaults: 32kB L1, 256kB << 2*depth above (4MB L2, 16MB L3), 1GB per NUMA node
    if lv.kind == "cache":
        return 32 << 10 if lv.cache_depth == 1 else (256 << 10) << (2 * lv.cache_depth)
    if lv.kind == "numa":
        return 1 << 30
    return None


def _indexes(
    levels: list[_Level], depth: int, spec: str | None = None, total: int | None = None, word: str | None = None
) -> list[int] | None:
    """OS indexes of the objects of one level (hwloc_synthetic_process_indexes), or None for 0, 1, 2...

    ``depth`` is the level numbered (type-name loops look above it); attached NUMA nodes pass their own
    ``spec``/``total``/``word`` with the depth just below the level they hang from.
    """
    if spec is None:
        if depth >= len(levels) or levels[depth].indexes is None:
            return None
        spec = levels[depth].indexes
    total = levels[depth].total if total is None else total
    word = levels[depth].word if word is None else word
    where = f"indexes={spec[:30]}"
    if re.fullmatch(r"[0-9,]+", spec):
        parts = spec.split(",")
        if len(parts) != total or not all(parts):
            raise _Error(f"{where} lists {len(parts)} indexes, {word!r} has {total} objects")
        arr = [int(p) for p in parts]
        if len(set(arr)) != total:
            raise _Error(f"{where} repeats an index")
        if max(arr) > _MAX_OS_INDEX:
            raise _Error(f"{where} has an index above {_MAX_OS_INDEX}")
        return arr
    loops: list[tuple[int, int]] = []  # (step, nb)
    if spec[0].isdigit():
        for part in spec.split(":"):
            m = re.fullmatch(r"([0-9]+)\*([0-9]+)", part)
            if not m or not int(m.group(1)) or not int(m.group(2)):
                raise _Error(f"{where}: {part!r} is not step*count with both above 0, e.g. 2*192:1*2")
            loops.append((int(m.group(1)), int(m.group(2))))
    else:
        found: list[int] = []
        for part in spec.split(":"):
            kind, cdepth, ctype, gdepth = _type_of(part, where)
            for d in range(depth):
                o = levels[d]
                if o.kind == kind and (kind != "cache" or (o.cache_depth, o.cache_type) == (cdepth, ctype)):
                    if kind == "group" and gdepth is not None and o.group_depth != gdepth:
                        continue
                    break
            else:
                raise _Error(f"{where}: no {part!r} level above {word!r}")
            if d in found:
                raise _Error(f"{where}: {part!r} appears twice")
            found.append(d)
        for d in found:
            prev = max((o for o in found if o < d), default=0)
            loops.append((total // levels[d].total, levels[d].total // levels[prev].total))
    nbs = 1
    for _, nb in loops:
        nbs *= nb
    if nbs != total:
        minstep = min((step for step, _ in loops), default=total)
        if nbs and total % nbs == 0 and minstep == total // nbs:
            loops.append((1, total // nbs))
        else:
            raise _Error(f"{where} covers {nbs} objects, {word!r} has {total}")
    arr = [0] * total
    mul = 1
    for step, nb in loops:
        for j in range(total):
            arr[j] += ((j // step) % nb) * mul
        mul *= nb
    if len(set(arr)) != total or max(arr) >= total:
        raise _Error(f"{where} gives duplicate or out-of-range indexes")
    return arr


# -- building -------------------------------------------------------------------------------------------
def _build(desc: str, source: str, levels: list[_Level], attached: list[_Attached], pu_idx) -> Topology:
    total = levels[-1].total
    by_kind = {lv.kind: d for d, lv in enumerate(levels) if lv.kind in ("package", "die", "numa", "core")}
    l3_depth = next(
        (d for d, lv in enumerate(levels) if lv.kind == "cache" and lv.cache_depth == 3 and lv.cache_type != "i"),
        None,
    )

    def naming(depth: int | None):
        if depth is None:
            return None, None
        return total // levels[depth].total, _indexes(levels, depth)

    pkg_below, pkg_idx = naming(by_kind.get("package"))
    die_below, die_idx = naming(by_kind.get("die"))
    core_below = naming(by_kind.get("core"))[0]
    l3_below = naming(l3_depth)[0]
    numa_sizes: dict[int, int] = {}
    if attached:
        a = attached[0]
        parent_total = levels[a.parent].total if a.parent else 1
        numa_below = total // parent_total
        numa_idx = _indexes(levels, a.parent + 1, spec=a.indexes, total=parent_total, word="[numa]")
        numa_mem = a.memory  # hwloc gives attached nodes no default size
    else:
        numa_below, numa_idx = naming(by_kind["numa"])
        numa_mem = levels[by_kind["numa"]].memory

    def name_of(j: int, below: int | None, idx: list[int] | None) -> int | None:
        if below is None:
            return None
        k = j // below
        return idx[k] if idx else k

    # hwloc's CPU tree above the cores: every level of the string down to the core level (or to the PUs when
    # there is none). A NUMA level becomes a Group object holding the node (hwloc 2 NUMA nodes are memory
    # children), so it splits like any other level in hwloc_distrib().
    last = by_kind.get("core", len(levels) - 1)
    chain_below = [total // levels[d].total for d in range(1, last)]

    records = []
    for j in range(total):
        numa = name_of(j, numa_below, numa_idx)
        if numa is not None and numa_mem:
            numa_sizes[numa] = numa_mem
        records.append(
            PURecord(
                os_index=pu_idx[j] if pu_idx else j,
                package=name_of(j, pkg_below, pkg_idx),
                die=name_of(j, die_below, die_idx),
                numa=numa,
                l3_key=None if l3_below is None else j // l3_below,
                core_key=None if core_below is None else j // core_below,
                levels=tuple((d, j // below) for d, below in enumerate(chain_below, 1)),
            )
        )
    cache_sizes: dict[str, int] = {}
    for lv in levels:
        if lv.kind == "cache" and lv.memory:
            key = (
                f"L{lv.cache_depth}i"
                if lv.cache_type == "i"
                else "L1d"
                if lv.cache_depth == 1
                else f"L{lv.cache_depth}"
            )
            cache_sizes.setdefault(key, lv.memory)
    return build_topology(
        records,
        name=f"synthetic {' '.join(desc.split())}",
        source=source,
        source_kind="synthetic",
        cache_sizes=cache_sizes,
        numa_sizes=numa_sizes,
    )
