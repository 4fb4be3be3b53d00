"""One immutable CPU-set type and every notation ompviz reads or writes.

Numbers are OS indices (what the kernel, taskset, OpenMP and Slurm use) unless a caller says otherwise.
Internally a set is a Python int used as a bitmask: union/intersection of thousands of CPUs is one
machine operation, which the planner and the map lean on.

Notations:
- list      ``0-3,8,10-11`` and strided ranges ``0-15:2`` (Linux cpulist, numactl, likwid)
- hex       ``0xff`` / ``ff`` (taskset, Slurm ``mask_cpu``)
- hwloc     ``0xffffffff,0x00000001`` 32-bit words, most significant first, empty word = zero
- omp       ``{0:4:2}`` / ``{0,1,8:4}`` one OpenMP place built from resource intervals
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import chain, compress, repeat

from ompviz.errors import OmpvizError

MAX_CPU = 1_048_575
"""Largest CPU id accepted from any notation: far above any real machine, low enough to stop typos
(``0-99999999``) from allocating gigabytes."""


class CpuSet:
    """An immutable set of CPU ids (OS indices)."""

    # _ids/_list/_braces: the id tuple and texts, computed on first use. Sets are immutable and often shared (a
    # topology's cores and one-CPU sets are the places of every plan), so each is computed once per set.
    __slots__ = ("_bits", "_ids", "_list", "_braces")

    def __init__(self, cpus: Iterable[int] | CpuSet = ()) -> None:
        if isinstance(cpus, CpuSet):
            bits = cpus._bits
        else:
            ids = list(map(int, cpus))
            if ids and (min(ids) < 0 or max(ids) > MAX_CPU):
                c = next(c for c in ids if c < 0 or c > MAX_CPU)
                raise OmpvizError(f"CPU id {c} is out of range: ids go from 0 to {MAX_CPU}")
            bits = _mask_of(ids)
        _set_bits(self, bits)
        _set_ids(self, None)
        _set_list(self, None)
        _set_braces(self, None)

    @classmethod
    def from_mask(cls, bits: int) -> CpuSet:
        if bits < 0:
            raise OmpvizError("a CPU mask cannot be negative")
        if bits.bit_length() - 1 > MAX_CPU:
            raise OmpvizError(f"CPU mask names CPU {bits.bit_length() - 1}: ids go from 0 to {MAX_CPU}")
        s = _new(cls)
        _set_bits(s, bits)
        _set_ids(s, None)
        _set_list(s, None)
        _set_braces(s, None)
        return s

    @classmethod
    def range(cls, lo: int, hi: int) -> CpuSet:
        """CPUs lo..hi inclusive."""
        if hi < lo:
            return cls()
        return cls.from_mask(((1 << (hi - lo + 1)) - 1) << lo)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("CpuSet is immutable")

    def __reduce__(self):
        return (CpuSet.from_mask, (self._bits,))

    # -- set protocol -------------------------------------------------------------------------
    @property
    def mask(self) -> int:
        return self._bits

    @property
    def ids(self) -> tuple[int, ...]:
        ids = self._ids
        if ids is None:
            ids = _ids_of(self._bits)
            _set_ids(self, ids)
        return ids

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids)

    def __len__(self) -> int:
        return self._bits.bit_count()

    def __bool__(self) -> bool:
        return self._bits != 0

    def __contains__(self, cpu: object) -> bool:
        return isinstance(cpu, int) and cpu >= 0 and bool(self._bits >> cpu & 1)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CpuSet):
            return self._bits == other._bits
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("CpuSet", self._bits))

    def __or__(self, other: CpuSet) -> CpuSet:
        return CpuSet.from_mask(self._bits | other._bits)

    def __and__(self, other: CpuSet) -> CpuSet:
        return CpuSet.from_mask(self._bits & other._bits)

    def __sub__(self, other: CpuSet) -> CpuSet:
        return CpuSet.from_mask(self._bits & ~other._bits)

    def __xor__(self, other: CpuSet) -> CpuSet:
        return CpuSet.from_mask(self._bits ^ other._bits)

    def __le__(self, other: CpuSet) -> bool:
        return self._bits & ~other._bits == 0

    def __ge__(self, other: CpuSet) -> bool:
        return other <= self

    def __lt__(self, other: CpuSet) -> bool:
        return self <= other and self != other

    def __gt__(self, other: CpuSet) -> bool:
        return other < self

    def isdisjoint(self, other: CpuSet) -> bool:
        return self._bits & other._bits == 0

    def intersects(self, other: CpuSet) -> bool:
        return self._bits & other._bits != 0

    @property
    def first(self) -> int | None:
        b = self._bits
        return (b & -b).bit_length() - 1 if b else None

    @property
    def last(self) -> int | None:
        return self._bits.bit_length() - 1 if self._bits else None

    @staticmethod
    def union_all(sets: Iterable[CpuSet]) -> CpuSet:
        bits = 0
        for s in sets:
            bits |= s._bits
        return CpuSet.from_mask(bits)

    # -- formatting -----------------------------------------------------------------------------
    def runs(self) -> list[tuple[int, int]]:
        """Maximal runs of consecutive ids as (lo, hi) inclusive."""
        return _runs_of(self._bits)

    def to_list(self) -> str:
        """Linux cpulist notation: ``0-3,8,10-11`` (empty set -> ``""``)."""
        text = self._list
        if text is None:
            b = self._bits
            if not b & (b >> 1):  # no two consecutive CPUs (e.g. one SMT sibling per core): every run is one id
                text = ",".join(map(str, self.ids))
            else:
                text = ",".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in self.runs())
            _set_list(self, text)
        return text

    def to_hex(self) -> str:
        """taskset / Slurm mask: ``0xff``."""
        return f"0x{self._bits:x}"

    def to_hwloc(self) -> str:
        """hwloc bitmap: 32-bit words, most significant first: ``0x00000001,0xffffffff``."""
        b = self._bits
        words = []
        while True:
            words.append(b & 0xFFFFFFFF)
            b >>= 32
            if not b:
                break
        return ",".join(f"0x{w:08x}" for w in reversed(words))

    def to_omp(self) -> str:
        """One OpenMP place: ``{0:4}``, ``{0:8:2}``, ``{0:4,8,10:2}``; ``{}`` is never valid so empty raises."""
        if not self:
            raise OmpvizError("an OpenMP place cannot be empty")
        ids = self.ids
        if len(ids) > 2:
            stride = ids[1] - ids[0]
            if all(ids[k + 1] - ids[k] == stride for k in range(len(ids) - 1)):
                return f"{{{ids[0]}:{len(ids)}}}" if stride == 1 else f"{{{ids[0]}:{len(ids)}:{stride}}}"
        parts = []
        for lo, hi in self.runs():
            n = hi - lo + 1
            if n == 1:
                parts.append(str(lo))
            elif n == 2:
                parts.append(f"{lo},{hi}")
            else:
                parts.append(f"{lo}:{n}")
        return "{" + ",".join(parts) + "}"

    def to_braces(self) -> str:
        """Explicit OpenMP place listing every id: ``{0,1,2,3}``."""
        text = self._braces
        if text is None:
            text = "{" + ",".join(map(str, self.ids)) + "}"
            _set_braces(self, text)
        return text

    def __str__(self) -> str:
        return self.to_list()

    def __repr__(self) -> str:
        return f"CpuSet('{self.to_list()}')"

    # -- parsing ----------------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> CpuSet:
        """Guess the notation: ``{...}`` OpenMP, ``0x..,0x..`` hwloc, ``0x..`` hex, else a list."""
        t = text.strip()
        if t.startswith("{"):
            return parse_omp_place(t)
        if t.lower().startswith("0x"):
            return parse_hwloc(t) if "," in t else parse_hex(t)
        return parse_list(t)


# Slot setters that bypass CpuSet.__setattr__ (which forbids mutation): sets are built very often (4,096-PU
# plans make thousands), and object.__setattr__ costs twice as much.
_set_bits = CpuSet._bits.__set__  # type: ignore[attr-defined]
_set_ids = CpuSet._ids.__set__  # type: ignore[attr-defined]
_set_list = CpuSet._list.__set__  # type: ignore[attr-defined]
_set_braces = CpuSet._braces.__set__  # type: ignore[attr-defined]
_new = object.__new__


def _mask_of(ids: list[int]) -> int:
    """Mask of non-negative ids in O(len(ids)) without a Python loop (``bits |= 1 << c`` per id copies the growing
    big int every time): mark a byte per id, then let int() parse the bytes as a binary number."""
    if len(ids) < 32:
        bits = 0
        for c in ids:
            bits |= 1 << c
        return bits
    buf = bytearray(max(ids) + 1)
    deque(map(buf.__setitem__, ids, repeat(1)), maxlen=0)
    buf.reverse()
    return int(buf.translate(_BYTE_BITS), 2)


_BYTE_BITS = bytes.maketrans(b"\x00\x01", b"01")
_ONES = re.compile("1+")
_ONE = re.compile("1")
_BIT_BYTES = bytes.maketrans(b"01", b"\x00\x01")


def _ids_of(bits: int) -> tuple[int, ...]:
    """Set bits in ascending order, cheapest way for the pattern: whole range, runs, or a C scan of the bits."""
    if not bits:
        return ()
    lo = (bits & -bits).bit_length() - 1
    x = bits >> lo  # scan from the lowest CPU, not from 0: a rank high up costs its own span only
    n = x.bit_length()
    k = x.bit_count()
    if k == n:
        return tuple(range(lo, lo + n))
    if k <= 8:  # a few CPUs far apart (a core's SMT siblings N, N+2048): peel them off one by one
        out = [lo]
        x ^= 1
        while x:
            low = x & -x
            out.append(lo + low.bit_length() - 1)
            x ^= low
        return tuple(out)
    runs = k - (x & (x >> 1)).bit_count()
    if runs * 4 <= k:  # long runs (consecutive CPUs): expand each run
        return tuple(chain.from_iterable(range(a + lo, b + lo + 1) for a, b in _runs_of(x)))
    if n <= 8 * k:  # many short runs, dense: pick the set positions of the bit string in one C pass
        return tuple(compress(range(lo, lo + n), bin(x)[:1:-1].encode().translate(_BIT_BYTES)))
    return tuple(m.start() + lo for m in _ONE.finditer(bin(x)[:1:-1]))  # few, scattered


def _runs_of(bits: int) -> list[tuple[int, int]]:
    """Runs of set bits as (lo, hi). The regex scan over the bit string runs in C, so even a 4,096-PU machine's
    sets cost microseconds (a Python loop per bit or per run was the planner's hot spot)."""
    if not bits:
        return []
    # hopping costs a few big-int operations (each O(bit length)) per run; the scan costs O(bit length) once
    if (bits.bit_count() - (bits & (bits >> 1)).bit_count()) < 32:
        # few runs (e.g. a few CPUs at high ids): hop from run to run instead of scanning every bit
        out: list[tuple[int, int]] = []
        base = 0
        while bits:
            tz = (bits & -bits).bit_length() - 1
            bits >>= tz
            base += tz
            ones = (~bits & (bits + 1)).bit_length() - 1
            out.append((base, base + ones - 1))
            bits >>= ones
            base += ones
        return out
    s = bin(bits)[:1:-1]  # little-endian bit string
    return [(m.start(), m.end() - 1) for m in _ONES.finditer(s)]


_INT = re.compile(r"\d+")


def _int(tok: str, what: str, text: str) -> int:
    tok = tok.strip()
    if tok.startswith("-"):
        raise OmpvizError(f"negative CPU id in {what} {text!r}: CPU ids start at 0")
    if not _INT.fullmatch(tok):
        raise OmpvizError(f"{tok!r} is not a CPU id in {what} {text!r}: use numbers like 0-3,8")
    v = int(tok)
    if v > MAX_CPU:
        raise OmpvizError(f"CPU id {v} in {what} {text!r} is too large: ids go up to {MAX_CPU}")
    return v


_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*(?::\s*(\d+)\s*)?)?$")


def parse_list(text: str) -> CpuSet:
    """``0-3,8,10-11`` and strided ``0-15:2``. Empty text is the empty set."""
    if text is None:
        raise OmpvizError("missing CPU list")
    t = text.strip()
    if not t:
        return CpuSet()
    bits = 0
    for tok in t.split(","):
        if not tok.strip():
            raise OmpvizError(f"empty item in CPU list {text!r}: remove the extra comma")
        m = _RANGE.match(tok)
        if not m:
            if tok.strip().startswith("-") or re.search(r"(^|[-,])\s*-\d", tok):
                raise OmpvizError(f"negative CPU id in CPU list {text!r}: CPU ids start at 0")
            raise OmpvizError(f"{tok.strip()!r} is not a CPU or range in CPU list {text!r}: write e.g. 0-3,8,10-15:2")
        lo = _int(m.group(1), "CPU list", text)
        if m.group(2) is None:
            bits |= 1 << lo
            continue
        hi = _int(m.group(2), "CPU list", text)
        if hi < lo:
            raise OmpvizError(f"reversed range {tok.strip()!r} in CPU list {text!r}: write {hi}-{lo}")
        stride = int(m.group(3)) if m.group(3) else 1
        if stride < 1:
            raise OmpvizError(f"stride 0 in {tok.strip()!r} in CPU list {text!r}: the stride must be at least 1")
        if stride == 1:
            bits |= ((1 << (hi - lo + 1)) - 1) << lo
        else:
            bits |= int(("0" * (stride - 1) + "1") * ((hi - lo) // stride + 1), 2) << lo  # bits lo, lo+stride, ..
    return CpuSet.from_mask(bits)


def parse_hex(text: str) -> CpuSet:
    """taskset mask ``0xff`` or ``ff`` (also Slurm's, which may contain ``_`` or ``,`` as separators)."""
    t = text.strip().lower()
    if t.startswith("0x"):
        t = t[2:]
    t = t.replace("_", "").replace(",", "")
    if not t:
        raise OmpvizError(f"empty hex CPU mask {text!r}: write e.g. 0xff")
    if not re.fullmatch(r"[0-9a-f]+", t):
        raise OmpvizError(f"{text.strip()!r} is not a hex CPU mask: write e.g. 0xff")
    if len(t.lstrip("0")) * 4 > MAX_CPU + 1:
        raise OmpvizError(f"hex CPU mask {text.strip()[:20]!r}... names CPUs beyond {MAX_CPU}")
    return CpuSet.from_mask(int(t, 16))


def parse_hwloc(text: str) -> CpuSet:
    """hwloc bitmap ``0xffffffff,0x00000001`` (most significant word first; empty words are zero)."""
    t = text.strip()
    if not t:
        raise OmpvizError("empty hwloc bitmap: write e.g. 0x0000000f")
    if t.lower().startswith("0xf...f"):
        raise OmpvizError(f"infinite hwloc bitmap {t[:24]!r}: ompviz needs a finite CPU set")
    words = t.split(",")
    if len(words) * 32 > MAX_CPU + 1:
        raise OmpvizError(f"hwloc bitmap with {len(words)} words names CPUs beyond {MAX_CPU}")
    bits = 0
    for w in words:
        w = w.strip().lower()
        bits <<= 32
        if not w:
            continue
        if w.startswith("0x"):
            w = w[2:]
        if not re.fullmatch(r"[0-9a-f]{1,8}", w):
            raise OmpvizError(f"{t[:40]!r} is not an hwloc bitmap: words are 32-bit hex like 0xffffffff")
        bits |= int(w, 16)
    return CpuSet.from_mask(bits)


def _omp_items(body: str, text: str) -> tuple[int, int]:
    """Parse the resource list of one place; return (include mask, exclude mask)."""
    inc = exc = 0
    if not body.strip():
        raise OmpvizError(f"empty OpenMP place {text!r}: a place needs at least one CPU")
    for item in body.split(","):
        item = item.strip()
        if not item:
            raise OmpvizError(f"empty item in OpenMP place {text!r}: remove the extra comma")
        neg = item.startswith("!")
        if neg:
            item = item[1:].strip()
        parts = item.split(":")
        if len(parts) > 3:
            raise OmpvizError(f"{item!r} in OpenMP place {text!r}: an interval is lo:len[:stride]")
        lo = _int(parts[0], "OpenMP place", text)
        if neg and len(parts) > 1:
            raise OmpvizError(f"'!{item}' in OpenMP place {text!r}: '!' applies to one CPU, not an interval")
        n = _int(parts[1], "OpenMP place", text) if len(parts) > 1 else 1
        stride_txt = parts[2].strip() if len(parts) > 2 else "1"
        try:
            stride = int(stride_txt)
        except ValueError:
            raise OmpvizError(f"{stride_txt!r} is not a stride in OpenMP place {text!r}") from None
        if n < 1:
            raise OmpvizError(f"interval {item!r} in OpenMP place {text!r} has length 0: use a length of 1 or more")
        for k in range(n):
            c = lo + k * stride
            if c < 0 or c > MAX_CPU:
                raise OmpvizError(f"interval {item!r} in OpenMP place {text!r} leaves the CPU range 0-{MAX_CPU}")
            if neg:
                exc |= 1 << c
            else:
                inc |= 1 << c
    return inc, exc


def parse_omp_place(text: str) -> CpuSet:
    """One OpenMP place ``{0:4:2}``, ``{0,1,2}``, ``{0:8,!3}`` (braces optional)."""
    t = text.strip()
    if t.startswith("{"):
        if not t.endswith("}"):
            raise OmpvizError(f"unclosed brace in OpenMP place {text!r}: write e.g. {{0:4}}")
        t = t[1:-1]
    if "{" in t or "}" in t:
        raise OmpvizError(f"{text!r} is not one OpenMP place: write e.g. {{0:4:2}}")
    inc, exc = _omp_items(t, text)
    return CpuSet.from_mask(inc & ~exc)
