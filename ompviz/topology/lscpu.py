"""Read ``lscpu -J -e`` (JSON) and ``lscpu -p`` (CSV) output.

What lscpu gives, per CPU (util-linux ``sys-utils/lscpu*.c``):
- ``cpu`` is the OS index; ``core``/``socket``/``book``/``drawer`` are lscpu's own *logical* numbers unless
  ``--physical`` was given (then physical ids, ``-`` when unknown); ``node`` is the NUMA node number.
- the cache column is one key/column named like ``l1d:l1i:l2:l3`` holding ids ``"0:0:0:0"`` (``-e``, ``-J``,
  ``-p=...,CACHE`` in older versions), or, in ``lscpu -p``, one empty column then one column per cache
  (``# CPU,Core,Socket,Node,,L1d,L1i,L2,L3``). Cache ids are unique machine-wide.
- ``online``: JSON ``true``/``false`` (util-linux >= 2.37), ``"yes"``/``"no"`` (older JSON and ``-e``),
  ``Y``/``N`` (``-p``). Numbers are JSON numbers in new versions and strings in older ones; unknown values
  are ``"-"``, ``""`` or ``null``.
lscpu knows nothing about the process's allowed CPUs, cache sizes or NUMA memory: every CPU is taken as allowed.
"""

from __future__ import annotations

import json
import os

from ompviz.cpuset import MAX_CPU
from ompviz.errors import OmpvizError
from ompviz.topology.model import PURecord, Topology, build_topology

MAX_BYTES = 64 * 1024 * 1024  # a 65,536-CPU lscpu -J -e is ~10 MB; anything far bigger is not lscpu output

_UNKNOWN = ("", "-")
_TRUE = ("yes", "y", "true", "1")
_FALSE = ("no", "n", "false", "0")


def load_lscpu(path: str, *, source: str) -> Topology:
    """Load a file holding ``lscpu -J -e`` or ``lscpu -p`` output."""
    try:
        size = os.path.getsize(path)
        if size > MAX_BYTES:
            raise OmpvizError(f"{source}: {size} bytes is far too big for lscpu output")
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise OmpvizError(f"{source}: cannot read: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise OmpvizError(f"{source}: not text (not UTF-8), so not lscpu output") from None
    return parse_lscpu(text, source=source, name=f"{os.path.basename(path)} (lscpu)")


def parse_lscpu(text: str, *, source: str, name: str | None = None) -> Topology:
    """Parse lscpu output given as text (JSON from ``-J -e`` or CSV from ``-p``)."""
    body = text.lstrip("\ufeff \t\r\n")
    if body.startswith("{"):
        records, model = _parse_json(body, source)
        fmt = "lscpu -J -e"
    else:
        records, model = _parse_parsable(body, source), None
        fmt = "lscpu -p"
    notes = [
        f"from {fmt} output: socket/core/cache numbers are lscpu's own ids; every CPU is taken as allowed; "
        "no cache sizes or NUMA memory"
    ]
    if not any(r.l3_key is not None for r in records):
        notes.append("no L3 ids in this lscpu output")
    return build_topology(
        records,
        name=model or name or "lscpu output",
        source=source,
        source_kind="lscpu",
        notes=notes,
    )


# -- values ----------------------------------------------------------------------------------------


def _id(value: object, what: str, source: str, where: str) -> int | None:
    """An id cell: int, digit string, or unknown ("-", "", null) -> None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise OmpvizError(f"{source}: {where}: {what} is {value!r}, expected a number")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str):
        s = value.strip()
        if s in _UNKNOWN:
            return None
        if not s.isdigit() or not s.isascii():
            raise OmpvizError(f"{source}: {where}: {what} is {value!r}, expected a number or '-'")
        n = int(s)
    else:
        raise OmpvizError(f"{source}: {where}: {what} is {value!r}, expected a number")
    if n < 0 or n > MAX_CPU:
        raise OmpvizError(f"{source}: {where}: {what} {n} is out of range (0-{MAX_CPU})")
    return n


def _flag(value: object, what: str, source: str, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        s = value.strip().lower()
        if s in _UNKNOWN:
            return None
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
    raise OmpvizError(f"{source}: {where}: {what} is {value!r}, expected yes/no")


def _caches(names: list[str], value: object, source: str, where: str) -> dict[str, int | None]:
    """Split a ``0:0:0:0`` cache cell by the names of its header ``l1d:l1i:l2:l3``."""
    if value is None:
        return {}
    if not isinstance(value, str):
        value = str(value) if isinstance(value, int) and not isinstance(value, bool) else None
        if value is None:
            raise OmpvizError(f"{source}: {where}: cache ids must be text like '0:0:0:0'")
    s = value.strip()
    if s in _UNKNOWN:
        return {}
    parts = s.split(":")
    if len(parts) != len(names):
        # New lscpu skips the caches a CPU lacks, so ids no longer line up with the header: unknown.
        return {}
    return {n: _id(p, n.upper(), source, where) for n, p in zip(names, parts, strict=True)}


def _record(fields: dict[str, object], caches: dict[str, int | None], source: str, where: str) -> PURecord:
    cpu = _id(fields.get("cpu"), "CPU", source, where)
    if cpu is None:
        raise OmpvizError(f"{source}: {where}: no CPU number")
    socket = _id(fields.get("socket"), "socket", source, where)
    core = _id(fields.get("core"), "core", source, where)
    node = _id(fields.get("node"), "node", source, where)
    online = _flag(fields.get("online"), "online", source, where)
    l3 = caches.get("l3")
    return PURecord(
        os_index=cpu,
        package=socket,
        numa=node,
        # core ids are machine-wide when logical but per socket with --physical: key by both
        core_key=None if core is None else ("core", socket, core),
        l3_key=None if l3 is None else ("l3", l3),
        online=True if online is None else online,
    )


# -- lscpu -J -e -----------------------------------------------------------------------------------


def _parse_json(text: str, source: str) -> tuple[list[PURecord], str | None]:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:
        msg = getattr(e, "msg", None) or type(e).__name__
        raise OmpvizError(f"{source}: broken JSON ({msg}); give the output of 'lscpu -J -e'") from None
    if isinstance(doc, dict) and "lscpu" in doc and "cpus" not in doc:
        raise OmpvizError(f"{source}: this is 'lscpu -J' summary output; ompviz needs 'lscpu -J -e' (per-CPU table)")
    rows = doc.get("cpus") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise OmpvizError(f"{source}: JSON without a \"cpus\" list: not 'lscpu -J -e' output or an ompviz snapshot")
    records = []
    model = None
    for i, row in enumerate(rows):
        where = f"cpus[{i}]"
        if not isinstance(row, dict):
            raise OmpvizError(f"{source}: {where} is not an object")
        fields: dict[str, object] = {}
        caches: dict[str, int | None] = {}
        for key, value in row.items():
            k = str(key).strip().lower()
            if ":" in k or k in ("l1d", "l1i", "l2", "l3"):
                caches.update(_caches(k.split(":"), value, source, where))
            else:
                fields[k] = value
        m = fields.get("modelname")
        if model is None and isinstance(m, str) and m.strip() not in _UNKNOWN:
            model = m.strip()
        records.append(_record(fields, caches, source, where))
    if not records:
        raise OmpvizError(f'{source}: the "cpus" list is empty')
    return records, model


# -- lscpu -p --------------------------------------------------------------------------------------


def _parse_parsable(text: str, source: str) -> list[PURecord]:
    header: list[str] | None = None
    records = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            cols = [c.strip().lower() for c in line[1:].split(",")]
            # the column line is the comment whose first column is CPU (the others are prose)
            if cols and cols[0] == "cpu":
                header = cols
            continue
        if header is None:
            raise OmpvizError(
                f"{source}: line {lineno}: data before the '# CPU,...' column header: not 'lscpu -p' "
                "output, or the header comments were cut off (keep them)"
            )
        cells = line.split(",")
        if len(cells) != len(header):
            raise OmpvizError(
                f"{source}: line {lineno}: {len(cells)} columns but the header '# {','.join(header)}' has {len(header)}"
            )
        where = f"line {lineno}"
        fields: dict[str, object] = {}
        caches: dict[str, int | None] = {}
        for name, cell in zip(header, cells, strict=True):
            if ":" in name:
                caches.update(_caches(name.split(":"), cell, source, where))
            elif name in ("l1d", "l1i", "l2", "l3", "l4"):
                caches[name] = _id(cell, name.upper(), source, where)
            elif name:
                fields[name] = cell
        records.append(_record(fields, caches, source, where))
    if header is None:
        raise OmpvizError(f"{source}: no '# CPU,...' header line: not 'lscpu -p' output")
    if not records:
        raise OmpvizError(f"{source}: 'lscpu -p' header but no CPU lines")
    return records
