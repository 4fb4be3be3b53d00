"""Start and stop the worker processes of a plan (no Textual, no printing).

How a worker is started, and why:
- Its environment is complete *before* exec: the plan's OMP_PLACES / OMP_PROC_BIND / OMP_NUM_THREADS,
  OMP_DISPLAY_AFFINITY=true with :data:`AFFINITY_FORMAT` (the runtime reports each thread's binding on stderr),
  OMPVIZ_RANK, OMPVIZ_WORLD_SIZE, OMPVIZ_RUN_ID. ompviz never calls sched_setaffinity on an OpenMP thread: binding
  is the runtime's job, ompviz only watches (pinning threads behind the runtime's back is what hung vLLM).
- Its own session and process group (``start_new_session``, done in C by ``_posixsubprocess``), so a Ctrl-C in the
  terminal reaches ompviz only and ompviz stops every worker's whole group in order.
- It dies with ompviz even on SIGKILL: PR_SET_PDEATHSIG=SIGKILL is set in the child before exec. We do that in a
  tiny ``python -I -S -c`` trampoline that then execs the real program, rather than with ``preexec_fn``: preexec_fn
  runs Python in a forked copy of a multi-threaded process (reader threads, the sampler, the TUI) and can deadlock
  on a lock another thread held at fork time; the trampoline is a fresh single-threaded interpreter. It costs one
  interpreter start (~20 ms) per worker. The trampoline checks getppid() after prctl so a parent that died in
  between is not missed. Note PDEATHSIG fires when the *thread* that forked the child exits: spawn from a thread
  that outlives the workers (the main thread).
- It starts with ompviz's original allowed CPU set, reset in the trampoline: ompviz may have moved itself onto the
  plan's reserved CPUs, and a runtime silently drops places outside its initial affinity.
- ``--runtime-lib llvm|intel``: LD_PRELOAD the runtime and put a directory holding ``libgomp.so.1`` -> that runtime
  first on LD_LIBRARY_PATH. Without the second part a gcc-built program still loads the real libgomp, whose
  constructor binds the initial thread to the first place before LLVM libomp starts (LLVM then sees a one-CPU
  process and drops every other place: "OMP: Warning #124: Ignoring invalid OS proc ID"). These two variables are
  set by the trampoline just before exec so the trampoline's own interpreter does not load the runtime.

Output: a reader thread per pipe drains stdout and stderr continuously (a worker never blocks on a full pipe) and
parses the kernel's ``ompviz-thread`` / ``ompviz-rates`` lines and the runtime's ``ompviz-affinity`` lines into a
lock-protected :class:`OutputState`; other lines are kept in a short ring buffer.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import signal
import site
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat

from ompviz.cpuset import CpuSet, parse_list
from ompviz.errors import OmpvizError
from ompviz.plan.model import Worker
from ompviz.records import maker

AFFINITY_PREFIX = "ompviz-affinity"
AFFINITY_FORMAT = f"{AFFINITY_PREFIX} pid=%P tid=%i thread=%n team=%N level=%L aff={{%A}}"
"""libgomp prints ``%i`` as the pthread_t in hex (0x7f..), LLVM/Intel libomp as the native tid; ``%A`` is a CPU
list (``0-1`` or ``0,1``). Both print the lines on stderr when a thread's affinity is first displayed."""

RUNTIME_LIBS = ("gnu", "llvm", "intel")

_TRAMPOLINE = """
import ctypes, os, sys
ppid, cpus, nenv = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
env, argv = sys.argv[4:4 + nenv], sys.argv[4 + nenv:]
if ctypes.CDLL(None, use_errno=True).prctl(1, 9, 0, 0, 0) != 0:
    sys.stderr.write("ompviz-exec-error: prctl(PR_SET_PDEATHSIG) failed\\n"); os._exit(126)
if os.getppid() != ppid:
    os._exit(137)
if cpus:
    try:
        os.sched_setaffinity(0, [int(c) for c in cpus.split(",")])
    except OSError as e:
        sys.stderr.write("ompviz-exec-error: sched_setaffinity: %s\\n" % e.strerror)
for kv in env:
    k, _, v = kv.partition("=")
    os.environ[k] = v
try:
    os.execvp(argv[0], argv)
except OSError as e:
    sys.stderr.write("ompviz-exec-error: %s: %s\\n" % (argv[0], e.strerror)); os._exit(127)
"""


# -- runtime libraries --------------------------------------------------------------------------------------------
def _site_dirs() -> list[str]:
    dirs: list[str] = []
    try:
        dirs += site.getsitepackages()
    except AttributeError:  # some virtualenv builds lack it
        pass
    try:
        dirs.append(site.getusersitepackages())
    except AttributeError:
        pass
    dirs += [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    return list(dict.fromkeys(d for d in dirs if d))


def find_runtime_lib(kind: str) -> str | None:
    """Path of the OpenMP runtime to preload for ``kind`` (llvm, intel), or None when not found.

    llvm: $OMPVIZ_LIBOMP, else the cmeel-libomp wheel (site-packages/cmeel.prefix/lib/libomp.so*).
    intel: $OMPVIZ_LIBIOMP5, else the intel-openmp wheel (it installs libiomp5.so into <prefix>/lib), else
    $CONDA_PREFIX/lib. The cmeel wheel's libiomp5.so is a copy of LLVM libomp, so it is deliberately not taken as
    Intel's runtime.
    """
    if kind == "llvm":
        env = os.environ.get("OMPVIZ_LIBOMP")
        if env:
            return env if os.path.isfile(env) else None
        for d in _site_dirs():
            hits = sorted(glob.glob(os.path.join(d, "cmeel.prefix", "lib", "libomp.so*")))
            if hits:
                return hits[0]
        return None
    if kind == "intel":
        env = os.environ.get("OMPVIZ_LIBIOMP5")
        if env:
            return env if os.path.isfile(env) else None
        prefixes = [sys.prefix, sys.base_prefix, os.environ.get("CONDA_PREFIX", "")]
        prefixes += [os.path.normpath(os.path.join(d, "..", "..", "..")) for d in _site_dirs()]
        for p in dict.fromkeys(x for x in prefixes if x):
            cand = os.path.join(p, "lib", "libiomp5.so")
            if os.path.isfile(cand) and "cmeel.prefix" not in os.path.realpath(cand).split(os.sep):
                return cand
        return None
    raise OmpvizError(f"unknown runtime library {kind!r}: use one of {', '.join(RUNTIME_LIBS)}")


def _shim_dir(lib: str) -> str:
    """A cached directory whose libgomp.so.1 is a symlink to ``lib`` (see the module docstring)."""
    from ompviz.live.build import cache_root

    real = os.path.realpath(lib)
    d = cache_root() / "runtime-shims" / hashlib.sha256(real.encode()).hexdigest()[:16]
    link = d / "libgomp.so.1"
    if os.path.realpath(link) == real:
        return str(d)
    try:
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f".libgomp.so.1.{os.getpid()}"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(real, tmp)
        os.replace(tmp, link)
    except OSError as e:
        raise OmpvizError(f"cannot prepare the runtime directory {d}: {e.strerror or e}") from None
    return str(d)


def runtime_env(kind: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """LD_PRELOAD / LD_LIBRARY_PATH that make a gcc-built program run on ``kind``; {} for gnu (the default)."""
    if kind == "gnu":
        return {}
    lib = find_runtime_lib(kind)
    if lib is None:
        if kind == "llvm":
            raise OmpvizError(
                "LLVM libomp not found: pip install cmeel-libomp, or set OMPVIZ_LIBOMP=/path/to/libomp.so"
            )
        raise OmpvizError(
            "Intel libiomp5 not found: pip install intel-openmp, or set OMPVIZ_LIBIOMP5=/path/to/libiomp5.so"
        )
    base = os.environ if base is None else base
    pre = base.get("LD_PRELOAD", "")
    lpath = base.get("LD_LIBRARY_PATH", "")
    shim = _shim_dir(lib)
    return {
        "LD_PRELOAD": f"{lib} {pre}".strip(),
        "LD_LIBRARY_PATH": f"{shim}:{lpath}" if lpath else shim,
    }


# -- environment ----------------------------------------------------------------------------------------------------
def worker_env(
    worker: Worker, *, world_size: int, run_id: str, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The full environment of one worker: ``base`` (default os.environ) + the plan's OMP variables + ompviz's."""
    env = dict(os.environ if base is None else base)
    # A stale setting from the user's shell must not mix with the plan: the plan speaks for all three.
    for k in ("OMP_PLACES", "OMP_PROC_BIND", "OMP_NUM_THREADS", "GOMP_CPU_AFFINITY", "KMP_AFFINITY"):
        env.pop(k, None)
    env.update(worker.env)
    env["OMP_DISPLAY_AFFINITY"] = "true"
    env["OMP_AFFINITY_FORMAT"] = AFFINITY_FORMAT
    env["OMPVIZ_RANK"] = str(worker.rank)
    env["OMPVIZ_WORLD_SIZE"] = str(world_size)
    env["OMPVIZ_RUN_ID"] = run_id
    return env


# -- parsed output -----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AffinityReport:
    """One OMP_DISPLAY_AFFINITY line."""

    pid: int
    tid: int | None  # native tid when the runtime prints one (LLVM/Intel); None for libgomp's pthread_t
    thread: int  # OpenMP thread number
    team: int
    level: int
    affinity: CpuSet | None


@dataclass(frozen=True, slots=True)
class KernelThread:
    """The built-in kernel's ``ompviz-thread`` line: exact tid <-> OpenMP thread mapping."""

    thread: int
    tid: int
    team: int
    place: int | None  # omp_get_place_num(), None when unbound (-1)


@dataclass(frozen=True, slots=True)
class Rate:
    thread: int  # OpenMP thread number
    ips: float
    time: float  # monotonic time of the report


@dataclass(frozen=True, slots=True)
class OutputSnapshot:
    affinity: tuple[AffinityReport, ...]
    kernel_threads: tuple[KernelThread, ...]
    rates: tuple[Rate, ...]  # latest per OpenMP thread
    tail: tuple[str, ...]  # last other lines (stdout and stderr interleaved as read)


_KV = re.compile(r"(\w+)=(\{[^}]*\}|\S+)")


def _fields(line: str) -> dict[str, str]:
    return {k: v for k, v in _KV.findall(line)}


def _int_or_none(s: str | None) -> int | None:
    if s is None:
        return None
    try:
        return int(s, 10)
    except ValueError:
        return None


def parse_affinity_line(line: str) -> AffinityReport | None:
    """Parse one ``ompviz-affinity`` line; None when it is something else or malformed."""
    if not line.startswith(AFFINITY_PREFIX):
        return None
    f = _fields(line)
    pid, thread = _int_or_none(f.get("pid")), _int_or_none(f.get("thread"))
    if pid is None or thread is None:
        return None
    aff = f.get("aff", "")
    try:
        affinity = parse_list(aff.strip("{}")) if aff.strip("{}") else None
    except OmpvizError:
        affinity = None
    return AffinityReport(
        pid=pid,
        tid=_int_or_none(f.get("tid")),
        thread=thread,
        team=_int_or_none(f.get("team")) or 0,
        level=_int_or_none(f.get("level")) or 1,
        affinity=affinity,
    )


_rate = maker(Rate)  # Rate(thread, ips, time) without the frozen __init__ (ompviz.records)
_snapshot = maker(OutputSnapshot)


def _rates(ips: Sequence[float], t: float) -> tuple[Rate, ...]:
    """Rate(i, v, t) for each thread: a report line carries one value per thread, several times a second."""
    return tuple(map(_rate, range(len(ips)), ips, repeat(t)))


_RATES_IPS = "ompviz-rates ips="


class OutputState:
    """What the reader threads learnt from a worker's output. Thread-safe; readers write, the sampler reads.

    :meth:`snapshot` returns the same :class:`OutputSnapshot` object until a line changes something (the sampler
    asks every interval; its comparisons then stop at identity), and builds a rate report's :class:`Rate` objects
    only when it is asked for them, not on the reader thread for every line."""

    def __init__(self, tail: int = 200) -> None:
        self._lock = threading.Lock()
        self._affinity: list[AffinityReport] = []
        self._kernel: dict[int, KernelThread] = {}
        self._ips: tuple[tuple[float, ...], float] = ((), 0.0)  # latest rate report: (ips per thread, time)
        self._tail: deque[str] = deque(maxlen=tail)
        self._snap: OutputSnapshot | None = None  # None: something changed since the last snapshot
        self._parts: tuple = ((), (), (), ())  # (affinity, kernel_threads, rates, tail) of the last snapshot
        self._kernel_fed = False  # a kernel line came since the last snapshot (kernel_threads to compare again)
        self._tail_fed = False  # a tail line came since the last snapshot
        self._ident_fed = False  # an affinity or kernel thread line came since the last snapshot
        self._last: OutputSnapshot | None = None  # the last snapshot built
        self._rates_of = self._ips  # the report those rates were built from

    def feed(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if line.startswith("ompviz-rates "):
            if line.startswith(_RATES_IPS) and " " not in line:  # the kernel's own line: ips is its only field
                vals = line[len(_RATES_IPS) :]
            else:
                vals = _fields(line).get("ips", "")
            try:
                ips = tuple(map(float, vals.split(","))) if vals else ()
            except ValueError:
                ips = ()
            if ips:
                t = time.monotonic()
                with self._lock:
                    self._ips = (ips, t)
                    self._snap = None
                return
        elif line.startswith("ompviz-thread "):
            f = _fields(line)
            th, tid = _int_or_none(f.get("thread")), _int_or_none(f.get("tid"))
            if th is not None and tid is not None:
                place = _int_or_none(f.get("place"))
                kt = KernelThread(
                    th, tid, _int_or_none(f.get("team")) or 0, None if place is None or place < 0 else place
                )
                with self._lock:
                    self._kernel[th] = kt
                    self._kernel_fed = self._ident_fed = True
                    self._snap = None
                return
        elif line.startswith("ompviz-done "):
            return
        elif line.startswith(AFFINITY_PREFIX):
            rep = parse_affinity_line(line)
            if rep is not None:
                with self._lock:
                    self._affinity.append(rep)
                    if len(self._affinity) > 4096:  # a program opening endless new teams: keep the recent ones
                        del self._affinity[:2048]
                    self._ident_fed = True
                    self._snap = None
                return
        with self._lock:
            self._tail.append(line)
            self._tail_fed = True
            self._snap = None

    def snapshot(self) -> OutputSnapshot:
        with self._lock:
            snap = self._snap
            if snap is not None:
                return snap
            return self._build()

    def sampler_view(self) -> tuple[OutputSnapshot, tuple[tuple[float, ...], float]]:
        """(a snapshot whose ``affinity`` and ``kernel_threads`` are current, (iterations/s per OpenMP thread of the
        latest rate report, its monotonic time)) — what the compiled sampler reads every interval. The snapshot is
        built only when an affinity or kernel line came since the last one (its rates and tail may be older): a
        rate report comes every kernel interval, and building its Rate objects and a snapshot each time for a
        reader that needs neither costs more than the rest of the worker's sample."""
        with self._lock:
            snap = self._snap
            if snap is None:
                snap = self._last
                if snap is None or self._ident_fed:
                    snap = self._build()
            return snap, self._ips

    def _build(self) -> OutputSnapshot:
        """A snapshot of the current state (the lock held)."""
        aff, kern, rates, tail = self._parts
        # keep the parts that did not change as the same tuples (equal content, same object)
        if len(aff) != len(self._affinity) or (aff and aff[-1] is not self._affinity[-1]):
            aff = tuple(self._affinity)
        if self._kernel_fed:
            self._kernel_fed = False
            if tuple(self._kernel.values()) != kern:
                kern = tuple(self._kernel.values())
        if self._rates_of is not self._ips:  # a new report since
            self._rates_of = self._ips
            rates = _rates(*self._ips)
        if self._tail_fed:
            self._tail_fed = False
            tail = tuple(self._tail)
        self._parts = (aff, kern, rates, tail)
        snap = self._snap = _snapshot(aff, kern, rates, tail)  # built at every rate report
        self._last = snap
        self._ident_fed = False
        return snap


def _drain(stream, state: OutputState) -> None:
    try:
        for raw in iter(stream.readline, b""):
            state.feed(raw.decode("utf-8", "replace"))
    except (OSError, ValueError):  # pipe closed under us at teardown
        pass
    finally:
        try:
            stream.close()
        except OSError:
            pass


# -- processes ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ExitStatus:
    code: int | None  # exit code when it exited
    signal: int | None  # signal number when a signal killed it

    @property
    def signal_name(self) -> str | None:
        if self.signal is None:
            return None
        try:
            return signal.Signals(self.signal).name
        except ValueError:
            return f"signal {self.signal}"

    def describe(self) -> str:
        return f"killed by {self.signal_name}" if self.signal is not None else f"exit {self.code}"


class WorkerProcess:
    """One running worker: its Popen, reader threads and parsed output."""

    # status() learns of an exit from waitid(), which reports a process only once its thread group is empty: its
    # /proc/PID/task then holds at most the zombie leader (one entry; none once reaped). So a caller that has just
    # counted two or more threads there knows status() would have said "running" at that moment, and may skip the
    # syscall for that sample (the sampler does; tests/live/test_live_status_shortcut.py).
    exit_needs_single_task = True

    def __init__(self, worker: Worker, popen: subprocess.Popen, output: OutputState, readers: list[threading.Thread]):
        self.worker = worker
        self.rank = worker.rank
        self.popen = popen
        self.pid = popen.pid
        self.output = output
        self._readers = readers
        self._status: ExitStatus | None = None
        self.stopped_by_ompviz = False

    def status(self) -> ExitStatus | None:
        """None while running. Peeks with WNOWAIT so the zombie keeps the process group id reserved until stop()
        has signalled the whole group; reaping happens in :func:`stop_workers`."""
        if self._status is not None:
            return self._status
        if self.popen.returncode is not None:
            rc = self.popen.returncode
            self._status = ExitStatus(None, -rc) if rc < 0 else ExitStatus(rc, None)
            return self._status
        try:
            r = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return self._status
        if r is None or r.si_pid == 0:
            return None
        if r.si_code == os.CLD_EXITED:
            self._status = ExitStatus(r.si_status, None)
        else:
            self._status = ExitStatus(None, r.si_status)
        return self._status

    def join_readers(self, timeout: float = 1.0) -> None:
        deadline = time.monotonic() + timeout
        for t in self._readers:
            t.join(max(0.0, deadline - time.monotonic()))


def spawn_worker(
    worker: Worker,
    argv: Sequence[str],
    env: Mapping[str, str],
    child_cpus: CpuSet | None,
    late_env: Mapping[str, str] | None = None,
) -> WorkerProcess:
    """Start one worker through the trampoline; ``late_env`` is set only just before exec (LD_PRELOAD & co)."""
    if not argv:
        raise OmpvizError("empty worker command: give a program after '--'")
    exe = argv[0]
    if os.sep not in exe and shutil.which(exe, path=env.get("PATH")) is None:
        raise OmpvizError(f"command not found: {exe} (not on PATH); give the full path after '--'")
    if os.sep in exe and not os.access(exe, os.X_OK):
        raise OmpvizError(f"{exe}: not an executable file")
    late = [f"{k}={v}" for k, v in (late_env or {}).items()]
    cpus = ",".join(map(str, child_cpus)) if child_cpus else ""
    cmd = [sys.executable, "-I", "-S", "-c", _TRAMPOLINE, str(os.getpid()), cpus, str(len(late)), *late, *argv]
    try:
        popen = subprocess.Popen(
            cmd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as e:
        raise OmpvizError(f"cannot start worker {worker.rank}: {e.strerror or e}") from None
    out = OutputState()
    readers = []
    for stream, name in ((popen.stdout, "out"), (popen.stderr, "err")):
        t = threading.Thread(target=_drain, args=(stream, out), name=f"ompviz-r{worker.rank}-{name}", daemon=True)
        t.start()
        readers.append(t)
    return WorkerProcess(worker, popen, out, readers)


def _group_has_live_members(pgids: set[int]) -> set[int]:
    """Process groups among ``pgids`` with a member that is not a zombie (scan of /proc/*/stat)."""
    live: set[int] = set()
    try:
        names = os.listdir("/proc")
    except OSError:
        return set(pgids)
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        rest = data[data.rfind(b")") + 2 :].split()
        if len(rest) < 3 or rest[0] == b"Z":
            continue
        pg = int(rest[2])
        if pg in pgids:
            live.add(pg)
    return live


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_workers(procs: Iterable[WorkerProcess], grace: float = 1.0) -> None:
    """SIGTERM every worker's process group, SIGKILL what is left after ``grace`` seconds, reap, join readers.

    Safe to call more than once and from a signal-triggered path."""
    procs = list(procs)
    pending = [p for p in procs if p.popen.returncode is None]
    for p in pending:
        if p.status() is None:
            p.stopped_by_ompviz = True
        _killpg(p.pid, signal.SIGTERM)  # an exited leader is still a zombie here: its group id is still ours
    groups = {p.pid for p in pending}
    deadline = time.monotonic() + grace
    while groups:
        if all(p.status() is not None for p in pending):
            groups = _group_has_live_members(groups)
            if not groups:
                break
        if time.monotonic() >= deadline:
            for g in _group_has_live_members(groups):
                _killpg(g, signal.SIGKILL)
            break
        time.sleep(0.02)
    for p in pending:
        try:
            p.popen.wait(timeout=max(grace, 1.0))
        except subprocess.TimeoutExpired:
            _killpg(p.pid, signal.SIGKILL)
            p.popen.wait()
        p.status()
    for p in procs:
        p.join_readers()


# -- ompviz's own placement -----------------------------------------------------------------------------------------
def own_affinity() -> CpuSet:
    return CpuSet(os.sched_getaffinity(0))


def move_self(cpus: CpuSet) -> None:
    """Put every thread of this process on ``cpus`` (Linux affinity is per thread; threads started later inherit
    the creating thread's set). Used for ompviz itself only, never for a worker."""
    targets = list(cpus)
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]
    for tid in tids:
        try:
            os.sched_setaffinity(tid, targets)
        except OSError:  # a thread that just ended, or a CPU that went away: not worth failing a run for
            pass
