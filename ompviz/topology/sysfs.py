"""Linux sysfs topology: the live machine (``/``) or a recorded root (a directory or a tarball of one).

Layout follows psutil's Linux backend: a tiny file-system abstraction (``DirFs`` over a directory, ``TarFs``
over an archive held in memory) and small parser functions over file text, so every rule is testable on
recorded trees. What is read (GUIDE.md §4), and the hwloc behaviour each rule copies (hwloc 2.x
``topology-linux.c``):

- CPUs: ``sys/devices/system/cpu/cpuN``; online from ``cpu/online`` or else each ``cpuN/online`` (missing =
  online, as for cpu0). An online CPU without a ``topology`` directory is skipped by hwloc: we list it offline.
- core = ``core_cpus_list`` (or ``thread_siblings_list``, or the older hex masks): never ``core_id`` alone,
  which repeats across packages, dies and clusters.
- package = ``physical_package_id``; die = ``die_id`` only when a package holds several dies.
- L3 group = ``shared_cpu_list`` of the level-3 cache; no level-3 cache means no L3 group (hwloc has no L3
  object then either).
- NUMA from ``sys/devices/system/node/nodeN/cpulist`` (or ``cpumap``), sizes from ``nodeN/meminfo``.
- kinds: ``/sys/devices/cpu_core|cpu_atom/cpus`` (Intel hybrid P/E), else ``cpu_capacity`` (Arm
  big/little), else cpufreq base/max frequencies with hwloc's 10 % turbo-boost-max adjustment.
- allowed: for a recorded root the recorded cgroup cpuset, found the way hwloc finds it (standard mount
  points, else ``proc/mounts``; the group name from ``proc/self/cpuset`` or ``proc/self/cgroup``); for the
  live machine ``os.sched_getaffinity(0)``.
"""

from __future__ import annotations

import bz2
import lzma
import os
import posixpath
import re
import zlib
from collections.abc import Callable
from typing import Protocol, TypeVar

from ompviz.cpuset import MAX_CPU, CpuSet, parse_list
from ompviz.errors import OmpvizError
from ompviz.topology.model import PURecord, Topology, build_topology

T = TypeVar("T")

CPU_DIR = "sys/devices/system/cpu"
NODE_DIR = "sys/devices/system/node"
MAX_FILE_BYTES = 16 << 20  # /proc/cpuinfo of a 1,024-CPU x86 box is ~1.5 MB; anything far bigger is not sysfs
MAX_ARCHIVE_BYTES = 1 << 30  # decompressed; a full /sys dump of a big machine is tens of MB
_TAR_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tbz2", ".txz", ".tar")


# -- file access -------------------------------------------------------------------------------------
class Fs(Protocol):
    """Read-only view of a root; paths are relative POSIX paths like ``sys/devices/system/cpu/online``."""

    def read_text(self, path: str) -> str | None: ...  # None when the file does not exist

    def listdir(self, path: str) -> list[str]: ...  # [] when the directory does not exist

    def exists(self, path: str) -> bool: ...


def _norm(path: str) -> str:
    p = posixpath.normpath("/" + path.replace("\\", "/")).lstrip("/")
    return "" if p == "." else p


def _decode(data: bytes) -> str:
    # sysfs is ASCII; a corrupt byte must become a parse error naming the file, not a UnicodeDecodeError.
    # Recorded dumps (hwloc's test suite) keep the C string's NUL: read up to it, as hwloc does.
    return data.split(b"\0", 1)[0].decode("utf-8", errors="replace")


class DirFs:
    """A root directory on disk (``/`` for the live machine)."""

    def __init__(self, root: str) -> None:
        self.root = root

    def _p(self, path: str) -> str:
        return os.path.join(self.root, _norm(path))

    def read_text(self, path: str) -> str | None:
        try:
            with open(self._p(path), "rb") as f:
                return _decode(f.read(MAX_FILE_BYTES))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError:
            # e.g. EACCES on a root-only file, EINVAL/EIO on some live sysfs attributes: treat as absent,
            # as hwloc does when a read fails
            return None

    def listdir(self, path: str) -> list[str]:
        try:
            return os.listdir(self._p(path))
        except OSError:
            return []

    def exists(self, path: str) -> bool:
        return os.path.exists(self._p(path))


class TarFs:
    """A tar archive (optionally gz/bz2/xz) read wholly into memory; nothing is extracted to disk.

    The archive is decompressed once and its headers are indexed by a small ustar/GNU/pax reader: Python's
    ``tarfile`` builds a TarInfo per member and needs ~0.4 s for the 16,000 members of a POWER7 dump,
    this index ~30 ms. Member data is sliced from the buffer only when a parser asks for it.
    """

    def __init__(self, data: bytes, prefix: str = "") -> None:
        self._data = data
        self._files: dict[str, tuple[int, int]] = {}  # path -> (offset, size)
        self._links: dict[str, str] = {}  # symlink path -> normalised target path
        self._dirs: dict[str, set[str]] = {"": set()}
        self._index()
        self.prefix = prefix

    @classmethod
    def open(cls, path: str, label: str) -> TarFs:
        try:
            with open(path, "rb") as f:
                raw = f.read(MAX_ARCHIVE_BYTES + 1)
        except OSError as e:
            raise OmpvizError(f"{label}: cannot read: {e.strerror or e}") from None
        try:
            return cls(_decompress(raw, label))
        except (ValueError, IndexError) as e:
            raise OmpvizError(f"{label}: not a readable tar archive: {e}; re-create it with tar") from None

    # the index ------------------------------------------------------------------------------------
    def _add(self, name: str) -> None:
        # register name in its parent, and the parent chain up to the first already-known directory
        while True:
            parent, _, base = name.rpartition("/")
            known = parent in self._dirs
            self._dirs.setdefault(parent, set()).add(base)
            if known or not parent:
                return
            name = parent

    def _index(self) -> None:
        data = self._data
        n = len(data)
        pos = 0
        long_name: str | None = None
        long_link: str | None = None
        pax: dict[str, str] = {}
        while True:
            if pos == n:  # no end-of-archive blocks: some writers omit them (tarfile accepts it too)
                return
            if pos + 512 > n:
                raise ValueError("archive is truncated (a header is cut off)")
            hdr = data[pos : pos + 512]
            if hdr == b"\0" * 512:
                return
            _check_header(hdr)
            size = _tar_number(hdr[124:136])
            typ = hdr[156:157]
            body = pos + 512
            end = body + ((size + 511) // 512) * 512
            if typ not in (b"1", b"2", b"3", b"4", b"5", b"6") and body + size > n:
                raise ValueError("archive is truncated (a member's data is cut off)")
            if typ == b"L":
                long_name = _cstr(data[body : body + size])
            elif typ == b"K":
                long_link = _cstr(data[body : body + size])
            elif typ == b"x":
                pax = _pax(data[body : body + size])
            elif typ == b"g":
                pass
            else:
                name = long_name or pax.get("path") or _ustar_name(hdr)
                link = long_link or pax.get("linkpath") or _cstr(hdr[157:257])
                if "size" in pax:
                    size = int(pax["size"])
                    if size < 0:
                        raise ValueError("corrupt pax header (negative size)")
                    end = body + ((size + 511) // 512) * 512
                    if typ in (b"0", b"\0", b"7") and body + size > n:
                        raise ValueError("archive is truncated (a member's data is cut off)")
                p = _norm(name)
                if p:
                    self._add(p)
                    if typ in (b"0", b"\0", b"7"):
                        self._files[p] = (body, size)
                    elif typ == b"2" and link.startswith("/"):
                        self._links[p] = "\0" + _norm(link)  # absolute: inside the dump root (see _resolve)
                    elif typ == b"2":
                        self._links[p] = _norm(posixpath.join(posixpath.dirname(p), link))
                    elif typ == b"1":
                        self._links[p] = _norm(link)
                    elif typ == b"5":
                        self._dirs.setdefault(p, set())
                long_name = long_link = None
                pax = {}
            pos = end

    # Fs -------------------------------------------------------------------------------------------
    def _resolve(self, path: str) -> str:
        # follow symlinks component by component: sysfs links directories (cpuN/cpufreq -> ../cpufreq/policyN)
        cur = ""
        for part in _norm(posixpath.join(self.prefix, path)).split("/"):
            cur = f"{cur}/{part}" if cur else part
            for _ in range(16):  # a link loop in a hand-made archive must not hang
                nxt = self._links.get(cur)
                if nxt is None:
                    break
                cur = _norm(posixpath.join(self.prefix, nxt[1:])) if nxt.startswith("\0") else nxt
        return cur

    def read_text(self, path: str) -> str | None:
        loc = self._files.get(self._resolve(path))
        if loc is None:
            return None
        off, size = loc
        return _decode(self._data[off : off + min(size, MAX_FILE_BYTES)])

    def listdir(self, path: str) -> list[str]:
        return sorted(self._dirs.get(self._resolve(path), ()))

    def exists(self, path: str) -> bool:
        p = self._resolve(path)
        return p in self._files or p in self._dirs

    def top_dirs(self) -> list[str]:
        return sorted(self._dirs.get("", ()))


def _check_header(hdr: bytes) -> None:
    try:
        want = int(hdr[148:156].replace(b"\0", b" ").strip() or b"-1", 8)
    except ValueError:
        raise ValueError("corrupt tar header (bad checksum field)") from None
    got = sum(hdr[:148]) + 8 * 32 + sum(hdr[156:])
    if want != got:
        raise ValueError("corrupt tar header (checksum mismatch)")


def _tar_number(field: bytes) -> int:
    if field[:1] in (b"\x80", b"\xff"):  # GNU base-256 for sizes >= 8 GiB
        if field[:1] == b"\xff":
            raise ValueError("corrupt tar header (negative size)")
        return int.from_bytes(field[1:], "big")
    s = field.replace(b"\0", b" ").strip()
    if s and not s.isdigit():  # int(x, 8) would accept "-1" or "+7" and walk the archive backwards
        raise ValueError("corrupt tar header (bad size field)")
    return int(s, 8) if s else 0


def _cstr(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode("utf-8", errors="replace")


def _ustar_name(hdr: bytes) -> str:
    name = _cstr(hdr[0:100])
    if hdr[257:263] == b"ustar\x00":  # POSIX ustar: a prefix field; GNU ("ustar  ") uses it for times
        prefix = _cstr(hdr[345:500])
        if prefix:
            return prefix + "/" + name
    return name


def _pax(body: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(body):
        sp = body.find(b" ", pos)
        if sp < 0:
            break
        length = int(body[pos:sp])
        if length <= 0:
            raise ValueError("corrupt pax header")
        rec = body[sp + 1 : pos + length - 1]
        k, _, v = rec.partition(b"=")
        out[k.decode("utf-8", "replace")] = v.decode("utf-8", "replace")
        pos += length
    return out


def _decompress(raw: bytes, label: str) -> bytes:
    if len(raw) > MAX_ARCHIVE_BYTES:
        raise OmpvizError(f"{label}: archive is larger than 1 GiB; a sysfs dump is far smaller")
    try:
        if raw[:3] == b"BZh":
            d = bz2.BZ2Decompressor()
            out = d.decompress(raw, MAX_ARCHIVE_BYTES + 1)
            ok = d.eof
        elif raw[:2] == b"\x1f\x8b":
            z = zlib.decompressobj(wbits=47)
            out = z.decompress(raw, MAX_ARCHIVE_BYTES + 1)
            ok = z.eof
        elif raw[:6] == b"\xfd7zXZ\x00":
            x = lzma.LZMADecompressor()
            out = x.decompress(raw, MAX_ARCHIVE_BYTES + 1)
            ok = x.eof
        else:
            out, ok = raw, True
    except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as e:
        raise OmpvizError(f"{label}: corrupt compressed archive ({e}); re-create it with tar") from None
    if len(out) > MAX_ARCHIVE_BYTES:
        raise OmpvizError(f"{label}: archive expands beyond 1 GiB; a sysfs dump is far smaller")
    if not ok:
        raise OmpvizError(f"{label}: compressed archive is truncated; copy it again or re-create it with tar")
    if len(out) < 512:
        raise OmpvizError(f"{label}: not a tar archive (too short)")
    return out


def open_root(root: str, label: str) -> tuple[Fs, str]:
    """The Fs of a recorded root and the name of the machine folder (for naming the topology)."""
    if os.path.isdir(root):
        fs: Fs = DirFs(root)
        base = os.path.basename(os.path.normpath(root))
        if fs.exists(CPU_DIR):
            return fs, base
        subs = [d for d in sorted(fs.listdir("")) if fs.exists(f"{d}/{CPU_DIR}")]
        if len(subs) == 1:  # an extracted tarball: the top folder is the root
            return DirFs(os.path.join(root, subs[0])), subs[0]
        raise OmpvizError(
            f"{label}: not a Linux sysfs dump: no {CPU_DIR} inside; point at the folder holding sys/ and proc/"
        )
    tfs = TarFs.open(root, label)
    if tfs.exists(CPU_DIR):
        return tfs, _strip_tar(os.path.basename(root))
    subs = [d for d in tfs.top_dirs() if tfs.exists(f"{d}/{CPU_DIR}")]
    if len(subs) != 1:
        raise OmpvizError(f"{label}: archive holds no {CPU_DIR} (expected a top folder with sys/ and proc/ inside)")
    tfs.prefix = subs[0]
    return tfs, subs[0]


def _strip_tar(name: str) -> str:
    low = name.lower()
    for s in _TAR_SUFFIXES:
        if low.endswith(s):
            return name[: -len(s)]
    return name


# -- parsers: small functions over text (each raises ValueError/OmpvizError on garbage) ---------------
_INT_RE = re.compile(r"-?\d{1,12}")


def parse_int(text: str) -> int:
    t = text.strip()
    if not _INT_RE.fullmatch(t):
        raise ValueError(f"expected an integer, found {t[:30]!r}")
    return int(t)


def parse_cpulist(text: str) -> CpuSet:
    """Kernel cpulist ``0-3,8`` (may be empty: a CPU-less NUMA node)."""
    return parse_list(text.strip())


def parse_cpumask(text: str) -> CpuSet:
    """Kernel cpumask ``00000000,0000ffff``: 32-bit hex words, most significant first, no ``0x``."""
    t = text.strip().lower()
    words = t.split(",")
    if not t or len(words) * 32 > 1_048_576:
        raise ValueError(f"expected a hex CPU mask like 0000ffff, found {t[:30]!r}")
    bits = 0
    for w in words:
        if not re.fullmatch(r"[0-9a-f]{1,8}", w):
            raise ValueError(f"expected a hex CPU mask like 0000ffff, found {t[:30]!r}")
        bits = (bits << 32) | int(w, 16)
    return CpuSet.from_mask(bits)


_SIZE_RE = re.compile(r"(\d{1,12})\s*([KMG]?)B?", re.I)


def parse_cache_size(text: str) -> int:
    """``32K`` / ``1024K`` / ``32M`` -> bytes."""
    m = _SIZE_RE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"expected a cache size like 32K, found {text.strip()[:30]!r}")
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2).upper()]


_MEMTOTAL_RE = re.compile(r"^(?:Node\s+\d+\s+)?MemTotal:\s*(\d+)\s*kB", re.M)


def parse_memtotal(text: str) -> int | None:
    """``MemTotal:`` of /proc/meminfo or ``Node N MemTotal:`` of nodeN/meminfo, in bytes."""
    m = _MEMTOTAL_RE.search(text)
    return int(m.group(1)) * 1024 if m else None


# Arm CPU parts (Linux arch/arm64/include/asm/cputype.h); Arm /proc/cpuinfo has no "model name".
_ARM_PARTS = {
    (0x41, 0xD03): "Arm Cortex-A53",
    (0x41, 0xD05): "Arm Cortex-A55",
    (0x41, 0xD08): "Arm Cortex-A72",
    (0x41, 0xD0B): "Arm Cortex-A76",
    (0x41, 0xD0C): "Arm Neoverse-N1",
    (0x41, 0xD40): "Arm Neoverse-V1",
    (0x41, 0xD41): "Arm Cortex-A78",
    (0x41, 0xD49): "Arm Neoverse-N2",
    (0x41, 0xD4F): "Arm Neoverse-V2",
    (0x48, 0xD01): "HiSilicon Kunpeng 920 (TSV110)",
    (0xC0, 0xAC3): "Ampere AmpereOne",
}


def parse_cpuinfo_model(text: str) -> str | None:
    """The CPU model from /proc/cpuinfo: x86 ``model name``, POWER ``cpu``, Arm implementer/part."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            fields.setdefault(k.strip().lower(), " ".join(v.split()))
    for key in ("model name", "cpu model", "cpu"):
        if fields.get(key):
            return fields[key]
    try:
        impl = int(fields.get("cpu implementer", ""), 16)
        part = int(fields.get("cpu part", ""), 16)
    except ValueError:
        return None
    return _ARM_PARTS.get((impl, part), f"Arm CPU (implementer {impl:#x}, part {part:#x})")


def parse_cpuinfo_vendor(text: str) -> tuple[str | None, int | None]:
    """x86 ``vendor_id`` and ``cpu family`` of the first CPU in /proc/cpuinfo (None when absent)."""
    v = re.search(r"^vendor_id\s*:\s*(\S+)", text, re.M)
    f = re.search(r"^cpu family\s*:\s*(\d{1,6})\s*$", text, re.M)
    return (v.group(1) if v else None, int(f.group(1)) if f else None)


def parse_cgroup_name(cpuset_text: str | None, cgroup_text: str | None) -> str | None:
    """The process's cpuset group as hwloc finds it: /proc/self/cpuset, else the cgroup v1 ``:cpuset:`` or
    v2 ``::`` line of /proc/self/cgroup (first match wins, as in hwloc)."""
    if cpuset_text is not None and cpuset_text.strip():
        return cpuset_text.splitlines()[0].strip()
    for line in (cgroup_text or "").splitlines():
        _, colon, rest = line.partition(":")
        if not colon:
            continue
        if rest.startswith("cpuset:"):
            return rest[len("cpuset:") :].strip()
        if rest.startswith(":"):
            return rest[1:].strip()
    return None


def parse_mounts(text: str) -> list[tuple[str, str, list[str]]]:
    """/proc/mounts -> [(mount dir, fs type, options)] (octal escapes like ``\\040`` decoded)."""
    out = []
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 4:
            d = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), f[1])
            out.append((d, f[2], f[3].split(",")))
    return out


# -- reading helpers ------------------------------------------------------------------------------------
class _Reader:
    """Reads files through an Fs and turns any parse failure into one OmpvizError naming source and file."""

    def __init__(self, fs: Fs, label: str, hint: str) -> None:
        self.fs = fs
        self.label = label
        self.hint = hint  # how to fix it: re-record a dump; for the live machine, report the kernel file

    def get(self, path: str, parse: Callable[[str], T]) -> T | None:
        text = self.fs.read_text(path)
        if text is None:
            return None
        try:
            return parse(text)
        except (ValueError, OmpvizError, OverflowError) as e:
            raise OmpvizError(f"{self.label}: /{path}: {e}; {self.hint}") from None

    def first(self, paths: list[tuple[str, Callable[[str], T]]]) -> T | None:
        for path, parse in paths:
            v = self.get(path, parse)
            if v is not None:
                return v
        return None


def _cpu_ids(names: list[str], prefix: str) -> list[int]:
    out = []
    for n in names:
        if n.startswith(prefix) and n[len(prefix) :].isdigit() and len(n) - len(prefix) <= 7:
            out.append(int(n[len(prefix) :]))
    return sorted(out)


def _find_cgroup_cpus(r: _Reader) -> tuple[CpuSet | None, str | None]:
    """The recorded cgroup cpuset, following hwloc's hwloc_find_linux_cgroup_mntpnt / read_linux_cgroup_name."""
    fs = r.fs
    kind = mnt = None
    if fs.exists("sys/fs/cgroup/cpuset.cpus.effective"):
        kind, mnt = "cgroup2", "sys/fs/cgroup"
    elif fs.exists("sys/fs/cgroup/cpuset/cpuset.cpus"):
        kind, mnt = "cgroup1", "sys/fs/cgroup/cpuset"
    elif fs.exists("dev/cpuset/cpus"):
        kind, mnt = "cpuset", "dev/cpuset"
    else:
        for d, typ, opts in parse_mounts(fs.read_text("proc/mounts") or ""):
            if typ == "cgroup2":
                ctrls = (fs.read_text(_norm(d + "/cgroup.controllers")) or "").split()
                if "cpuset" in ctrls:
                    kind, mnt = "cgroup2", _norm(d)
                    break
            elif typ == "cpuset":
                kind, mnt = "cpuset", _norm(d)
                break
            elif typ == "cgroup" and "cpuset" in opts:
                kind, mnt = ("cpuset" if "noprefix" in opts else "cgroup1"), _norm(d)
                break
    if kind is None:
        return None, None
    name = parse_cgroup_name(fs.read_text("proc/self/cpuset"), fs.read_text("proc/self/cgroup"))
    if name is None:
        return None, None
    attr = {"cgroup2": "cpuset.cpus.effective", "cgroup1": "cpuset.cpus", "cpuset": "cpus"}[kind]
    path = _norm(f"{mnt}/{name}/{attr}")
    cpus = r.get(path, parse_cpulist)
    return cpus, (name if cpus is not None else None)


# -- hwloc's CPU tree ------------------------------------------------------------------------------------
def _node_distances(fs: Fs, nodes: list[int]) -> list[list[int]] | None:
    """``nodeN/distance`` rows (the ACPI SLIT) for ``nodes`` in that order; None when any is missing or odd.

    Optional to the model: a garbled file only loses the distance Groups, as in hwloc (it drops the matrix).
    """
    rows = []
    for n in nodes:
        text = fs.read_text(f"{NODE_DIR}/node{n}/distance")
        try:
            row = [parse_int(x) for x in (text or "").split()]
        except ValueError:
            return None
        if len(row) != len(nodes):
            return None
        rows.append(row)
    return rows if len(nodes) > 1 else None


def distance_groups(values: list[list[int]]) -> list[list[int]]:
    """The Groups hwloc builds from a NUMA latency matrix (``hwloc__groups_by_distances``, accuracy 0, as
    without HWLOC_GROUPING_ACCURACY): lists of matrix positions, innermost groups first.

    Objects transitively linked by the smallest off-diagonal distance form a group (a lone object none; one group
    of everything is no group); groups are then grouped again over their average distances, while more than
    two objects remain. A matrix that is not symmetric or whose diagonal is not strictly smallest is not used.
    """
    n = len(values)
    for i in range(n):
        for j in range(i + 1, n):
            if values[i][j] != values[j][i] or values[i][j] <= values[i][i]:
                return []
    objs = [[i] for i in range(n)]
    out: list[list[int]] = []
    while len(objs) > 2:
        k = len(objs)
        mind = min(values[i][j] for i in range(k) for j in range(k) if i != j)
        ids = [0] * k
        gid, skipped = 1, 0
        for i in range(k):
            if ids[i]:
                continue
            ids[i] = gid
            members, size = [i], 1
            while members:
                nxt = []
                for j in members:
                    for m in range(k):
                        if not ids[m] and values[j][m] == mind:
                            ids[m] = gid
                            nxt.append(m)
                size += len(nxt)
                members = nxt
            if size == 1:
                ids[i] = 0
                skipped += 1
                continue
            gid += 1
        ngroups = gid - 1
        if ngroups == 0 or (ngroups == 1 and not skipped):
            break
        groups = [[i for i in range(k) if ids[i] == g] for g in range(1, gid)]
        objs = [[x for i in g for x in objs[i]] for g in groups]
        out.extend(objs)
        values = [[sum(values[i][j] for i in gi for j in gj) // (len(gi) * len(gj)) for gj in groups] for gi in groups]
    return out


def _hwloc_levels(
    valid: CpuSet,
    pkg: dict[int, int | None],
    core_key: dict[int, object],
    extra_sets: dict[int, list[CpuSet]],
    node_cpus: dict[int, CpuSet],
    distances: list[list[int]] | None,
) -> dict[int, tuple[object, ...]]:
    """PURecord.levels per CPU: the CPU masks of the objects hwloc's Linux backend puts above its core.

    Objects: package, die, cluster, book, drawer, every cache, a Group for each NUMA node whose CPUs match no
    other object (hwloc 2 NUMA nodes are memory children), and the Groups made from NUMA distances. Objects with
    the same CPUs are one node of the tree as far as hwloc_distrib() goes, so each object is named by its CPU
    mask; outer first (larger), keeping only sets nested in the previous one (hwloc refuses an object that
    crosses another's boundary). Objects no larger than the core add nothing and are left out; an object covering
    every CPU is kept, so that a machine with more than one core always shows its chain is known.
    """
    full = valid.mask
    sets: dict[int, list[int]] = {c: [s.mask & full | 1 << c for s in extra_sets.get(c, ())] for c in valid}
    pkg_masks: dict[int, int] = {}
    core_masks: dict[object, int] = {}
    for c in valid:
        if pkg.get(c) is not None:
            pkg_masks[pkg[c]] = pkg_masks.get(pkg[c], 0) | 1 << c
        k = core_key.get(c)
        core_masks[k if k is not None else ("pu", c)] = core_masks.get(k if k is not None else ("pu", c), 0) | 1 << c
    node_masks = {n: s.mask for n, s in node_cpus.items() if s}
    groups = [0]
    if distances is not None:
        order = list(node_cpus)
        groups = [sum((node_masks.get(order[i], 0) for i in g), 0) for g in distance_groups(distances)]
    for c in valid:
        bit = 1 << c
        if pkg.get(c) is not None:
            sets[c].append(pkg_masks[pkg[c]])
        sets[c].extend(m for m in node_masks.values() if m & bit)
        sets[c].extend(m for m in groups if m & bit)
    out: dict[int, tuple[object, ...]] = {}
    for c in valid:
        k = core_key.get(c)
        core = core_masks[k if k is not None else ("pu", c)]
        chain: list[int] = []
        for m in sorted(set(sets[c]), key=lambda m: -m.bit_count()):
            if m & core != core or m == core:
                continue
            if chain and m & chain[-1] != m:
                continue
            chain.append(m)
        out[c] = tuple(chain)
    return out


# -- the loader -----------------------------------------------------------------------------------------
def _kinds(r: _Reader, cpus: list[int], vendor: str | None, family: int | None) -> tuple[dict[int, str], str | None]:
    """Core kind per CPU and a note saying where the kinds came from (empty when uniform/unknown)."""
    core = r.get("sys/devices/cpu_core/cpus", parse_cpulist)
    atom = r.get("sys/devices/cpu_atom/cpus", parse_cpulist)
    lowp = r.get("sys/devices/cpu_lowpower/cpus", parse_cpulist)
    if core is not None or atom is not None:
        out: dict[int, str] = {}
        for s, k in ((core, "P"), (atom, "E"), (lowp, "LP-E")):
            for c in s or ():
                out[c] = k
        return out, "core kinds from /sys/devices/cpu_core and cpu_atom (Intel hybrid)"

    cap = {c: r.get(f"{CPU_DIR}/cpu{c}/cpu_capacity", parse_int) for c in cpus}
    cap = {c: v for c, v in cap.items() if v is not None}
    if len(set(cap.values())) > 1:
        return _rank(cap, ("big", "little")), "core kinds from cpu_capacity (Arm big.LITTLE)"

    if vendor == "AuthenticAMD" and (family is None or family < 0x1A):
        # hwloc skips frequency-based kinds on AMD before Zen 5 (family 1Ah): boosted cores differ in max
        # frequency without being hybrid
        return {}, None

    def freq(path: str) -> int | None:
        try:
            return r.get(path, parse_int)
        except OmpvizError:
            return None  # "<unknown>" is a real value of cpuinfo_max_freq on some VMs

    maxf = {c: freq(f"{CPU_DIR}/cpu{c}/cpufreq/cpuinfo_max_freq") for c in cpus}
    base = {c: freq(f"{CPU_DIR}/cpu{c}/cpufreq/base_frequency") for c in cpus}
    if not any(base.values()):
        # hwloc's second choice: ACPI CPPC nominal frequency (in MHz, unlike cpufreq's kHz)
        nominal = {c: freq(f"{CPU_DIR}/cpu{c}/acpi_cppc/nominal_freq") for c in cpus}
        base = {c: v * 1000 if v and v > 0 else None for c, v in nominal.items()}
    if all(base.get(c) for c in cpus):
        # hwloc_linux_cpukinds_adjust_maxfreqs: within one base frequency, max frequencies less than 10 %
        # apart are turbo-boost-max "favoured cores", not different kinds
        for b in set(base.values()):
            group = [c for c in cpus if base[c] == b and maxf.get(c)]
            if group:
                lo, hi = min(maxf[c] for c in group), max(maxf[c] for c in group)
                if (hi - lo) * 100 < 10 * lo:
                    for c in group:
                        maxf[c] = lo
    key = {c: (base.get(c) or 0, maxf.get(c) or 0) for c in cpus if base.get(c) or maxf.get(c)}
    if len(key) == len(cpus) and len(set(key.values())) > 1:
        names = ("P", "E") if vendor == "GenuineIntel" else ("big", "little")
        return _rank(key, names), "core kinds inferred from cpufreq base/max frequencies, as hwloc does"
    return {}, None


def _rank(values: dict[int, object], names: tuple[str, str]) -> dict[int, str]:
    """Highest value -> names[0], lowest -> names[1], any in between -> "mid"."""
    distinct = sorted(set(values.values()))
    out = {}
    for c, v in values.items():
        i = distinct.index(v)
        out[c] = names[0] if i == len(distinct) - 1 else names[1] if i == 0 else "mid"
    return out


def _read_topology(fs: Fs, *, label: str, source: str, source_kind: str, default_name: str, allowed_fn) -> Topology:
    hint = (
        "unexpected kernel file content: use --topology with an lstopo XML export instead"
        if source_kind == "live"
        else "the dump is corrupt: record it again"
    )
    r = _Reader(fs, label, hint)
    if not fs.exists(CPU_DIR):
        raise OmpvizError(f"{label}: no /{CPU_DIR}: not a Linux sysfs root")
    cpus = _cpu_ids(fs.listdir(CPU_DIR), "cpu")
    if cpus and cpus[-1] > MAX_CPU:
        raise OmpvizError(f"{label}: /{CPU_DIR}/cpu{cpus[-1]}: CPU number beyond {MAX_CPU}; the tree is corrupt")
    if not cpus:
        raise OmpvizError(f"{label}: /{CPU_DIR} lists no cpuN directories")
    notes: list[str] = []

    online_set = r.get(f"{CPU_DIR}/online", parse_cpulist)
    online: dict[int, bool] = {}
    for c in cpus:
        if online_set is not None:
            online[c] = c in online_set
        else:
            v = r.get(f"{CPU_DIR}/cpu{c}/online", parse_int)
            online[c] = v is None or v != 0
    has_topo = {c: fs.exists(f"{CPU_DIR}/cpu{c}/topology") for c in cpus}
    if any(has_topo[c] for c in cpus if online[c]):
        no_topo = [c for c in cpus if online[c] and not has_topo[c]]
        if no_topo:
            notes.append(
                f"CPU {CpuSet(no_topo)} online without topology information: treated as offline, as hwloc does"
            )
            for c in no_topo:
                online[c] = False
    else:
        notes.append("no per-CPU topology information: cores, packages and caches are unknown")
    valid = CpuSet(c for c in cpus if online[c])
    if not valid:
        raise OmpvizError(f"{label}: every CPU is offline")

    base = CPU_DIR + "/cpu{}/topology/"
    pkg: dict[int, int | None] = {}
    die: dict[int, int | None] = {}
    core_key: dict[int, object] = {}
    for c in valid:
        t = base.format(c)
        p = r.get(t + "physical_package_id", parse_int)
        pkg[c] = None if p is None or p < 0 else p
        d = r.get(t + "die_id", parse_int)
        die[c] = None if d is None or d < 0 else d
        sib = r.first(
            [
                (t + "core_cpus_list", parse_cpulist),
                (t + "thread_siblings_list", parse_cpulist),
                (t + "core_cpus", parse_cpumask),
                (t + "thread_siblings", parse_cpumask),
            ]
        )
        if sib is not None:
            sib = (sib & valid) | CpuSet([c])
            core_key[c] = ("cpus", sib)
        else:
            cid = r.get(t + "core_id", parse_int)
            cl = r.get(t + "cluster_id", parse_int)
            core_key[c] = None if cid is None else ("id", pkg[c], die[c], cl, cid)
    if all(pkg[c] is None for c in valid):
        # POWER and some Arm kernels say physical_package_id -1: hwloc then builds packages from the
        # package_cpus / core_siblings sets and gives them no OS index; we number them by first CPU
        sets: dict[int, CpuSet] = {}
        for c in valid:
            t = base.format(c)
            s = r.first(
                [
                    (t + "package_cpus_list", parse_cpulist),
                    (t + "core_siblings_list", parse_cpulist),
                    (t + "package_cpus", parse_cpumask),
                    (t + "core_siblings", parse_cpumask),
                ]
            )
            if s is not None:
                sets[c] = (s & valid) | CpuSet([c])
        if sets:
            order = {s: i for i, s in enumerate(sorted(set(sets.values()), key=lambda s: s.first))}
            for c, s in sets.items():
                pkg[c] = order[s]
            notes.append("physical_package_id is unknown (-1): packages numbered in CPU order, not by OS index")
    # CPU sets of the other objects hwloc's Linux backend builds from the topology directory: dies, Arm clusters
    # (Group "Cluster"), s390 books and drawers (Groups). They only shape PURecord.levels (hwloc_distrib's tree).
    # The kernel lists each object's CPUs in every member's directory: a CPU already covered by a set read for
    # another CPU is not read again (a 256-CPU POWER dump has only 256-bit masks, slow to parse per CPU).
    extra_sets: dict[int, list[CpuSet]] = {c: [] for c in valid}
    seen_sets: dict[object, dict[int, CpuSet]] = {}  # object kind -> {cpu: its set}

    def member_set(kind: object, c: int, read: Callable[[], CpuSet | None]) -> None:
        known = seen_sets.setdefault(kind, {})
        got = known.get(c)
        if got is None:
            got = read()
            if got is None:
                return
            for m in got:
                known.setdefault(m, got)
        extra_sets[c].append(got)

    for c in valid:
        t = base.format(c)
        for lst, msk in (
            ("die_cpus_list", "die_cpus"),
            ("cluster_cpus_list", "cluster_cpus"),
            ("book_siblings_list", "book_siblings"),
            ("drawer_siblings_list", "drawer_siblings"),
        ):
            member_set(
                lst, c, lambda t=t, lst=lst, msk=msk: r.first([(t + lst, parse_cpulist), (t + msk, parse_cpumask)])
            )

    # a die is only worth a level when some package holds more than one (hwloc merges identical levels)
    dies_per_pkg: dict[object, set] = {}
    for c in valid:
        dies_per_pkg.setdefault(pkg[c], set()).add(die[c])
    if not any(len(s) > 1 for s in dies_per_pkg.values()):
        die = dict.fromkeys(valid)

    # caches: L3 groups and sizes
    l3_key: dict[int, object] = {}
    l3_sizes: dict[object, int] = {}
    cache_sizes: dict[str, int] = {}
    for c in valid:
        cdir = f"{CPU_DIR}/cpu{c}/cache"
        for idx in _cpu_ids(fs.listdir(cdir), "index"):
            ip = f"{cdir}/index{idx}/"
            level = r.get(ip + "level", parse_int)
            typ = (fs.read_text(ip + "type") or "").strip()
            if level is None:
                continue
            if level == 1:
                name = {"Data": "L1d", "Instruction": "L1i"}.get(typ)
            else:  # an instruction-only L2/L3 is not "the" L2/L3 a user sizes a working set against
                name = f"L{level}" if typ in ("Unified", "Data", "") else None
            size = r.get(ip + "size", parse_cache_size)
            # every CPU cache is an hwloc object (L1i included: hwloc keeps instruction caches by default)
            member_set(
                ("cache", idx, level, typ),
                c,
                lambda ip=ip: r.first(
                    [(ip + "shared_cpu_list", parse_cpulist), (ip + "shared_cpu_map", parse_cpumask)]
                ),
            )
            if name and size and name not in cache_sizes:
                cache_sizes[name] = size
            if level == 3 and typ in ("Unified", "Data", ""):
                shared = r.first([(ip + "shared_cpu_list", parse_cpulist), (ip + "shared_cpu_map", parse_cpumask)])
                if shared is None:
                    continue
                k = (shared & valid) | CpuSet([c])
                l3_key[c] = k
                if size:
                    l3_sizes.setdefault(k, size)
    if not l3_key:
        notes.append("no level-3 cache in sysfs: no L3 groups (hwloc shows none either)")

    # NUMA nodes
    numa: dict[int, int] = {}
    numa_sizes: dict[int, int] = {}
    node_cpus: dict[int, CpuSet] = {}
    for n in _cpu_ids(fs.listdir(NODE_DIR), "node"):
        np_ = f"{NODE_DIR}/node{n}/"
        cl = r.first([(np_ + "cpulist", parse_cpulist), (np_ + "cpumap", parse_cpumask)])
        if cl is None:
            # very old kernels: only cpuN symlinks inside the node directory
            cl = CpuSet(_cpu_ids(fs.listdir(np_), "cpu"))
        node_cpus[n] = cl & valid
        for c in cl:
            if c in valid:
                numa.setdefault(c, n)
        mem = r.get(np_ + "meminfo", parse_memtotal)
        if mem:
            numa_sizes[n] = mem
    if not fs.exists(NODE_DIR):
        # no NUMA support in the kernel: one node holding everything, as hwloc shows it
        numa = dict.fromkeys(valid, 0)
        total = r.get("proc/meminfo", parse_memtotal)
        if total:
            numa_sizes[0] = total

    levels = _hwloc_levels(valid, pkg, core_key, extra_sets, node_cpus, _node_distances(fs, list(node_cpus)))

    cpuinfo = fs.read_text("proc/cpuinfo") or ""
    vendor, family = parse_cpuinfo_vendor(cpuinfo)
    kinds, kind_note = _kinds(r, list(valid), vendor, family)
    if kind_note:
        notes.append(kind_note)

    allowed, allowed_note = allowed_fn(r, valid)
    if allowed_note:
        notes.append(allowed_note)

    records = []
    for c in cpus:
        if c not in valid:
            records.append(PURecord(c, online=False, allowed=allowed is None or c in allowed))
            continue
        records.append(
            PURecord(
                c,
                package=pkg[c],
                die=die[c],
                numa=numa.get(c),
                l3_key=l3_key.get(c),
                core_key=core_key.get(c),
                kind=kinds.get(c),
                levels=levels.get(c, ()),
                online=True,
                allowed=allowed is None or c in allowed,
            )
        )
    model = parse_cpuinfo_model(cpuinfo)
    return build_topology(
        records,
        name=model or default_name,
        source=source,
        source_kind=source_kind,
        cache_sizes=cache_sizes,
        numa_sizes=numa_sizes,
        l3_sizes=l3_sizes,
        notes=notes,
    )


def load_sysfs(root: str, *, source: str) -> Topology:
    """A recorded Linux root: a directory holding sys/ (and proc/), or a .tar/.tar.gz/.tar.bz2 of one."""
    fs, base = open_root(root, source)

    def allowed(r: _Reader, valid: CpuSet):
        cpus, name = _find_cgroup_cpus(r)
        if cpus is None:
            return None, None
        if valid <= cpus:
            return None, None
        return cpus, f"restricted by the recorded cgroup cpuset {name}: CPUs {cpus & valid} allowed"

    return _read_topology(
        fs, label=source, source=source, source_kind="sysfs", default_name=base or source, allowed_fn=allowed
    )


def load_live() -> Topology:
    """The machine ompviz runs on, restricted to this process's CPU affinity."""
    cpu_dir = "/" + CPU_DIR
    # no sysfs (macOS, Windows) or a sandbox that hides the cpuN directories (gVisor, some containers)
    if not os.path.isdir(cpu_dir) or not _cpu_ids(DirFs("/").listdir(CPU_DIR), "cpu"):
        from ompviz.topology.fallback import load_fallback

        return load_fallback()
    return load_live_root("/")


def load_live_root(root: str, affinity: set[int] | None = None, *, model_name: str | None = None) -> Topology:
    """Like load_live on any root (tests give a fake tree and affinity)."""
    fs = DirFs(root)

    def allowed(r: _Reader, valid: CpuSet):
        try:
            aff = CpuSet(os.sched_getaffinity(0) if affinity is None else affinity)
        except (AttributeError, OSError):
            return None, None
        if valid <= aff:
            return None, None
        return aff, f"this process may run on CPUs {aff & valid} only (sched_getaffinity)"

    topo = _read_topology(fs, label="live", source="live", source_kind="live", default_name="", allowed_fn=allowed)
    if not topo.name:
        name = model_name or _cpuinfo_brand() or os.uname().machine
        topo = _rename(topo, name)
    return topo


def _cpuinfo_brand() -> str | None:
    """py-cpuinfo's brand string: slow (it may spawn tools), so only used when /proc/cpuinfo had no model."""
    try:
        import cpuinfo  # py-cpuinfo

        return cpuinfo.get_cpu_info().get("brand_raw") or None
    except Exception:  # noqa: BLE001 - a best-effort name must never break loading the topology
        return None


def _rename(topo: Topology, name: str) -> Topology:
    import dataclasses

    return dataclasses.replace(topo, name=name)  # _by_os is shared: the PUs are the same
