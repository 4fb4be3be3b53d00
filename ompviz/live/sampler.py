"""Sample every thread of every worker from /proc, off the UI thread, into immutable snapshots.

Per thread and interval: the CPU it last ran on (/proc/PID/task/TID/stat field 39), CPU% from the utime+stime
delta (fields 14+15, clock ticks), its allowed set (sched_getaffinity(tid)), how often its CPU changed between
samples (migrations seen: a lower bound), its OpenMP thread number and the affinity its runtime reported
(OMP_DISPLAY_AFFINITY lines, the built-in kernel's own ``ompviz-thread`` lines) and its iterations/s when the
kernel reports them. Per machine: per-CPU utilisation from /proc/stat deltas (read directly rather than through
psutil, whose per-CPU list skips offline CPUs — index != CPU id — and whose cpu_percent keeps module-global state
that two samplers would share).

/proc races are normal here: a thread can vanish between listing and reading (ENOENT/ESRCH), a process can exit
mid-sample; such threads are just absent from that sample.

:class:`Sampler` runs in a background thread and schedules the next sample only after the previous one finished
(no overlap, as memray's and dolphie's live views do). :class:`Sample` and friends are frozen dataclasses with
``to_dict``/``from_dict`` so recorded runs replay deterministically (TUI tests).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ompviz.cpuset import CpuSet, parse_list
from ompviz.live.launcher import OutputSnapshot, WorkerProcess

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# -- snapshots ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ThreadSample:
    tid: int
    name: str  # comm
    omp_thread: int | None  # None: not (yet) identified as an OpenMP thread
    cpu: int | None  # CPU it last ran on
    cpu_percent: float  # of one CPU, over the last interval (0 on the first sample of a thread)
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
    return None if r is None else TaskStat(*r)


def _parse_stat(data: bytes) -> tuple[str, str, int, int | None] | None:
    open_ = data.find(b"(")
    close = data.rfind(b")")
    if open_ < 0 or close < open_:
        return None
    rest = data[close + 1 :].split()
    if len(rest) < 13:
        return None
    try:
        ticks = int(rest[11]) + int(rest[12])
        processor = int(rest[36]) if len(rest) > 36 else None
    except ValueError:
        return None
    return data[open_ + 1 : close].decode("utf-8", "replace"), rest[0].decode("ascii", "replace"), ticks, processor


def read_task(pid: int, tid: int) -> tuple[TaskStat, CpuSet] | None:
    """stat + allowed set of one thread; None when it vanished meanwhile."""
    try:
        fd = os.open(f"/proc/{pid}/task/{tid}/stat", os.O_RDONLY)
        try:
            data = os.read(fd, 4096)
        finally:
            os.close(fd)
        allowed = os.sched_getaffinity(tid)
    except OSError:  # ENOENT/ESRCH: it ended meanwhile; EACCES: changing credentials
        return None
    st = parse_task_stat(data)
    if st is None:
        return None
    return st, CpuSet(allowed)


def parse_proc_stat(text: str) -> dict[int, tuple[int, int]]:
    """/proc/stat -> {cpu id: (busy ticks, total ticks)}. total = user..steal (guest time is already inside user);
    idle and iowait are not busy."""
    out: dict[int, tuple[int, int]] = {}
    for line in text.splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        parts = line.split()
        try:
            cpu = int(parts[0][3:])
            v = [int(x) for x in parts[1:9]]
        except ValueError:
            continue
        v += [0] * (8 - len(v))
        total = sum(v)
        out[cpu] = (total - v[3] - v[4], total)
    return out


def read_cpu_times(fd: int | None = None) -> dict[int, tuple[int, int]]:
    """Per-CPU busy/total ticks now; ``fd``: an open /proc/stat to pread (cheaper than opening it each time)."""
    try:
        if fd is not None:
            chunks, off = [], 0
            while True:
                b = os.pread(fd, 65536, off)
                if not b:
                    break
                chunks.append(b)
                off += len(b)
            return parse_proc_stat(b"".join(chunks).decode("ascii", "replace"))
        with open("/proc/stat") as f:
            return parse_proc_stat(f.read())
    except OSError:
        return {}


def cpu_util(before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]) -> tuple[float | None, ...]:
    """Percent busy per CPU id between two /proc/stat readings; None for a CPU missing from either."""
    if not after:
        return ()
    out: list[float | None] = [None] * (max(after) + 1)
    for cpu, (busy, total) in after.items():
        b0, t0 = before.get(cpu, (None, None))
        if b0 is None or total - t0 <= 0:
            out[cpu] = 0.0 if b0 is not None else None
            continue
        out[cpu] = min(100.0, max(0.0, 100.0 * (busy - b0) / (total - t0)))
    return tuple(out)


def list_tasks(pid: int) -> list[int]:
    try:
        return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return []


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


# -- the sampler ----------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _TaskTrack:
    fd: int  # open /proc/PID/task/TID/stat, re-read with pread: saves the path walk of open() every sample
    ticks: int = 0
    cpu: int | None = None
    migrations: int = 0
    raw_allowed: frozenset = frozenset()  # what sched_getaffinity returned last, to reuse the CpuSet below
    allowed: CpuSet = field(default_factory=CpuSet)
    seen: CpuSet = field(default_factory=CpuSet)
    new: bool = True


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
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.procs = list(procs)
        self.interval = interval
        self.on_sample = on_sample
        # A rate report older than this is stale (thread stopped reporting): 4 kernel intervals or 2 samples.
        self.rate_max_age = rate_max_age if rate_max_age is not None else max(1.0, 2 * interval)
        self._tracks: dict[tuple[int, int], _TaskTrack] = {}
        self._last_time: float | None = None
        self._seq = 0
        self._t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one sample at a time, whoever asks (thread or final sample at stop)
        try:
            self._stat_fd: int | None = os.open("/proc/stat", os.O_RDONLY)
        except OSError:
            self._stat_fd = None
        self._cpu_times = read_cpu_times(self._stat_fd)  # the first sample diffs against this

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="ompviz-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread; :meth:`sample_once` still works (final samples) until :meth:`close`."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def _loop(self) -> None:
        next_at = time.monotonic() + self.interval
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            started = time.monotonic()
            s = self.sample_once()
            if self.on_sample is not None:
                self.on_sample(s)
            next_at = max(started + self.interval, time.monotonic())

    def sample_once(self) -> Sample:
        with self._lock:
            return self._sample()

    def close(self) -> None:
        """Close the cached /proc file descriptors (stop() does it)."""
        with self._lock:
            for key in list(self._tracks):
                self._forget(key)
            if self._stat_fd is not None:
                try:
                    os.close(self._stat_fd)
                except OSError:
                    pass
                self._stat_fd = None

    def _forget(self, key: tuple[int, int]) -> None:
        tr = self._tracks.pop(key, None)
        if tr is not None and tr.fd >= 0:
            try:
                os.close(tr.fd)
            except OSError:
                pass

    def _read(self, key: tuple[int, int]) -> tuple[_TaskTrack, str, int, int | None] | None:
        """Read one thread's stat and allowed set, updating its track; None (and forgotten) when it is gone."""
        pid, tid = key
        tr = self._tracks.get(key)
        try:
            if tr is None:
                fd = os.open(f"/proc/{pid}/task/{tid}/stat", os.O_RDONLY)
                if len(self._tracks) >= FD_CACHE_MAX:
                    try:
                        data = os.read(fd, 4096)
                    finally:
                        os.close(fd)
                    fd = -1
                else:
                    data = os.pread(fd, 4096, 0)
                tr = self._tracks[key] = _TaskTrack(fd)
            elif tr.fd >= 0:
                data = os.pread(tr.fd, 4096, 0)
            else:
                fd = os.open(f"/proc/{pid}/task/{tid}/stat", os.O_RDONLY)
                try:
                    data = os.read(fd, 4096)
                finally:
                    os.close(fd)
            raw = os.sched_getaffinity(tid)
        except OSError:  # ENOENT/ESRCH: the thread ended between listing and reading — normal
            if tr is not None:
                self._forget(key)
            return None
        parsed = _parse_stat(data) if data else None
        if parsed is None:
            self._forget(key)
            return None
        comm, _state, ticks, cpu = parsed
        if raw != tr.raw_allowed:  # rebound (e.g. LLVM binds the primary at the first region): restart `seen`
            tr.raw_allowed, tr.allowed = frozenset(raw), CpuSet(raw)
            tr.seen = CpuSet() if cpu is None else CpuSet.from_mask(1 << cpu)
        elif cpu is not None and cpu not in tr.seen:
            tr.seen = tr.seen | CpuSet.from_mask(1 << cpu)
        return tr, comm, ticks, cpu

    def _sample(self) -> Sample:
        now = time.monotonic()
        dt = None if self._last_time is None else now - self._last_time
        self._last_time = now
        workers = []
        live_keys: set[tuple[int, int]] = set()
        for p in self.procs:
            st = p.status()
            out = p.output.snapshot()
            threads: list[ThreadSample] = []
            if st is None:
                seen_now: dict[int, tuple[_TaskTrack, str, int, int | None]] = {}
                for tid in list_tasks(p.pid):
                    key = (p.pid, tid)
                    r = self._read(key)
                    if r is not None:
                        seen_now[tid] = r
                        live_keys.add(key)
                ident = map_omp_threads(p.pid, out, {t: r[0].allowed for t, r in seen_now.items()})
                rates = {r.thread: r.ips for r in out.rates if now - r.time <= self.rate_max_age}
                for tid, (tr, comm, ticks, cpu) in seen_now.items():
                    if tr.new:
                        tr.new = False
                        pct = 0.0
                    else:
                        pct = 0.0 if not dt else max(0.0, (ticks - tr.ticks) / CLK_TCK / dt * 100.0)
                        if cpu is not None and tr.cpu is not None and cpu != tr.cpu:
                            tr.migrations += 1
                    tr.ticks, tr.cpu = ticks, cpu
                    omp = ident.get(tid)
                    threads.append(
                        ThreadSample(
                            tid=tid,
                            name=comm,
                            omp_thread=None if omp is None else omp[0],
                            cpu=cpu,
                            cpu_percent=pct,
                            allowed=tr.allowed,
                            migrations=tr.migrations,
                            seen=tr.seen,
                            reported=None if omp is None else omp[1],
                            place=None if omp is None else omp[2],
                            ips=None if omp is None else rates.get(omp[0]),
                        )
                    )
                threads.sort(key=lambda t: (t.omp_thread is None, t.omp_thread or 0, t.tid))
            ips = [t.ips for t in threads if t.ips is not None]
            team = _team_size(out)
            workers.append(
                WorkerSample(
                    rank=p.rank,
                    pid=p.pid,
                    alive=st is None,
                    exit_code=None if st is None else st.code,
                    exit_signal=None if st is None else st.signal,
                    stopped=st is not None and p.stopped_by_ompviz,
                    throughput=sum(ips) if ips else None,
                    team_size=team,
                    threads=tuple(threads),
                    omp_reports=_omp_reports(p.pid, out),
                )
            )
        for key in [k for k in self._tracks if k not in live_keys]:
            self._forget(key)
        times = read_cpu_times(self._stat_fd)
        util = cpu_util(self._cpu_times, times)
        self._cpu_times = times
        s = Sample(seq=self._seq, time=now - self._t0, workers=tuple(workers), cpu_util=util)
        self._seq += 1
        return s


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
