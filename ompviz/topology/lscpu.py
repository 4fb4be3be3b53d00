"""Read ``lscpu -J -e`` (JSON), ``lscpu -p`` (CSV) and plain ``lscpu -e`` (the human table) output.

What lscpu gives, per CPU (util-linux ``sys-utils/lscpu*.c``):
- ``cpu`` is the OS index; ``core``/``socket``/``book``/``drawer`` are lscpu's own *logical* numbers unless
  ``--physical`` was given (then physical ids, ``-`` when unknown); ``node`` is the NUMA node number.
- plain ``lscpu -e`` (any ``-e=...`` column list) is a libsmartcols table: one header line of column names
  (``CPU NODE SOCKET CORE L1d:L1i:L2:L3 ONLINE MAXMHZ MINMHZ ...``, which columns and their order vary with the
  machine and the options), then one line per CPU with whitespace-separated values, ``-`` for an empty cell (offline
  CPUs: ``-`` for node/socket/core, ``no`` online). It lists offline CPUs by default (``-p`` does not). Only the
  MODELNAME column may hold spaces; it takes the extra words.
- the cache column is one key/column named like ``l1d:l1i:l2:l3`` holding ids ``"0:0:0:0"`` (``-e``, ``-J``,
  ``-p=...,CACHE`` in older versions), or, in ``lscpu -p``, one empty column then one column per cache
  (``# CPU,Core,Socket,Node,,L1d,L1i,L2,L3``). Cache ids are unique machine-wide.
- ``online``: JSON ``true``/``false`` (util-linux >= 2.37), ``"yes"``/``"no"`` (older JSON and ``-e``),
  ``Y``/``N`` (``-p``); ``-e`` translates yes/no in non-English locales (ask for ``LC_ALL=C``). Numbers are JSON
  numbers in new versions and strings in older ones; unknown values are ``"-"``, ``""`` or ``null``.
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
    """Load a file holding ``lscpu -J -e``, ``lscpu -p`` or ``lscpu -e`` output."""
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
    """Parse lscpu output given as text (JSON from ``-J -e``, CSV from ``-p``, the plain table of ``-e``)."""
    body = text.lstrip("\ufeff \t\r\n")
    first = body.split("\n", 1)[0]
    if body.startswith("{"):
        records, model = _parse_json(body, source)
        fmt = "lscpu -J -e"
    elif is_table_header(first):
        records, model = _parse_table(body, source)
        fmt = "lscpu -e"
    elif first.startswith("Architecture:"):
        raise OmpvizError(
            f"{source}: this is plain 'lscpu' summary output; give 'lscpu -e', 'lscpu -p' or 'lscpu -J -e'"
        )
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
        if not s.isascii():  # lscpu -e translates yes/no (是/否 in Chinese): point at the C locale
            raise OmpvizError(
                f"{source}: {where}: {what} is {value!r}, expected yes/no; run lscpu with LC_ALL=C for English values"
            )
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


_CACHE_NAMES = ("l1d", "l1i", "l2", "l3", "l4")


def _row(names: list[str], values: list[object], source: str, where: str) -> tuple[PURecord, str | None]:
    """One CPU from its column names (lower case) and cells: the record and the model name when a column has it.

    The one row builder of the three forms: JSON keys, ``-p`` columns and ``-e`` columns all name the same lscpu
    columns (a cache column is ``l1d:l1i:l2:l3`` in -e/-J and in user-defined -p lists, separate ``l1d``.. columns
    in the default -p)."""
    fields: dict[str, object] = {}
    caches: dict[str, int | None] = {}
    for name, value in zip(names, values, strict=True):
        if ":" in name or name in _CACHE_NAMES:
            caches.update(_caches(name.split(":"), value, source, where))
        elif name:
            fields[name] = value
    m = fields.get("modelname")
    model = m.strip() if isinstance(m, str) and m.strip() not in _UNKNOWN else None
    return _record(fields, caches, source, where), model


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
        record, m = _row([str(k).strip().lower() for k in row], list(row.values()), source, where)
        model = model or m
        records.append(record)
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
            # the column line is the comment with a CPU column (first unless -p=... put it elsewhere); the other
            # comments are prose, never a bare "CPU" between commas
            if "cpu" in cols:
                header = cols
            continue
        if header is None:
            raise OmpvizError(
                f"{source}: line {lineno}: data before the '# CPU,...' column header: not 'lscpu -p' (or -e) "
                "output, or the header lines were cut off (keep them)"
            )
        cells = line.split(",")
        if len(cells) != len(header):
            raise OmpvizError(
                f"{source}: line {lineno}: {len(cells)} columns but the header '# {','.join(header)}' has {len(header)}"
            )
        records.append(_row(header, cells, source, f"line {lineno}")[0])
    if header is None:
        raise OmpvizError(f"{source}: no '# CPU,...' header line: not 'lscpu -p' output (nor 'lscpu -e' / '-J -e')")
    if not records:
        raise OmpvizError(f"{source}: 'lscpu -p' header but no CPU lines")
    return records


# -- lscpu -e (plain table) ------------------------------------------------------------------------


def is_table_header(line: str) -> bool:
    """The first line of plain ``lscpu -e`` output: column names separated by blanks, one of them CPU.

    ``-p`` headers are comments (``# CPU,...``) and JSON starts with '{', so neither is taken for a table."""
    if line.lstrip().startswith("#") or "," in line:
        return False
    return "cpu" in (w.lower() for w in line.split())


def _parse_table(text: str, source: str) -> tuple[list[PURecord], str | None]:
    header: list[str] | None = None
    records = []
    model = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if header is None:
            header = [w.lower() for w in line.split()]
            dup = sorted({w for w in header if header.count(w) > 1})
            if dup:
                raise OmpvizError(f"{source}: line {lineno}: column {dup[0].upper()} twice in the 'lscpu -e' header")
            continue
        cells = line.split()
        extra = len(cells) - len(header)
        if extra > 0 and "modelname" in header:
            # the model name is the one cell with blanks ("Intel(R) Xeon(R) ..."): it takes the extra words
            i = header.index("modelname")
            cells = cells[:i] + [" ".join(cells[i : i + extra + 1])] + cells[i + extra + 1 :]
        if len(cells) != len(header):
            raise OmpvizError(
                f"{source}: line {lineno}: {len(cells)} values but the 'lscpu -e' header "
                f"'{' '.join(h.upper() for h in header)}' has {len(header)} columns"
            )
        record, m = _row(header, list(cells), source, f"line {lineno}")
        model = model or m
        records.append(record)
    if not records:
        raise OmpvizError(f"{source}: 'lscpu -e' header but no CPU lines")
    return records, model
