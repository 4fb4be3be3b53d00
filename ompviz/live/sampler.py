"""Sample every thread of every worker from /proc, off the UI thread, into immutable snapshots.

Per thread and interval: the CPU it last ran on (/proc/PID/task/TID/stat field 39), CPU% from the utime+stime delta
(fields 14+15, clock ticks) over at least :data:`CPU_WINDOW` seconds, its allowed set (sched_getaffinity(tid)), how
often its CPU changed between samples (migrations seen: a lower bound), its OpenMP thread number and the affinity
its runtime reported (OMP_DISPLAY_AFFINITY lines, the built-in kernel's own ``ompviz-thread`` lines) and its
iterations/s when the kernel reports them. Per machine: per-CPU utilisation from /proc/stat deltas (read directly
rather than through psutil, whose per-CPU list skips offline CPUs — index != CPU id — and whose cpu_percent keeps
module-global state that two samplers would share).

/proc races are normal here: a thread can vanish between listing and reading (ENOENT/ESRCH), a process can exit
mid-sample; such threads are just absent from that sample.

:class:`Sampler` runs in a background thread and schedules the next sample only after the previous one finished
(no overlap, as memray's and dolphie's live views do). :class:`Sample` and friends are frozen dataclasses with
``to_dict``/``from_dict`` so recorded runs replay deterministically (TUI tests).

Two paths give the same samples: the per-thread reading and accounting runs in C (``procscan.c``, compiled with cc
on first use into the per-user cache like the kernel, loaded with ctypes; one call per sample) when it can be built,
else in pure Python (no compiler, a failed build, not Linux) — silently, it only costs more CPU.
tests/live/test_procscan.py runs both on the same input.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ompviz.cpuset import CpuSet, parse_list
from ompviz.live.launcher import ExitStatus, OutputSnapshot, WorkerProcess
from ompviz.records import maker, setters

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# CPU% needs a window of many clock ticks: utime/stime move in 1/CLK_TCK steps (10 ms), so over one 50 ms interval a
# busy thread reads 0, 100 or 200 %. Over >= 0.4 s one tick is <= 2.5 %. Each thread's percentage is taken between
# its current reading and the newest older reading at least this old (its own read times, not the sample's), and
# clamped to 0..100 % of one CPU (a thread cannot run on two CPUs at once; what is left is quantisation).
CPU_WINDOW = 0.4


# -- snapshots ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ThreadSample:
    tid: int
    name: str  # comm
    omp_thread: int | None  # None: not (yet) identified as an OpenMP thread
    cpu: int | None  # CPU it last ran on
    cpu_percent: float  # of one CPU (0-100), over the last CPU_WINDOW s or more (0 on a thread's first sample)
    allowed: CpuSet  # sched_getaffinity(tid)
    migrations: int  # CPU changes seen since the thread appeared
    seen: CpuSet  # CPUs seen running on since its allowed set last changed
    reported: CpuSet | None = None  # affinity the runtime reported for it (OMP_DISPLAY_AFFINITY)
    place: int | None = None  # omp_get_place_num() reported by the built-in kernel
    ips: float | None = None  # iterations/s reported by the built-in kernel

    def to_dict(self) -> dict:
        return {
            "tid": self.tid,
            "name": self.name,
            "omp_thread": self.omp_thread,
            "cpu": self.cpu,
            "cpu_percent": round(self.cpu_percent, 1),
            "allowed": self.allowed.to_list(),
            "migrations": self.migrations,
            "seen": self.seen.to_list(),
            "reported": None if self.reported is None else self.reported.to_list(),
            "place": self.place,
            "ips": self.ips,
        }

    @classmethod
    def from_dict(cls, d: dict) -> ThreadSample:
        return cls(
            tid=int(d["tid"]),
            name=str(d.get("name", "")),
            omp_thread=d.get("omp_thread"),
            cpu=d.get("cpu"),
            cpu_percent=float(d.get("cpu_percent", 0.0)),
            allowed=parse_list(d.get("allowed", "")),
            migrations=int(d.get("migrations", 0)),
            seen=parse_list(d.get("seen", "")),
            reported=None if d.get("reported") is None else parse_list(d["reported"]),
            place=d.get("place"),
            ips=d.get("ips"),
        )


@dataclass(frozen=True, slots=True)
class WorkerSample:
    rank: int
    pid: int
    alive: bool
    exit_code: int | None = None  # when it exited by itself
    exit_signal: int | None = None  # when a signal ended it
    stopped: bool = False  # ended because ompviz stopped it (not a crash)
    throughput: float | None = None  # sum of the kernel's per-thread iterations/s (None: no reports)
    team_size: int | None = None  # OpenMP team size reported (outermost level)
    threads: tuple[ThreadSample, ...] = ()
    # (OpenMP thread, affinity) as the runtime reported them, latest per thread: evidence for threads whose tid
    # could not be identified (libgomp prints no tid)
    omp_reports: tuple[tuple[int, CpuSet], ...] = ()

    def to_dict(self) -> dict:
        return {
            "rank": self.rank,
            "pid": self.pid,
            "alive": self.alive,
            "exit_code": self.exit_code,
            "exit_signal": self.exit_signal,
            "stopped": self.stopped,
            "throughput": self.throughput,
            "team_size": self.team_size,
            "threads": [t.to_dict() for t in self.threads],
            "omp_reports": {str(th): aff.to_list() for th, aff in self.omp_reports},
        }

    @classmethod
    def from_dict(cls, d: dict) -> WorkerSample:
        return cls(
            rank=int(d["rank"]),
            pid=int(d["pid"]),
            alive=bool(d["alive"]),
            exit_code=d.get("exit_code"),
            exit_signal=d.get("exit_signal"),
            stopped=bool(d.get("stopped", False)),
            throughput=d.get("throughput"),
            team_size=d.get("team_size"),
            threads=tuple(ThreadSample.from_dict(t) for t in d.get("threads", ())),
            omp_reports=tuple(sorted((int(k), parse_list(v)) for k, v in d.get("omp_reports", {}).items())),
        )


@dataclass(frozen=True, slots=True)
class Sample:
    seq: int  # 0, 1, 2, ... within a run
    time: float  # seconds since the run started
    workers: tuple[WorkerSample, ...]
    cpu_util: tuple[float | None, ...] = field(default=())  # index = OS CPU id; percent busy; None: offline/unknown

    def to_dict(self) -> dict:
        return {
            "seq": self.seq,
            "time": round(self.time, 3),
            "workers": [w.to_dict() for w in self.workers],
            "cpu_util": [None if x is None else round(x, 1) for x in self.cpu_util],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Sample:
        return cls(
            seq=int(d.get("seq", 0)),
            time=float(d["time"]),
            workers=tuple(WorkerSample.from_dict(w) for w in d["workers"]),
            cpu_util=tuple(None if x is None else float(x) for x in d.get("cpu_util", ())),
        )


# -- /proc parsing --------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TaskStat:
    comm: str
    state: str
    ticks: int  # utime + stime
    processor: int | None


def parse_task_stat(text: str | bytes) -> TaskStat | None:
    """Parse /proc/PID/task/TID/stat. comm sits in parentheses and may itself hold spaces and ')' — so split at
    the LAST ')'. Fields after it start at field 3 (state); utime/stime are fields 14/15, processor field 39."""
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    r = _parse_stat(data)
    return None if r is None else TaskStat(r[0].decode("utf-8", "replace"), r[1].decode("ascii", "replace"), r[2], r[3])


def _parse_stat(data: bytes) -> tuple[bytes, bytes, int, int | None] | None:
    """(comm, state, utime+stime, processor) as raw bytes/ints: the sampler decodes comm only when it changed.

    Same rules as ``ps_step`` in procscan.c (the compiled path): change both together. Splits at most 37 times
    after the last ')' (processor is the 37th field there): the ~15 fields after it are never cut into objects."""
    open_ = data.find(b"(")
    close = data.rfind(b")")
    if open_ < 0 or close < open_:
        return None
    rest = data[close + 1 :].split(None, 37)
    if len(rest) < 13:
        return None
    u, s, p = rest[11], rest[12], rest[36] if len(rest) > 36 else b"0"
    # _is_num inlined: this runs per thread and sample on the pure-Python path
    if (
        not (u.isdigit() and s.isdigit() and p.isdigit() and len(u) <= 18 and len(s) <= 18 and len(p) <= 18)
        or close - open_ - 1 > COMM_MAX
    ):
        return None
    return data[open_ + 1 : close], rest[0], int(u) + int(s), int(p) if len(rest) > 36 else None


COMM_MAX = 256  # a comm is at most 64 bytes (kernel threads; 15 for user threads): longer is not a stat file


def _is_num(b: bytes) -> bool:
    """The kernel prints these fields as plain decimal: ASCII digits only (``int()`` would also take a sign or
    ``_``), at most 18 of them (10^18 clock ticks is far beyond any uptime) — the same rule as procscan.c."""
    return b.isdigit() and len(b) <= 18


def parse_proc_stat(text: str | bytes) -> dict[int, tuple[int, int]]:
    """/proc/stat -> {cpu id: (busy ticks, total ticks)}. total = user..steal (guest time is already inside user);
    idle and iowait are not busy."""
    data = text.encode("ascii", "replace") if isinstance(text, str) else text
    out: dict[int, tuple[int, int]] = {}
    end = data.find(b"\nintr ")  # the kernel prints the per-CPU lines first: leave the long intr line unsplit
    for line in (data if end < 0 else data[:end]).split(b"\n"):
        if not line.startswith(b"cpu") or line.startswith(b"cpu "):
            continue
        parts = line.split(None, 9)
        cid, nums = parts[0][3:], parts[1:9]
        # plain decimal only, as the kernel prints them (the rule of ps_cpu_times in procscan.c too)
        if not (cid.isdigit() and len(cid) <= 9 and all(map(_is_num, nums))):
            continue
        cpu = int(cid)
        v = [int(x) for x in nums]
        v += [0] * (8 - len(v))
        total = sum(v)
        out[cpu] = (total - v[3] - v[4], total)
    return out


def read_cpu_times(fd: int | None = None) -> dict[int, tuple[int, int]]:
    """Per-CPU busy/total ticks now; ``fd``: an open /proc/stat to pread (cheaper than opening it each time)."""
    try:
        if fd is not None:
            chunks, off, size = [], 0, 65536
            while True:
                b = os.pread(fd, size, off)
                chunks.append(b)
                off += len(b)
                if len(b) < size:  # a short read of a /proc seq file is its end: no extra empty pread
                    break
            return parse_proc_stat(b"".join(chunks))
        with open("/proc/stat", "rb") as f:
            return parse_proc_stat(f.read())
    except OSError:
        return {}


def cpu_util(before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]) -> tuple[float | None, ...]:
    """Percent busy per CPU id between two /proc/stat readings; None for a CPU missing from either."""
    if not after:
        return ()
    out: list[float | None] = [None] * (max(after) + 1)
    get = before.get
    for cpu, (busy, total) in after.items():
        prev = get(cpu)
        if prev is None:
            continue  # None
        dt = total - prev[1]
        if dt <= 0:
            out[cpu] = 0.0
            continue
        x = 100.0 * (busy - prev[0]) / dt
        out[cpu] = x if 0.0 < x < 100.0 else (0.0 if x <= 0.0 else 100.0)  # min(100, max(0, x)) without 2 calls
    return tuple(out)


def map_omp_threads(
    pid: int, output: OutputSnapshot, allowed: dict[int, CpuSet]
) -> dict[int, tuple[int, CpuSet | None, int | None]]:
    """tid -> (OpenMP thread number, reported affinity, place) for the threads we can identify.

    Exact when the tid is known: the built-in kernel prints it (``ompviz-thread``), LLVM/Intel print it in %i.
    libgomp prints a pthread_t instead; such a report is matched to a thread only when its reported affinity equals
    the allowed set of exactly one unmatched thread and no other unmatched report has the same affinity (otherwise
    the thread stays unidentified rather than guessed)."""
    out: dict[int, tuple[int, CpuSet | None, int | None]] = {}
    reports = [r for r in output.affinity if r.pid == pid and r.level <= 1]
    latest: dict[int, object] = {}
    for r in reports:  # later lines win: a new team may have rebound a thread
        latest[r.thread] = r
    by_thread = {th: r for th, r in latest.items()}
    for kt in output.kernel_threads:
        if kt.tid in allowed:
            r = by_thread.get(kt.thread)
            out[kt.tid] = (kt.thread, getattr(r, "affinity", None), kt.place)
    known_threads = {v[0] for v in out.values()}
    pending = []
    for th, r in by_thread.items():
        if th in known_threads:
            continue
        if r.tid is not None and r.tid in allowed and r.tid not in out:
            out[r.tid] = (th, r.affinity, None)
            known_threads.add(th)
        elif r.tid is None:
            pending.append(r)
    for r in pending:
        if r.affinity is None or sum(1 for o in pending if o.affinity == r.affinity) > 1:
            continue
        cands = [t for t, a in allowed.items() if t not in out and a == r.affinity]
        if len(cands) == 1:
            out[cands[0]] = (r.thread, r.affinity, None)
    return out


# -- the compiled path (procscan.c) ------------------------------------------------------------------------------
_PS_NEW, _PS_COMM, _PS_ALLOWED, _PS_SEEN = 1, 2, 4, 8  # flags of ps_step's code, above its 4 status bits


class _Native:
    """procscan.c loaded with ctypes (the functions release the GIL while they run)."""

    def __init__(self, path: str) -> None:
        c = ctypes
        lib = self.lib = c.CDLL(path)
        vp, i, d, ip = c.c_void_p, c.c_int, c.c_double, c.POINTER(c.c_int)
        for name, res, args in (
            ("ps_mask_words", i, ()),
            ("ps_word_bits", i, ()),
            ("ps_new", vp, (i, i, d, d)),
            ("ps_free", None, (vp,)),
            ("ps_reserve", i, (vp, i)),
            ("ps_set", None, (vp, i, i, i)),
            ("ps_fd", i, (vp, i)),
            ("ps_out", vp, (vp, i)),
            ("ps_comm", i, (vp, i, c.c_char_p)),
            ("ps_masks", None, (vp, i, vp, vp)),
            ("ps_step", i, (vp, i, c.c_char_p, c.c_long, vp, d)),
            ("ps_scan", i, (vp, ip, i)),
            ("ps_sample", i, (vp,)),
            (
                "ps_cpu_times",
                i,
                (i, c.c_char_p, c.c_long, ip, c.POINTER(c.c_longlong), c.POINTER(c.c_longlong), i),
            ),
        ):
            f = getattr(lib, name)
            f.restype, f.argtypes = res, args
        self.words = lib.ps_mask_words()
        self.wbits = lib.ps_word_bits()
        if self.words <= 0 or self.wbits <= 0:
            raise OSError("sched_getaffinity mask size unknown")


@functools.cache
def _native() -> _Native | None:
    """The compiled loop, built on first use; None when it cannot be had (no compiler, not Linux, ...)."""
    from ompviz.live.build import procscan_library

    path = procscan_library()
    if path is None:
        return None
    try:
        return _Native(str(path))
    except (OSError, AttributeError):  # unloadable, or a stale library without a function
        return None


_LITTLE = sys.byteorder == "little"


class _Table:
    """One worker's threads in a procscan table: a slot per thread, the per-thread state kept in C; here only what
    the snapshots hand out (comm str, allowed and seen CpuSets), rebuilt when ps_step flags a change."""

    def __init__(self, nat: _Native, pid: int) -> None:
        self.nat, self.lib, self.pid = nat, nat.lib, pid
        self.h = self.lib.ps_new(pid, nat.words, _TICK_PCT, CPU_WINDOW)
        if not self.h:
            raise MemoryError("procscan table")
        self.cap = 0
        self.slot: dict[int, int] = {}  # tid -> slot
        self.free: list[int] = []
        self.tid: list[int] = []
        self.comm: list[str] = []
        self.allowed: list[CpuSet] = []
        self.seen: list[CpuSet] = []
        self.version = 0  # bumped whenever a slot is taken or freed
        self.scan_for: tuple[list[int] | None, int] = (None, -1)  # (tids list, version) scan_slots was made for
        self.scan_slots: list[int] = []
        self.scan_tids: list[int] = []
        self._cbuf = ctypes.create_string_buffer(COMM_MAX)
        self._abuf = (ctypes.c_ulong * nat.words)()
        self._sbuf = (ctypes.c_ulong * nat.words)()
        self._grow(16)

    def _grow(self, cap: int) -> None:
        if self.lib.ps_reserve(self.h, cap) != 0:
            raise MemoryError("procscan table")
        self.free.extend(range(cap - 1, self.cap - 1, -1))  # popped from the end: lowest slot first
        more = cap - self.cap
        self.tid += [0] * more
        self.comm += [""] * more
        self.allowed += [_EMPTY] * more
        self.seen += [_EMPTY] * more
        self.cap = cap
        out = self.lib.ps_out
        self.out_code = (ctypes.c_int * cap).from_address(out(self.h, 0))
        self.out_cpu = (ctypes.c_int * cap).from_address(out(self.h, 1))
        self.out_pct = (ctypes.c_double * cap).from_address(out(self.h, 2))
        self.out_mig = (ctypes.c_longlong * cap).from_address(out(self.h, 3))
        self.scan_arr = (ctypes.c_int * cap)()
        self.scan_for = (None, -1)

    def add(self, tid: int, fd: int) -> int:
        if not self.free:
            self._grow(2 * self.cap)
        s = self.free.pop()
        self.lib.ps_set(self.h, s, tid, fd)
        self.slot[tid] = s
        self.tid[s] = tid
        self.comm[s] = ""
        self.allowed[s] = self.seen[s] = _EMPTY
        self.version += 1
        return s

    def remove(self, tid: int) -> int:
        """Free the thread's slot; returns its fd (-1: none) for the caller to close."""
        s = self.slot.pop(tid)
        fd = self.lib.ps_fd(self.h, s)
        self.lib.ps_set(self.h, s, 0, -1)
        self.free.append(s)
        self.version += 1
        return fd

    def close(self) -> None:
        if self.h:
            self.lib.ps_free(self.h)
            self.h = None

    def _mask(self, buf) -> CpuSet:
        if _LITTLE:  # the words lowest first, each lowest byte first: the whole mask as one little-endian number
            return CpuSet.from_mask(int.from_bytes(buf, "little"))
        wb = self.nat.wbits
        return CpuSet.from_mask(sum(w << (wb * i) for i, w in enumerate(buf) if w))

    def apply(self, s: int, code: int) -> int:
        """Take in ps_step's code for slot ``s``: -1 the thread is gone or unreadable (forget it), 1 new or
        rebound (identification to redo), 0 nothing of that kind — as :func:`_account`."""
        if code & 15:
            return -1
        f = code >> 4
        if f & _PS_COMM:
            n = self.lib.ps_comm(self.h, s, self._cbuf)
            self.comm[s] = self._cbuf.raw[:n].decode("utf-8", "replace")
        if f & (_PS_ALLOWED | _PS_SEEN):
            self.lib.ps_masks(self.h, s, self._abuf, self._sbuf)
            if f & _PS_ALLOWED:
                self.allowed[s] = self._mask(self._abuf)
            self.seen[s] = self._mask(self._sbuf)
        return 1 if f & (_PS_NEW | _PS_ALLOWED) else 0

    def step(self, s: int, data: bytes, allowed: set[int], now: float) -> int:
        """One crafted reading through ps_step (tests: the same input through both paths)."""
        wb = self.nat.wbits
        mask = (ctypes.c_ulong * self.nat.words)()
        for cpu in allowed:
            mask[cpu // wb] |= 1 << (cpu % wb)
        code = self.lib.ps_step(self.h, s, data, len(data), mask, now)
        if code == 3:
            raise MemoryError("procscan table")
        return self.apply(s, code)


class _CpuTimes:
    """/proc/stat's per-CPU lines parsed in C (ps_cpu_times): the same {cpu: (busy, total)} as read_cpu_times."""

    def __init__(self, nat: _Native) -> None:
        self.lib = nat.lib
        self._size(65536, (os.cpu_count() or 1) + 8)

    def _size(self, nbuf: int, ncpu: int) -> None:
        self.buf = ctypes.create_string_buffer(nbuf)
        self.n = ncpu
        self.cpu = (ctypes.c_int * ncpu)()
        self.busy = (ctypes.c_longlong * ncpu)()
        self.total = (ctypes.c_longlong * ncpu)()

    def read(self, fd: int) -> dict[int, tuple[int, int]]:
        n = self.lib.ps_cpu_times(fd, self.buf, len(self.buf), self.cpu, self.busy, self.total, self.n)
        return self.take(n, fd)

    def take(self, n: int, fd: int) -> dict[int, tuple[int, int]]:
        """The result of a ps_cpu_times call (made here or by ps_sample): on too small a buffer or too few CPU
        slots, grow them and read again."""
        while n < -1:
            self._size(2 * len(self.buf) if n == -3 else len(self.buf), self.n if n == -3 else 2 * self.n)
            n = self.lib.ps_cpu_times(fd, self.buf, len(self.buf), self.cpu, self.busy, self.total, self.n)
        if n < 0:
            return {}
        return dict(zip(self.cpu[:n], zip(self.busy[:n], self.total[:n], strict=True), strict=True))


class _BatchC(ctypes.Structure):
    _fields_ = [
        ("ntables", ctypes.c_int),
        ("tables", ctypes.POINTER(ctypes.c_void_p)),
        ("scan", ctypes.POINTER(ctypes.c_void_p)),
        ("nscan", ctypes.POINTER(ctypes.c_int)),
        ("dirfd", ctypes.POINTER(ctypes.c_int)),
        ("expect", ctypes.POINTER(ctypes.c_int)),
        ("result", ctypes.POINTER(ctypes.c_int)),
        ("statfd", ctypes.c_int),
        ("statbuf", ctypes.c_void_p),
        ("statsize", ctypes.c_long),
        ("cpu", ctypes.POINTER(ctypes.c_int)),
        ("busy", ctypes.POINTER(ctypes.c_longlong)),
        ("total", ctypes.POINTER(ctypes.c_longlong)),
        ("maxcpu", ctypes.c_int),
        ("ncpu", ctypes.c_int),
    ]


class _Batch:
    """ps_sample's argument (``ps_batch`` in procscan.c) for a given set of workers; rebuilt when ``key`` changes."""

    def __init__(self, key: tuple, nat: _Native, pts: list[_ProcTrack], stat_fd: int | None, ct: _CpuTimes | None):
        self.key = key
        n = len(pts)
        tables = (ctypes.c_void_p * max(n, 1))(*[pt.tbl.h for pt in pts])
        scan = (ctypes.c_void_p * max(n, 1))(*[ctypes.addressof(pt.tbl.scan_arr) for pt in pts])
        nscan = (ctypes.c_int * max(n, 1))(*[len(pt.tbl.scan_slots) for pt in pts])
        dirfd = (ctypes.c_int * max(n, 1))(*[pt.dir_fd for pt in pts])
        expect = (ctypes.c_int * max(n, 1))(*[len(pt.tids) or -1 for pt in pts])
        self.result = (ctypes.c_int * max(n, 1))()
        self.keep = [tables, scan, nscan, dirfd, expect, [pt.tbl.scan_arr for pt in pts]]  # what c points into
        c = self.c = _BatchC()
        c.ntables, c.tables, c.scan, c.nscan = n, tables, scan, nscan
        c.dirfd, c.expect, c.result = dirfd, expect, self.result
        self.ref = ctypes.byref(c)
        self.cpu_times = ct
        self.statfd = c.statfd = -1 if ct is None or stat_fd is None else stat_fd
        if ct is not None:
            self._point(ct)

    def _point(self, ct: _CpuTimes) -> None:
        c = self.c
        c.statbuf, c.statsize = ctypes.addressof(ct.buf), len(ct.buf)
        c.cpu, c.busy, c.total, c.maxcpu = ct.cpu, ct.busy, ct.total, ct.n
        self.buf_id = id(ct.buf)

    def times(self) -> dict[int, tuple[int, int]]:
        ct = self.cpu_times
        n = self.c.ncpu
        if n < -1:  # buffers too small: take() grows them and reads again; point ps_sample at the new ones
            d = ct.take(n, self.statfd)
            self._point(ct)
            return d
        if n < 0:
            return {}
        return dict(zip(ct.cpu[:n], zip(ct.busy[:n], ct.total[:n], strict=True), strict=True))  # as _CpuTimes.take


# -- the sampler ----------------------------------------------------------------------------------------------------
# Cost notes (bench/bench_sampler.py; a sample runs every interval with cold caches, so every Python-level step per
# thread shows): per thread and sample the kernel work is one pread of an open stat fd (the kernel regenerates a
# /proc stat file on every read at offset 0) and one sched_getaffinity — both kept, an affinity change must show in
# the next sample. Everything else is done only when something changed: the task listing is re-parsed only when
# /proc/PID/task lists differently, comm is decoded only when its bytes differ, a CpuSet is built only when the
# allowed set or the seen CPUs change, and the OpenMP identification + display order are recomputed only when the
# thread set, an allowed set or the runtime's reports changed. The compiled path (procscan.c) does the reads and the
# per-thread accounting for all workers and /proc/stat in one ctypes call per sample (a call costs tens of us with
# cold caches); what stays in Python per thread is building its ThreadSample. Per worker, status() (a waitid) is
# skipped while that call just counted two or more threads (see WorkerProcess.exit_needs_single_task), and the
# runtime's output is read through OutputState.sampler_view (no snapshot built per rate report).
_new = object.__new__
# ThreadSample / WorkerSample / Sample without the frozen __init__ (~2x its speed: one per thread and sample;
# ompviz.records generates them from the classes' fields). The compiled path fills ThreadSamples inline.
_thread_sample = maker(ThreadSample)
_worker_sample = maker(WorkerSample)
_sample_obj = maker(Sample)
(_ts_tid, _ts_name, _ts_omp, _ts_cpu, _ts_pct, _ts_allowed, _ts_mig, _ts_seen, _ts_rep, _ts_place, _ts_ips) = setters(
    ThreadSample
)  # unpacking fails at import if ThreadSample gains a field: set it in _sample_c's inline loop too


_EMPTY = CpuSet()


@dataclass(slots=True)
class _TaskTrack:
    fd: int  # open /proc/PID/task/TID/stat, re-read with pread: saves the path walk of open() every sample
    ticks: int = 0
    cpu: int | None = None
    migrations: int = 0
    raw_allowed: set[int] | frozenset[int] = frozenset()  # what sched_getaffinity returned last
    allowed: CpuSet = _EMPTY
    seen_bits: int = 0  # CPUs seen running on since its allowed set last changed, as a mask ...
    seen: CpuSet = _EMPTY  # ... and as the CpuSet handed out (rebuilt only when the mask grows)
    new: bool = True
    raw_comm: bytes = b""
    comm: str = ""
    pct: float = 0.0  # CPU% of the current sample
    # (read time, ticks) readings: the first is the newest one at least CPU_WINDOW older than the last (see there)
    hist: deque = field(default_factory=deque)


@dataclass(slots=True)
class _ProcTrack:
    dir_fd: int = -1  # open /proc/PID/task: its link count is 2 + the number of threads (proc_task_getattr)
    tids: list[int] = field(default_factory=list)  # /proc/PID/task as last listed, sorted
    tasks: dict[int, _TaskTrack] = field(default_factory=dict)
    out_key: tuple | None = None  # (affinity reports, kernel thread lines) the identification was made from
    ident: dict[int, tuple[int, CpuSet | None, int | None]] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)  # tids read in the last sample, in display order
    tbl: _Table | None = None  # compiled path: the threads' state lives there (``tasks`` is then its tid -> slot)
    order_slots: list[int] = field(default_factory=list)  # compiled path: ``order`` as slots
    prep_changed: bool = False  # compiled path: a listed thread could not be opened before ps_sample
    scanned: int = -2  # compiled path: ps_sample's result for this worker in the current sample
    listed: bool = False  # compiled path: the task directory was listed in this sample before ps_sample
    rates_src: tuple | None = None  # the rate reports rates_all was made from
    rates_all: dict[int, float] = field(default_factory=dict)
    rates_span: tuple[float, float] = (0.0, 0.0)  # (oldest, newest) report time


_TICK_PCT = 100.0 / CLK_TCK


def _account(tr: _TaskTrack, data: bytes, raw: set[int], now: float) -> int:
    """Account one reading of a thread: ``data`` read from its stat file, ``raw`` its allowed set now, ``now`` the
    monotonic time of the reading. -1: unparsable (forget the thread); 1: new thread or allowed set changed
    (identification to redo); 0: nothing of that kind. The pure-Python twin of ``ps_step`` in procscan.c."""
    # _parse_stat inlined (once per thread and sample on this path): same rules, see there
    open_ = data.find(b"(")
    close = data.rfind(b")")
    if open_ < 0 or close < open_ or close - open_ - 1 > COMM_MAX:
        return -1
    rest = data[close + 1 :].split(None, 37)
    if len(rest) < 13:
        return -1
    u, s = rest[11], rest[12]
    if not (u.isdigit() and s.isdigit() and len(u) <= 18 and len(s) <= 18):
        return -1
    ticks = int(u) + int(s)
    if len(rest) > 36:
        p = rest[36]
        if not (p.isdigit() and len(p) <= 18):
            return -1
        cpu = int(p)
    else:
        cpu = None
    comm = data[open_ + 1 : close]
    changed = 0
    if comm != tr.raw_comm:
        tr.raw_comm, tr.comm = comm, comm.decode("utf-8", "replace")
    if raw != tr.raw_allowed:  # rebound (e.g. LLVM binds the primary at the first region): restart `seen`
        tr.raw_allowed, tr.allowed = raw, CpuSet(raw)
        tr.seen_bits = 0 if cpu is None else 1 << cpu
        tr.seen = CpuSet.from_mask(tr.seen_bits)
        changed = 1
    elif cpu is not None and not (tr.seen_bits >> cpu) & 1:
        tr.seen_bits |= 1 << cpu
        tr.seen = CpuSet.from_mask(tr.seen_bits)
    hist = tr.hist
    hist.append((now, ticks))
    if tr.new:
        tr.new = False
        tr.pct = 0.0
        changed = 1
    else:
        while len(hist) > 2 and now - hist[1][0] >= CPU_WINDOW:
            hist.popleft()
        t0, k0 = hist[0]
        span = now - t0
        tr.pct = 0.0 if span <= 0 else min(100.0, max(0.0, (ticks - k0) * _TICK_PCT / span))
        if cpu is not None and tr.cpu is not None and cpu != tr.cpu:
            tr.migrations += 1
    tr.ticks, tr.cpu = ticks, cpu
    return changed


FD_CACHE_MAX = 512  # beyond this many watched threads, open/read/close per sample (stay far from RLIMIT_NOFILE)


class Sampler:
    """Samples a fixed list of workers every ``interval`` seconds in a background thread.

    ``on_sample(sample)`` is called from the sampler thread; a UI posts it to its own thread. The next sample starts
    ``interval`` after the previous one *started*, or right after it finished when sampling took longer: never two
    at once."""

    def __init__(
        self,
        procs: Sequence[WorkerProcess],
        interval: float = 0.5,
        on_sample: Callable[[Sample], None] | None = None,
        rate_max_age: float | None = None,
        native: bool | None = None,
    ) -> None:
        """``native``: None (default) reads threads with the compiled loop (procscan.c) when it can be built and
        loaded, else in pure Python — both give the same samples, the compiled one at a fraction of the CPU;
        False forces pure Python; True requires the compiled loop (RuntimeError without it)."""
        if interval <= 0:
            raise ValueError("interval must be positive")
        nat = _native() if native is not False else None
        if native and nat is None:
            raise RuntimeError("the compiled sampler loop (procscan.c) is not available")
        self._nat = nat
        self.native = nat is not None
        self.procs = list(procs)
        # compiled path: per worker, whether status() may be skipped while the scan counts >= 2 threads (see
        # WorkerProcess.exit_needs_single_task), and its exit status once known (final for those workers)
        self._quick = [getattr(p, "exit_needs_single_task", False) is True for p in self.procs]
        self._ended: list[ExitStatus | None] = [None] * len(self.procs)
        self.interval = interval
        self.on_sample = on_sample
        # A rate report older than this is stale (thread stopped reporting): 4 kernel intervals or 2 samples.
        self.rate_max_age = rate_max_age if rate_max_age is not None else max(1.0, 2 * interval)
        self._procs: dict[int, _ProcTrack] = {}
        self._nfds = 0  # open per-thread stat fds, over all workers
        # per pid: (affinity reports, kernel lines) -> (team size, omp_reports), recomputed when the output changed
        self._out_cache: dict[int, tuple[tuple, int | None, tuple[tuple[int, CpuSet], ...]]] = {}
        self._seq = 0
        self._t0 = time.monotonic()
        # Held until stop(): the loop waits by acquiring it with a timeout — one futex wait per interval, where
        # Event.wait() also builds and queues a waiter lock under a Condition (~25 us more per wake-up here).
        self._stop_lock = threading.Lock()
        self._stop_lock.acquire()
        self._stopping = False
        self._stopping_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one sample at a time, whoever asks (thread or final sample at stop)
        try:
            self._stat_fd: int | None = os.open("/proc/stat", os.O_RDONLY)
        except OSError:
            self._stat_fd = None
        self._cpu_times = _CpuTimes(nat) if nat is not None and self._stat_fd is not None else None
        self._batch_state: _Batch | None = None  # compiled path: ps_sample's arguments
        # /proc/stat readings (time, per-CPU ticks); per-CPU utilisation spans CPU_WINDOW s or more, as per thread
        self._cpu_hist: deque = deque([(time.monotonic(), self._read_cpu_times())])

    def _read_cpu_times(self) -> dict[int, tuple[int, int]]:
        if self._cpu_times is not None:
            return self._cpu_times.read(self._stat_fd)
        return read_cpu_times(self._stat_fd)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="ompviz-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread; :meth:`sample_once` still works (final samples) until :meth:`close`."""
        with self._stopping_lock:  # release once, whoever calls
            if not self._stopping:
                self._stopping = True
                self._stop_lock.release()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def _loop(self) -> None:
        mono, interval, stop, lock, sample = time.monotonic, self.interval, self._stop_lock, self._lock, self._sample
        next_at = mono() + interval
        while not stop.acquire(timeout=max(0.0, next_at - mono())):
            started = mono()
            with lock:  # sample_once inlined
                s = sample()
            if self.on_sample is not None:
                self.on_sample(s)
            now = mono()
            next_at = started + interval if started + interval > now else now

    def sample_once(self) -> Sample:
        with self._lock:
            return self._sample()

    def close(self) -> None:
        """Close the cached /proc file descriptors (stop() does it)."""
        with self._lock:
            for pid in list(self._procs):
                self._forget_proc(pid)
            if self._stat_fd is not None:
                try:
                    os.close(self._stat_fd)
                except OSError:
                    pass
                self._stat_fd = None

    def _forget(self, pt: _ProcTrack, tid: int) -> None:
        if pt.tbl is not None:
            if tid in pt.tbl.slot:
                fd = pt.tbl.remove(tid)
                if fd >= 0:
                    self._nfds -= 1
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            return
        tr = pt.tasks.pop(tid, None)
        if tr is not None and tr.fd >= 0:
            self._nfds -= 1
            try:
                os.close(tr.fd)
            except OSError:
                pass

    def _forget_proc(self, pid: int) -> None:
        pt = self._procs.pop(pid, None)
        if pt is not None:
            for tid in list(pt.tasks):
                self._forget(pt, tid)
            if pt.tbl is not None:
                pt.tbl.close()
            if pt.dir_fd >= 0:
                try:
                    os.close(pt.dir_fd)
                except OSError:
                    pass

    def _relist(self, pid: int, pt: _ProcTrack) -> list[int]:
        """List /proc/PID/task again, forget the threads that left; returns the tids not listed before."""
        try:
            tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
        except OSError:  # the process is gone (or going): no threads this time
            tids = []
        known = set(pt.tids)
        listed = set(tids)
        for tid in [t for t in pt.tasks if t not in listed]:
            self._forget(pt, tid)
        pt.tids = tids
        return [t for t in tids if t not in known]

    def _thread_count(self, pid: int, pt: _ProcTrack) -> int | None:
        """Threads of ``pid`` now, from one fstat of its open task directory (None: unknown)."""
        try:
            if pt.dir_fd < 0:
                pt.dir_fd = os.open(f"/proc/{pid}/task", os.O_RDONLY | os.O_DIRECTORY)
            return os.fstat(pt.dir_fd).st_nlink - 2
        except OSError:
            return None

    def _read_threads(self, pid: int, pt: _ProcTrack, scanned: int | None = None, listed: bool = False) -> bool:
        """Read every thread's stat and allowed set into its track (the tids read go to ``pt.order`` when something
        changed). Returns whether the set of threads or any allowed set changed (identification to redo).
        ``scanned``: ps_sample's result for this worker when the compiled path already counted and read them;
        ``listed``: the compiled path listed the task directory in this sample just before (a new worker).

        The task directory is listed again only when its thread count changed or a thread could not be read:
        equal count and every known thread still there means no thread came either. A thread that appears after
        the count is taken is found in the next sample, as it would be if it appeared after a listing."""
        changed = False
        relisted = False
        if scanned is None:  # count here, then read
            if self._thread_count(pid, pt) != len(pt.tids) or not pt.tids:
                self._relist(pid, pt)
                changed = relisted = True
        elif scanned == -2:  # ps_sample found another count (or none): it read nothing
            self._relist(pid, pt)
            changed = relisted = True
        got: list[int] = []
        if scanned is None or relisted:
            first = self._read_list(pid, pt, pt.tids, got)
        else:  # ps_sample read them after finding the count unchanged, as above
            first = self._collect_c(pt, pt.tbl, scanned, got) or pt.prep_changed
        if first:
            changed = True
            # one left: another may have come in its place, list now as a listing would have (not when the listing
            # was made in this sample, just before the reading)
            if not (relisted or listed):
                self._read_list(pid, pt, self._relist(pid, pt), got)
                got = [t for t in got if t in pt.tasks]  # read, then gone before the listing: dropped with it
        if changed:
            pt.order = got  # display order is redone by the caller
        return changed

    def _read_list(self, pid: int, pt: _ProcTrack, tids: list[int], got: list[int]) -> bool:
        """Read the threads ``tids``, append those read to ``got``; True when a thread was new, gone or rebound."""
        if pt.tbl is not None:
            return self._read_list_c(pid, pt, pt.tbl, tids, got)
        changed = False
        tasks = pt.tasks
        pread, getaffinity, mono = os.pread, os.sched_getaffinity, time.monotonic
        for tid in tids:
            tr = tasks.get(tid)
            try:
                if tr is None:
                    fd = os.open(f"/proc/{pid}/task/{tid}/stat", os.O_RDONLY)
                    try:
                        data = pread(fd, 4096, 0)
                    except OSError:
                        os.close(fd)
                        raise
                    if self._nfds >= FD_CACHE_MAX:
                        os.close(fd)
                        fd = -1
                    else:
                        self._nfds += 1
                    tr = tasks[tid] = _TaskTrack(fd)
                elif tr.fd >= 0:
                    data = pread(tr.fd, 4096, 0)
                else:
                    fd = os.open(f"/proc/{pid}/task/{tid}/stat", os.O_RDONLY)
                    try:
                        data = os.read(fd, 4096)
                    finally:
                        os.close(fd)
                raw = getaffinity(tid)
            except OSError:  # ENOENT/ESRCH: the thread ended between listing and reading — normal
                if tr is not None:
                    self._forget(pt, tid)
                changed = True
                continue
            r = _account(tr, data, raw, mono())
            if r < 0:  # unparsable: an ended thread's open fd reads empty
                self._forget(pt, tid)
                changed = True
                continue
            if r:
                changed = True
            got.append(tid)
        return changed

    def _read_list_c(self, pid: int, pt: _ProcTrack, tb: _Table, tids: list[int], got: list[int]) -> bool:
        """:meth:`_read_list` through procscan.c: the same reads and accounting, one C call for all threads."""
        changed = self._prep_c(pid, tb, tids)
        busy = self._nat.lib.ps_scan(tb.h, tb.scan_arr, len(tb.scan_slots))
        return self._collect_c(pt, tb, busy, got) or changed

    def _prep_c(self, pid: int, tb: _Table, tids: list[int]) -> bool:
        """Make ``tb.scan_arr`` hold the slots of ``tids`` (taking slots for new ones); True when one of them could
        not be opened (it ended between listing and reading: as a failed read in :meth:`_read_list`)."""
        if tb.scan_for[0] is tids and tb.scan_for[1] == tb.version:
            return False  # reused while the list and the slots stay the same
        changed = False
        slots, stids = [], []
        for tid in tids:
            sl = tb.slot.get(tid)
            if sl is None:  # new: keep its stat file open, up to FD_CACHE_MAX over all workers
                fd = -1
                if self._nfds < FD_CACHE_MAX:
                    try:
                        fd = os.open(f"/proc/{pid}/task/{tid}/stat", os.O_RDONLY)
                    except OSError:  # ended between listing and reading — normal
                        changed = True
                        continue
                    self._nfds += 1
                sl = tb.add(tid, fd)
            slots.append(sl)
            stids.append(tid)
        tb.scan_arr[: len(slots)] = slots
        tb.scan_slots, tb.scan_tids = slots, stids
        tb.scan_for = (None, -1) if changed else (tids, tb.version)  # a tid that could not be opened: try again
        return changed

    def _collect_c(self, pt: _ProcTrack, tb: _Table, busy: int, got: list[int]) -> bool:
        """Take in the codes of a scan of ``tb.scan_slots`` that left ``busy`` of them non-zero."""
        if busy < 0:
            raise MemoryError("procscan table")
        slots, stids = tb.scan_slots, tb.scan_tids
        if busy == 0:  # every thread read, nothing new, rebound or gone
            got.extend(stids)
            return False
        changed = False
        codes = tb.out_code[: tb.cap]
        apply = tb.apply
        for sl, tid in zip(slots, stids, strict=True):
            c = codes[sl]
            if c:
                r = apply(sl, c)
                if r < 0:
                    self._forget(pt, tid)
                    changed = True
                    continue
                if r:
                    changed = True
            got.append(tid)
        return changed

    def _fresh_rates(self, pt: _ProcTrack, rates: tuple, now: float) -> dict[int, float]:
        """OpenMP thread -> iterations/s of the reports not older than ``rate_max_age``. The dict of all of them is
        kept while the snapshot hands out the same reports: when the oldest is fresh, all are; when the newest is
        stale, none is (a fixed ``now`` minus a later time is never larger)."""
        if rates is not pt.rates_src:
            pt.rates_src = rates
            d: dict[int, float] = {}
            lo = hi = None
            for r in rates:  # one pass (a new report comes at every kernel interval)
                d[r.thread] = r.ips
                t = r.time
                if lo is None:
                    lo = hi = t
                elif t < lo:
                    lo = t
                elif t > hi:
                    hi = t
            pt.rates_all = d
            pt.rates_span = (0.0, 0.0) if lo is None else (lo, hi)
        max_age = self.rate_max_age
        oldest, newest = pt.rates_span
        if now - oldest <= max_age:
            return pt.rates_all
        if now - newest > max_age:
            return {}
        return {r.thread: r.ips for r in rates if now - r.time <= max_age}

    def _track(self, pid: int) -> _ProcTrack:
        pt = self._procs.get(pid)
        if pt is None:
            pt = self._procs[pid] = _ProcTrack()
            if self._nat is not None:
                pt.tbl = _Table(self._nat, pid)
                pt.tasks = pt.tbl.slot  # membership (tid -> slot) for the listing logic shared with Python
        return pt

    def _threads(self, p: WorkerProcess, out: OutputSnapshot, now: float) -> tuple[ThreadSample, ...]:
        """The pure-Python path's threads of one worker (the compiled path's are built in :meth:`_sample_c`)."""
        pt = self._track(p.pid)
        changed = self._read_threads(p.pid, pt)
        tasks = pt.tasks
        key = (out.affinity, out.kernel_threads)  # == compares element identity first: cheap when unchanged
        if changed or pt.out_key != key:
            pt.out_key = key
            ident = pt.ident = map_omp_threads(p.pid, out, {t: tasks[t].allowed for t in pt.order})
            pt.order.sort(key=lambda t: (t not in ident, ident[t][0] if t in ident else 0, t))
        ident = pt.ident
        rates = self._fresh_rates(pt, out.rates, now)
        res = []
        for tid in pt.order:
            tr = tasks[tid]
            omp = ident.get(tid)
            if omp is None:
                ts = _thread_sample(
                    tid, tr.comm, None, tr.cpu, tr.pct, tr.allowed, tr.migrations, tr.seen, None, None, None
                )
            else:
                th = omp[0]
                ts = _thread_sample(
                    tid, tr.comm, th, tr.cpu, tr.pct, tr.allowed, tr.migrations, tr.seen, omp[1], omp[2], rates.get(th)
                )
            res.append(ts)
        return tuple(res)

    def _sample_c(self) -> Sample:
        """:meth:`_sample` on the compiled path, with the common case inline (every Python call and object touched
        per sample costs cache misses: the busy workers evict the sampler's caches between samples).

        A worker whose status() may be skipped (``_quick``) is scanned without asking it first; it is asked only
        when the scan did not just count two or more threads in its task directory (a zombie's holds one)."""
        now = time.monotonic()
        procs = self.procs
        ended, quick, tracks = self._ended, self._quick, self._procs
        sts: list[ExitStatus | None] = []
        pts: list[_ProcTrack] = []
        for i, p in enumerate(procs):
            st = ended[i]
            if st is None and not quick[i]:
                st = p.status()
            sts.append(st)
            if st is None:  # what ps_sample needs: the task directory open, the slots to read
                pt = tracks.get(p.pid) or self._track(p.pid)
                if pt.dir_fd < 0:
                    try:
                        pt.dir_fd = os.open(f"/proc/{p.pid}/task", os.O_RDONLY | os.O_DIRECTORY)
                    except OSError:  # gone: ps_sample asks for a listing, which finds no threads
                        pass
                tb, tids = pt.tbl, pt.tids
                # no listing yet (a new worker), or none found last time: list now, for ps_sample to count and read
                # them at once (rather than asking for a listing, reading in a second call, rebuilding its arguments)
                pt.listed = not tids
                if pt.listed:
                    self._relist(p.pid, pt)
                    tids = pt.tids
                if not tids or (tb.scan_for[0] is tids and tb.scan_for[1] == tb.version):
                    pt.prep_changed = False  # _prep_c's reuse check inlined
                else:
                    pt.prep_changed = self._prep_c(p.pid, tb, tids)
                pts.append(pt)
        # what ps_sample's arguments depend on: slots taken/freed (version), a new listing, the directory fd
        key = tuple([(pt.tbl.version, pt.tids, pt.dir_fd) for pt in pts])
        b = self._batch_state
        if b is None or b.key != key:
            b = self._batch_state = _Batch(key, self._nat, pts, self._stat_fd, self._cpu_times)
        self._nat.lib.ps_sample(b.ref)
        for pt, r in zip(pts, b.result, strict=False):  # result has room for at least one
            pt.scanned = r
        times = b.times() if b.statfd >= 0 else self._read_cpu_times()

        workers = []
        alive: set[int] = set()
        max_age = self.rate_max_age
        out_cache = self._out_cache
        k = 0
        for i, p in enumerate(procs):
            st = sts[i]
            pid = p.pid
            # affinity / kernel lines current in `out` (its rates may be older); the latest rate report in `rep`
            out, rep = p.output.sampler_view()
            threads: tuple[ThreadSample, ...] = ()
            ips: list[float] = []
            if st is None:
                pt = pts[k]
                k += 1
                r = pt.scanned
                if quick[i] and (r < 0 or len(pt.tids) < 2):  # the scan did not see it running: ask
                    st = ended[i] = p.status()
            if st is None:
                alive.add(pid)
                tb = pt.tbl
                # _read_threads' common case inline: every listed thread read, nothing new, rebound or gone
                changed = False if r == 0 and not pt.prep_changed else self._read_threads(pid, pt, r, pt.listed)
                # OpenMP identification and display order, redone only when threads or the runtime's reports changed
                okey = (out.affinity, out.kernel_threads)
                if changed or pt.out_key != okey:
                    pt.out_key = okey
                    slot, allowed = tb.slot, tb.allowed
                    ident = pt.ident = map_omp_threads(pid, out, {t: allowed[slot[t]] for t in pt.order})
                    pt.order.sort(key=lambda t: (t not in ident, ident[t][0] if t in ident else 0, t))
                    pt.order_slots = [slot[t] for t in pt.order]
                ident = pt.ident
                # _fresh_rates on the report itself: its Rate objects would be (thread i, rep[0][i], rep[1]), one
                # time for all, so they are all fresh or all stale
                if rep is not pt.rates_src:
                    pt.rates_src = rep
                    pt.rates_all = dict(enumerate(rep[0]))
                    pt.rates_span = (rep[1], rep[1]) if rep[0] else (0.0, 0.0)
                rates = pt.rates_all if now - pt.rates_span[0] <= max_age else {}
                cap = tb.cap
                cpus, pcts, migs = tb.out_cpu[:cap], tb.out_pct[:cap], tb.out_mig[:cap]
                tids, comm, allowed, seen = tb.tid, tb.comm, tb.allowed, tb.seen
                res = []
                append = res.append
                new = _new
                for sl in pt.order_slots:  # _thread_sample inlined, the slots set as there
                    tid = tids[sl]
                    cpu = cpus[sl]
                    omp = ident.get(tid)
                    o = new(ThreadSample)
                    _ts_tid(o, tid)
                    _ts_name(o, comm[sl])
                    _ts_cpu(o, None if cpu < 0 else cpu)
                    _ts_pct(o, pcts[sl])
                    _ts_allowed(o, allowed[sl])
                    _ts_mig(o, migs[sl])
                    _ts_seen(o, seen[sl])
                    if omp is None:
                        _ts_omp(o, None)
                        _ts_rep(o, None)
                        _ts_place(o, None)
                        _ts_ips(o, None)
                    else:
                        th = omp[0]
                        _ts_omp(o, th)
                        _ts_rep(o, omp[1])
                        _ts_place(o, omp[2])
                        v = rates.get(th)
                        _ts_ips(o, v)
                        if v is not None:
                            ips.append(v)  # in thread order, as [t.ips for t in threads if ...] in _sample
                    append(o)
                threads = tuple(res)
            else:
                okey = (out.affinity, out.kernel_threads)
            cached = out_cache.get(pid)
            if cached is None or cached[0] != okey:
                cached = out_cache[pid] = (okey, _team_size(out), _omp_reports(pid, out))
            workers.append(
                _worker_sample(
                    p.rank,
                    pid,
                    st is None,
                    None if st is None else st.code,
                    None if st is None else st.signal,
                    st is not None and p.stopped_by_ompviz,
                    sum(ips) if ips else None,
                    cached[1],
                    threads,
                    cached[2],
                )
            )
        return self._finish(now, workers, alive, times)

    def _finish(self, now: float, workers: list[WorkerSample], alive: set[int], times: dict) -> Sample:
        """Both paths' end of a sample: forget the workers that exited, per-CPU utilisation over CPU_WINDOW s or
        more of /proc/stat readings, the Sample."""
        tracks = self._procs
        if len(tracks) != len(alive):
            for gone in [q for q in tracks if q not in alive]:  # exited: close its threads' fds
                self._forget_proc(gone)
        hist = self._cpu_hist
        hist.append((time.monotonic(), times))
        while len(hist) > 2 and hist[-1][0] - hist[1][0] >= CPU_WINDOW:
            hist.popleft()
        seq = self._seq
        self._seq = seq + 1
        return _sample_obj(seq, now - self._t0, tuple(workers), cpu_util(hist[0][1], times))

    def _sample(self) -> Sample:
        if self._nat is not None:
            return self._sample_c()
        now = time.monotonic()
        workers = []
        alive: set[int] = set()
        procs = self.procs
        sts = [p.status() for p in procs]
        for p, st in zip(procs, sts, strict=True):
            out = p.output.snapshot()
            threads: tuple[ThreadSample, ...] = ()
            if st is None:
                alive.add(p.pid)
                threads = self._threads(p, out, now)
            ips = [t.ips for t in threads if t.ips is not None]
            key = (out.affinity, out.kernel_threads)
            cached = self._out_cache.get(p.pid)
            if cached is None or cached[0] != key:
                cached = self._out_cache[p.pid] = (key, _team_size(out), _omp_reports(p.pid, out))
            workers.append(
                WorkerSample(
                    rank=p.rank,
                    pid=p.pid,
                    alive=st is None,
                    exit_code=None if st is None else st.code,
                    exit_signal=None if st is None else st.signal,
                    stopped=st is not None and p.stopped_by_ompviz,
                    throughput=sum(ips) if ips else None,
                    team_size=cached[1],
                    threads=threads,
                    omp_reports=cached[2],
                )
            )
        return self._finish(now, workers, alive, self._read_cpu_times())


def _omp_reports(pid: int, out: OutputSnapshot) -> tuple[tuple[int, CpuSet], ...]:
    latest: dict[int, CpuSet] = {}
    for r in out.affinity:
        if r.pid == pid and r.level <= 1 and r.affinity is not None:
            latest[r.thread] = r.affinity
    return tuple(sorted(latest.items()))


def _team_size(out: OutputSnapshot) -> int | None:
    for kt in out.kernel_threads:
        if kt.team:
            return kt.team
    teams = [r.team for r in out.affinity if r.level <= 1 and r.team]
    return teams[-1] if teams else None
