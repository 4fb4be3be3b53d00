"""hwloc XML topologies (formats 1.x, 2.0 and 3.0) read with a streaming, entity-refusing expat parser.

What is read:
- PU objects (``os_index``) and the objects enclosing them: Package (1.x: Socket), Die, L3 cache
  (``L3Cache``; 1.x: ``Cache`` with ``depth="3"``) and Core. Other objects (Group, L1/L2, I/O, Misc) are
  walked through but do not group PUs in the model.
- NUMA nodes: a PU belongs to the first NUMA node (document order) whose ``cpuset`` holds it. This covers
  1.x (NUMANode inside the CPU tree) and 2.0/3.0 (NUMANode as a memory child of a CPU-side parent) alike;
  CPU-less nodes (GPU memory, CXL) hold no PU and so do not appear; a PU covered by several nodes (DDR +
  HBM/MCDRAM) is put in the first one, which hwloc lists first too (normally the DRAM node).
- Online/allowed, from the root object: a CPU in ``complete_cpuset`` without a PU object is offline (hwloc
  knows nothing about it; this is also how an XML exported without ``--whole-system`` shows disallowed CPUs);
  in 1.x a PU outside ``online_cpuset`` is offline; a PU outside ``allowed_cpuset`` is disallowed.
- Core kinds from ``<cpukind>``: see ``_kind_labels``.
- Machine name: the first CPUModel info (Package, then anywhere), else DMIProductName, else the file name.
- Cache sizes from ``cache_size`` (first object of each level), NUMA sizes from ``local_memory``.

Safety: DOCTYPE with an internal subset, entity declarations and references to unknown entities are refused
the moment expat reports them, so a "billion laughs" file costs nothing; the external DTD
(``<!DOCTYPE topology SYSTEM "hwloc2.dtd">``) is never fetched.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import NamedTuple
from xml.parsers import expat

from ompviz.cpuset import CpuSet, parse_hwloc
from ompviz.errors import OmpvizError
from ompviz.topology.model import MAX_PUS, PURecord, Topology, build_topology

__all__ = ["load_hwloc_xml", "parse_hwloc_xml"]

_PACKAGE_TYPES = frozenset({"Package", "Socket"})
_CACHE_TYPES = frozenset({"Cache", "L1Cache", "L2Cache", "L3Cache", "L4Cache", "L5Cache", "L1iCache", "L2iCache"})
# CoreType values hwloc's x86 backend writes; anything else falls back to efficiency ranks.
_CORE_TYPE_LABELS = {"IntelCore": "P", "IntelAtom": "E"}


class _Refused(Exception):
    """Raised inside expat handlers to abort the parse at once."""


class _Ctx(NamedTuple):
    """The CPU-side objects enclosing the current element. (A NamedTuple, not a dataclass: the explorer's start-up
    is benchmarked and a frozen dataclass costs ~1 ms of code generation at import.)"""

    package: int | None = None  # document number of the enclosing package
    die: int | None = None
    l3: int | None = None
    core: int | None = None
    obj_type: str | None = None  # type of the innermost enclosing <object>
    # document numbers of every enclosing object below the root and above the Core (Package, Die, Group, caches,
    # 1.x NUMANode...): hwloc's CPU tree as hwloc_distrib() walks it (PURecord.levels)
    chain: tuple[int, ...] = ()


class _Kind:
    """One <cpukind> element while it is read (its <info> children fill ``infos``)."""

    __slots__ = ("cpuset", "efficiency", "infos")

    def __init__(self, cpuset: str, efficiency: int | None, infos: dict) -> None:
        self.cpuset = cpuset
        self.efficiency = efficiency
        self.infos = infos


class _Reader:
    """One parse: expat callbacks fill these fields (instance state, no globals)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.version: str | None = None
        self.seen_root_element = False
        self.stack: list[_Ctx] = []
        self.counter = 0  # document number for packages/dies/L3/cores
        self.pus: list[tuple[int, _Ctx]] = []
        self.package_os: dict[int, int | None] = {}  # package document number -> os_index
        self.die_os: dict[int, int | None] = {}
        self.numas: list[tuple[int, str, int | None]] = []  # (os_index, cpuset, local_memory)
        self.l3_sizes: dict[int, int] = {}
        self.cache_sizes: dict[str, int] = {}
        self.root_attrs: dict[str, str] | None = None
        self.infos: dict[str, dict[str, str]] = {}  # "package"/"root"/"any" -> name -> value
        self.kinds: list[_Kind] = []
        self.in_kind: _Kind | None = None

    # -- refusals ---------------------------------------------------------------------------------
    def doctype(self, name, sysid, pubid, has_internal_subset) -> None:
        if has_internal_subset:
            raise _Refused("it has an internal DTD subset (entity declarations are never expanded)")

    def entity_decl(self, name, *rest) -> None:
        raise _Refused(f"it declares the XML entity {name!r} (entities are never expanded)")

    def skipped_entity(self, name, is_parameter_entity) -> None:
        raise _Refused(f"it uses the undeclared XML entity {name!r}")

    # -- elements -----------------------------------------------------------------------------------
    def start(self, name: str, attrs: dict[str, str]) -> None:
        if not self.seen_root_element:
            self.seen_root_element = True
            if name != "topology":
                raise _Refused(f"the root element is <{name}>, not <topology>: not an hwloc XML topology")
            self.version = attrs.get("version")
            if self.version is not None:
                major = self.version.split(".", 1)[0]
                if major not in ("1", "2", "3"):
                    raise _Refused(f"hwloc XML format version {self.version!r} is not supported (1.x, 2.0, 3.0 are)")
            self.stack.append(_Ctx())
            return
        ctx = self.stack[-1] if self.stack else _Ctx()
        if name == "object":
            ctx = self._object(ctx, attrs)
        elif name == "info":
            self._info(ctx, attrs)
        elif name == "cpukind" and len(self.stack) == 1:
            eff = attrs.get("forced_efficiency", attrs.get("efficiency"))
            self.in_kind = _Kind(attrs.get("cpuset", ""), _int_or_none(eff), {})
            self.kinds.append(self.in_kind)
        self.stack.append(ctx)

    def end(self, name: str) -> None:
        self.stack.pop()
        if name == "cpukind":
            self.in_kind = None

    def _object(self, ctx: _Ctx, a: dict[str, str]) -> _Ctx:
        t = a.get("type", "")
        if self.root_attrs is None:
            self.root_attrs = a
        if t == "PU":
            os_index = _int(a.get("os_index"), "PU os_index", self.source)
            if len(self.pus) >= MAX_PUS:
                raise _Refused(f"it has more than {MAX_PUS} PUs, more than ompviz handles")
            self.pus.append((os_index, ctx))
            return _Ctx(ctx.package, ctx.die, ctx.l3, ctx.core, t, ctx.chain)
        if t == "Core":
            self.counter += 1
            return _Ctx(ctx.package, ctx.die, ctx.l3, self.counter, t, ctx.chain)
        self.counter += 1
        me = self.counter
        # the root object (Machine; System in 1.x) is not part of the chain, nor anything inside a Core
        chain = ctx.chain if len(self.stack) == 1 or ctx.core is not None else (*ctx.chain, me)
        if t in _PACKAGE_TYPES:
            self.package_os[me] = _int_or_none(a.get("os_index"))
            return _Ctx(me, None, ctx.l3, ctx.core, t, chain)
        if t == "Die":
            self.die_os[me] = _int_or_none(a.get("os_index"))
            return _Ctx(ctx.package, me, ctx.l3, ctx.core, t, chain)
        if t == "NUMANode":
            os_index = _int(a.get("os_index"), "NUMANode os_index", self.source)
            self.numas.append((os_index, a.get("cpuset", ""), _int_or_none(a.get("local_memory"))))
            return _Ctx(ctx.package, ctx.die, ctx.l3, ctx.core, t, chain)
        if t in _CACHE_TYPES:
            level = _cache_level(t, a)
            size = _int_or_none(a.get("cache_size"))
            if level and size:
                self.cache_sizes.setdefault(level, size)
            if level == "L3":
                if size:
                    self.l3_sizes[me] = size
                return _Ctx(ctx.package, ctx.die, me, ctx.core, t, chain)
        return _Ctx(ctx.package, ctx.die, ctx.l3, ctx.core, t, chain)

    def _info(self, ctx: _Ctx, a: dict[str, str]) -> None:
        name, value = a.get("name"), a.get("value")
        if name is None or value is None:
            return
        if self.in_kind is not None:
            self.in_kind.infos.setdefault(name, value)
            return
        where = "package" if ctx.obj_type in _PACKAGE_TYPES else "root" if ctx.obj_type == "Machine" else "any"
        self.infos.setdefault(where, {}).setdefault(name, value)


def _int(text: str | None, what: str, source: str) -> int:
    if text is None:
        raise _Refused(f"a {what.split()[0]} object has no {what.split()[-1]}")
    try:
        v = int(text, 0)
    except ValueError:
        raise _Refused(f"{what} {text[:20]!r} is not a number") from None
    if v < 0:
        raise _Refused(f"{what} {v} is negative")
    return v


def _int_or_none(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text, 0)
    except ValueError:
        return None


def _cache_level(t: str, a: dict[str, str]) -> str | None:
    """Key in cache_sizes: "L1d", "L1i", "L2", "L3", ... (data and unified caches share the plain name)."""
    if t == "Cache":  # hwloc 1.x: depth + cache_type (0 unified, 1 data, 2 instruction)
        depth = _int_or_none(a.get("depth"))
        if depth is None:
            return None
        ctype = a.get("cache_type", "0")
    else:
        depth = int(t[1])
        ctype = "2" if "i" in t[2:4] else a.get("cache_type", "0")
    if ctype == "2":
        return f"L{depth}i"
    return "L1d" if depth == 1 else f"L{depth}"


def _kind_labels(kinds: list[_Kind], source: str) -> list[tuple[CpuSet, str]]:
    """Label hwloc CPU kinds the way a user of lstopo expects.

    - One kind (or none): no label: the machine is uniform.
    - Every kind has a known CoreType (IntelCore, IntelAtom) mapping to distinct labels: "P" / "E".
    - Two kinds otherwise: ranked by efficiency as hwloc does (forced_efficiency, else LinuxCapacity, else
      FrequencyMaxMHz, else file order): the lower one is "E", the higher "P" (e.g. Arm big.LITTLE, GB10).
    - Three or more: "K0", "K1", ... in the same rank order, i.e. the numbers of ``lstopo --cpukinds``
      "CPU kind #N" (K0 is the most power-efficient), since "P"/"E" would hide a difference.
    """
    parsed: list[tuple[CpuSet, _Kind]] = []
    for k in kinds:
        try:
            cpus = parse_hwloc(k.cpuset)
        except OmpvizError as e:
            raise _Refused(f"cpukind cpuset: {e}") from None
        if cpus:
            parsed.append((cpus, k))
    if len(parsed) < 2:
        return []
    core_types = [_CORE_TYPE_LABELS.get(k.infos.get("CoreType", "")) for _, k in parsed]
    if all(core_types) and len(set(core_types)) == len(core_types):
        return [(cpus, label) for (cpus, _), label in zip(parsed, core_types, strict=True)]

    def rank_values(get) -> list[float] | None:
        vals = [get(k) for _, k in parsed]
        return vals if all(v is not None for v in vals) else None

    values = (
        rank_values(lambda k: k.efficiency)
        or rank_values(lambda k: _float_or_none(k.infos.get("LinuxCapacity")))
        or rank_values(lambda k: _float_or_none(k.infos.get("FrequencyMaxMHz")))
        or list(range(len(parsed)))
    )
    order = sorted(range(len(parsed)), key=lambda i: (values[i], i))
    if len(parsed) == 2:
        names = ["E", "P"]
    else:
        names = [f"K{r}" for r in range(len(parsed))]
    return [(parsed[i][0], names[r]) for r, i in enumerate(order)]


def _float_or_none(text: str | None) -> float | None:
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def _new_parser(reader: _Reader) -> expat.XMLParserType:
    p = expat.ParserCreate()
    p.StartDoctypeDeclHandler = reader.doctype
    p.EntityDeclHandler = reader.entity_decl
    p.UnparsedEntityDeclHandler = reader.entity_decl
    p.SkippedEntityHandler = reader.skipped_entity
    p.StartElementHandler = reader.start
    p.EndElementHandler = reader.end
    p.buffer_text = True
    # Never read the external DTD or any external entity.
    p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return p


def parse_hwloc_xml(data: bytes, *, source: str) -> Topology:
    """Parse an hwloc XML topology held in memory."""
    reader = _Reader(source)
    parser = _new_parser(reader)
    _run(source, lambda: parser.Parse(data, True))
    return _build(reader)


def load_hwloc_xml(path: str, *, source: str) -> Topology:
    """Stream-parse an hwloc XML file (``lstopo foo.xml`` output)."""
    reader = _Reader(source)
    parser = _new_parser(reader)
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below; ParseFile streams it in chunks
    except OSError as e:
        raise OmpvizError(f"{source}: cannot read: {e.strerror or e}") from None
    with f:
        _run(source, lambda: parser.ParseFile(f))
    return _build(reader, fallback_name=os.path.basename(path))


def _run(source: str, parse) -> None:
    try:
        parse()
    except _Refused as e:
        raise OmpvizError(f"{source}: refused: {e}") from None
    except expat.ExpatError as e:
        raise OmpvizError(
            f"{source}: not valid XML ({expat.ErrorString(e.code)} at line {e.lineno}, column {e.offset}); "
            "expected an hwloc XML topology such as 'lstopo machine.xml' writes"
        ) from None
    except OSError as e:
        raise OmpvizError(f"{source}: cannot read: {e.strerror or e}") from None
    except (ValueError, LookupError, UnicodeError, OverflowError) as e:
        raise OmpvizError(f"{source}: cannot parse as XML: {e}") from None


def _root_set(reader: _Reader, attr: str) -> CpuSet | None:
    text = (reader.root_attrs or {}).get(attr)
    if text is None:
        return None
    try:
        return parse_hwloc(text)
    except OmpvizError as e:
        raise OmpvizError(f"{reader.source}: root object {attr}: {e}") from None


def _build(reader: _Reader, fallback_name: str | None = None) -> Topology:
    source = reader.source
    if not reader.seen_root_element:
        raise OmpvizError(f"{source}: empty document, expected an hwloc XML <topology>")
    if not reader.pus:
        raise OmpvizError(f"{source}: the hwloc XML has no PU objects, so no CPUs to plan on")

    # Packages/dies are named by OS index; fall back to document order when the file lacks distinct ones.
    def os_names(d: dict[int, int | None]) -> dict[int, int]:
        vals = list(d.values())
        if all(v is not None for v in vals) and len(set(vals)) == len(vals):
            return {k: v for k, v in d.items() if v is not None}
        return {k: i for i, k in enumerate(d)}

    pkg_names = os_names(reader.package_os)
    die_names = os_names(reader.die_os)

    try:
        numas = [(os_i, parse_hwloc(cs) if cs else CpuSet(), mem) for os_i, cs, mem in reader.numas]
        kinds = _kind_labels(reader.kinds, source)
    except _Refused as e:
        raise OmpvizError(f"{source}: {e}") from None
    except OmpvizError as e:
        raise OmpvizError(f"{source}: NUMANode cpuset: {e}") from None

    complete = _root_set(reader, "complete_cpuset")
    allowed = _root_set(reader, "allowed_cpuset")
    online_v1 = _root_set(reader, "online_cpuset")  # hwloc 1.x only

    records: list[PURecord] = []
    present: set[int] = set()
    for os_index, ctx in reader.pus:
        if os_index in present:
            raise OmpvizError(f"{source}: PU P#{os_index} appears twice in the file")
        present.add(os_index)
        numa = next((n for n, cpus, _ in numas if os_index in cpus), None)
        records.append(
            PURecord(
                os_index=os_index,
                package=None if ctx.package is None else pkg_names[ctx.package],
                die=None if ctx.die is None else die_names[ctx.die],
                numa=numa,
                l3_key=ctx.l3,
                core_key=ctx.core,
                kind=next((label for cpus, label in kinds if os_index in cpus), None),
                online=online_v1 is None or os_index in online_v1,
                levels=ctx.chain,
                allowed=allowed is None or os_index in allowed,
            )
        )
    if complete is not None:
        for os_index in complete - CpuSet(present):
            records.append(
                PURecord(
                    os_index=os_index,
                    kind=next((label for cpus, label in kinds if os_index in cpus), None),
                    online=False,
                    allowed=allowed is not None and os_index in allowed,
                )
            )

    numa_sizes: dict[int, int] = {}
    for os_i, _, mem in numas:
        if mem:
            numa_sizes.setdefault(os_i, mem)
    topo = build_topology(
        records,
        name=_machine_name(reader) or fallback_name or "hwloc XML topology",
        source=source,
        source_kind="hwloc-xml",
        cache_sizes=reader.cache_sizes,
        numa_sizes=numa_sizes,
        l3_sizes=reader.l3_sizes,
    )
    return _in_document_order(topo, [os_index for os_index, _ in reader.pus])


def _in_document_order(topo: Topology, doc_order: list[int]) -> Topology:
    """Renumber logical indices (PU, core, L3) in the file's depth-first order, as hwloc does.

    hwloc keeps an XML file's child order when it loads it (it does not re-sort siblings by cpuset), so
    L# follows the document: in 16em64t-4s2c2t-offlines.xml Package P#2 (PU P#6) comes before Package P#3
    (PU P#3), and lstopo numbers P#6 as L#4. ``build_topology`` orders by first CPU, which agrees with the
    document for nearly every file; where it does not, this fixes the numbering afterwards.
    """
    order = [i for i in doc_order if topo.pu(i).online]
    if list(topo.logical_order) == order:
        return topo
    new_li = {os_index: i for i, os_index in enumerate(order)}
    core_map: dict[int, int] = {}
    l3_map: dict[int, int] = {}
    for os_index in order:
        p = topo.pu(os_index)
        if p.core is not None:
            core_map.setdefault(p.core, len(core_map))
        if p.l3 is not None:
            l3_map.setdefault(p.l3, len(l3_map))

    def remap(m: dict[int, int], v: int | None) -> int | None:
        return None if v is None else m[v]

    pus = tuple(
        replace(p, logical_index=new_li[p.os_index], core=remap(core_map, p.core), l3=remap(l3_map, p.l3))
        if p.online
        else p
        for p in topo.pus
    )
    cores = tuple(
        sorted(
            (replace(c, logical_index=core_map[c.logical_index], l3=remap(l3_map, c.l3)) for c in topo.cores),
            key=lambda c: c.logical_index,
        )
    )
    l3s = tuple(sorted((replace(g, index=l3_map[g.index]) for g in topo.l3s), key=lambda g: g.index))
    fixed = Topology(
        name=topo.name,
        source=topo.source,
        source_kind=topo.source_kind,
        pus=pus,
        cores=cores,
        packages=topo.packages,
        dies=topo.dies,
        numa_nodes=topo.numa_nodes,
        l3s=l3s,
        cache_sizes=dict(topo.cache_sizes),
        notes=topo.notes,
    )
    fixed._by_os.update((p.os_index, p) for p in pus)
    return fixed


def _machine_name(reader: _Reader) -> str | None:
    for where in ("package", "root", "any"):
        model = reader.infos.get(where, {}).get("CPUModel")
        if model and model.strip():
            return " ".join(model.split())
    for where in ("root", "any"):
        product = reader.infos.get(where, {}).get("DMIProductName")
        if product and product.strip():
            return " ".join(product.split())
    return None
