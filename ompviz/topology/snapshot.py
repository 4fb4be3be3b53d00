"""ompviz JSON snapshots: a topology captured (``ompviz dump``) so it can be explored on another machine.

Schema version 1::

    {"ompviz_snapshot": 1, "name": str, "source": str, "source_kind": str,
     "cache_sizes": {"L1d": bytes, ...}, "notes": [str, ...],
     "numa_sizes": {"<numa os index>": bytes}, "l3_sizes": {"<l3 logical index>": bytes},
     "pus": [{"os_index", "package", "die", "numa", "l3_key", "core_key", "kind", "online", "allowed"
              [, "levels": [int, ...]]}, ...]}

``levels`` (optional, written when the source knew hwloc's CPU tree): the PU's chain of hwloc objects above its
core, outer first, each object numbered machine-wide (PURecord.levels). Files without it still load; hwloc_distrib
then sees package > die > L3 only.

``pus`` holds every PURecord field, so loading is just ``build_topology`` again: the same grouping gives the same
logical indices. ``l3_key``/``core_key`` are the L3 and core logical indices of the captured topology.
A reader refuses versions it does not know rather than guessing.
"""

from __future__ import annotations

import json
import os

from ompviz.errors import OmpvizError
from ompviz.topology.model import PURecord, Topology, build_topology

SCHEMA_VERSION = 1
MAX_BYTES = 256 * 1024 * 1024

_PU_FIELDS = ("os_index", "package", "die", "numa", "l3_key", "core_key", "kind", "online", "allowed")


def to_snapshot(topo: Topology, *, levels: bool = False) -> dict:
    """The snapshot document; ``levels=True`` adds each PU's hwloc tree chain (what ``ompviz dump`` writes).

    Off by default so documents embedding a snapshot (saved configs) keep their exact form until their owner opts
    in; without it a reloaded topology splits ``--strategy distrib`` by package > die > L3 only.
    """
    pus = []
    # level keys can be any hashable (sysfs uses CPU masks): number them 0, 1, 2... in order of appearance
    level_ids: dict[object, int] = {}
    for p in topo.pus:
        row = {
            "os_index": p.os_index,
            "package": p.package,
            "die": p.die,
            "numa": p.numa,
            "l3_key": p.l3,
            "core_key": p.core,
            "kind": p.kind,
            "online": p.online,
            "allowed": p.allowed,
        }
        if levels and p.levels:
            row["levels"] = [level_ids.setdefault(k, len(level_ids)) for k in p.levels]
        pus.append(row)
    return {
        "ompviz_snapshot": SCHEMA_VERSION,
        "name": topo.name,
        "source": topo.source,
        "source_kind": topo.source_kind,
        "cache_sizes": dict(topo.cache_sizes),
        "notes": list(topo.notes),
        "numa_sizes": {str(g.index): g.size for g in topo.numa_nodes if g.size is not None},
        "l3_sizes": {str(g.index): g.size for g in topo.l3s if g.size is not None},
        "pus": pus,
    }


def dumps_snapshot(topo: Topology) -> str:
    """The snapshot as JSON text, one PU per line (a 384-PU machine stays a readable ~400-line file)."""
    d = to_snapshot(topo, levels=True)
    pus = d.pop("pus")
    head = json.dumps(d, indent=1)[:-2]  # drop the closing "\n}" to append the PU list
    rows = ",\n".join("  " + json.dumps(p) for p in pus)
    return f'{head},\n "pus": [\n{rows}\n ]\n}}\n'


def load_snapshot(path: str, *, source: str) -> Topology:
    try:
        size = os.path.getsize(path)
        if size > MAX_BYTES:
            raise OmpvizError(f"{source}: {size} bytes is far too big for an ompviz snapshot")
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise OmpvizError(f"{source}: cannot read: {e.strerror or e}") from None
    try:
        d = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise OmpvizError(f"{source}: not UTF-8 text, so not an ompviz snapshot") from None
    except (ValueError, RecursionError) as e:
        msg = getattr(e, "msg", None) or type(e).__name__
        raise OmpvizError(f"{source}: broken snapshot JSON ({msg}); write a new one with 'ompviz dump'") from None
    return from_snapshot(d, source=source)


def _bad(source: str, what: str) -> OmpvizError:
    return OmpvizError(f"{source}: invalid ompviz snapshot: {what}; write a new one with 'ompviz dump'")


def _opt_int(v: object, what: str, source: str) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise _bad(source, f"{what} is {v!r}, expected a non-negative integer or null")
    return v


def _key(v: object, what: str, source: str) -> object:
    """Grouping keys: ints from ompviz dump; strings and (nested) lists accepted, lists made hashable."""
    if v is None or isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)):
        return v
    if isinstance(v, list):
        return tuple(_key(x, what, source) for x in v)
    raise _bad(source, f"{what} is {v!r}")


def _sizes(d: object, what: str, source: str) -> dict[int, int]:
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise _bad(source, f"{what} is not an object")
    out = {}
    for k, v in d.items():
        if not (isinstance(k, str) and k.isdigit() and k.isascii()):
            raise _bad(source, f"{what} key {k!r} is not an index")
        if v is None:
            continue
        out[int(k)] = _opt_int(v, f"{what}[{k}]", source)
    return out


def from_snapshot(d: object, *, source: str) -> Topology:
    if not isinstance(d, dict) or "ompviz_snapshot" not in d:
        raise _bad(source, 'no "ompviz_snapshot" version field')
    version = d["ompviz_snapshot"]
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise OmpvizError(
            f"{source}: ompviz snapshot schema version {version!r} is not supported (this ompviz reads version "
            f"{SCHEMA_VERSION}); re-dump it with this ompviz or upgrade ompviz"
        )
    name = d.get("name")
    orig_source = d.get("source")
    orig_kind = d.get("source_kind")
    for what, v in (("name", name), ("source", orig_source), ("source_kind", orig_kind)):
        if not isinstance(v, str):
            raise _bad(source, f"{what} is {v!r}, expected text")
    notes = d.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise _bad(source, "notes is not a list of text")
    cache_sizes = d.get("cache_sizes", {})
    if not isinstance(cache_sizes, dict) or not all(
        isinstance(k, str) and (v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0))
        for k, v in cache_sizes.items()
    ):
        raise _bad(source, "cache_sizes is not an object of byte counts")
    pus = d.get("pus")
    if not isinstance(pus, list):
        raise _bad(source, 'no "pus" list')
    records = []
    for i, p in enumerate(pus):
        if not isinstance(p, dict):
            raise _bad(source, f"pus[{i}] is not an object")
        os_index = _opt_int(p.get("os_index"), f"pus[{i}].os_index", source)
        if os_index is None:
            raise _bad(source, f"pus[{i}] has no os_index")
        kind = p.get("kind")
        if kind is not None and not isinstance(kind, str):
            raise _bad(source, f"pus[{i}].kind is {kind!r}")
        flags = {}
        for f in ("online", "allowed"):
            v = p.get(f, True)
            if not isinstance(v, bool):
                raise _bad(source, f"pus[{i}].{f} is {v!r}, expected true/false")
            flags[f] = v
        levels = p.get("levels", [])
        if not isinstance(levels, list):
            raise _bad(source, f"pus[{i}].levels is {levels!r}, expected a list")
        records.append(
            PURecord(
                os_index=os_index,
                package=_opt_int(p.get("package"), f"pus[{i}].package", source),
                die=_opt_int(p.get("die"), f"pus[{i}].die", source),
                numa=_opt_int(p.get("numa"), f"pus[{i}].numa", source),
                l3_key=_key(p.get("l3_key"), f"pus[{i}].l3_key", source),
                core_key=_key(p.get("core_key"), f"pus[{i}].core_key", source),
                kind=kind,
                online=flags["online"],
                allowed=flags["allowed"],
                levels=tuple(_key(x, f"pus[{i}].levels", source) for x in levels),
            )
        )
    try:
        return build_topology(
            records,
            name=name,
            source=source,
            source_kind="snapshot",
            cache_sizes={k: v for k, v in cache_sizes.items() if v is not None},
            numa_sizes=_sizes(d.get("numa_sizes"), "numa_sizes", source),
            l3_sizes=_sizes(d.get("l3_sizes"), "l3_sizes", source),
            notes=(*notes, f"snapshot of {orig_source} ({orig_kind})"),
        )
    except TypeError:
        # mixed key types (e.g. an int and a list for core_key) cannot be ordered: not something dump writes
        raise _bad(source, "grouping keys of mixed types") from None
