"""Planner data: the request (what the user asked) and the plan (what every worker gets).

Shared by the planner, the exporters, the live launcher and the TUI. Immutable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass, field

from ompviz.cpuset import CpuSet
from ompviz.records import maker

STRATEGIES = ("compact", "spread", "numa", "l3", "distrib", "manual", "vllm")
SMT_POLICIES = ("all", "one", "one-last")
PLACES = ("threads", "cores", "ll_caches", "numa_domains", "sockets")
NOTATIONS = ("explicit", "intervals", "abstract")
BIND_POLICIES = ("close", "spread", "primary", "true", "false")
RUNTIMES = ("gnu", "llvm")
SEVERITIES = ("info", "warning", "error")


@dataclass(frozen=True, slots=True)
class PlanRequest:
    ranks: int = 1
    threads: int | None = None  # None = auto: one thread per place
    strategy: str = "compact"
    smt: str = "all"
    reserve: CpuSet = field(default_factory=CpuSet)
    places: str = "cores"
    notation: str = "explicit"
    bind: str = "close"
    runtime: str = "gnu"
    cpus: str | None = None  # manual: "0-31|32-63" (vLLM's VLLM_CPU_OMP_THREADS_BIND syntax)
    vllm_vars: tuple[tuple[str, str], ...] = ()  # (NAME, VALUE) for --strategy vllm

    def to_dict(self) -> dict:
        return {
            "ranks": self.ranks,
            "threads": "auto" if self.threads is None else self.threads,
            "strategy": self.strategy,
            "smt": self.smt,
            "reserve": self.reserve.to_list(),
            "places": self.places,
            "notation": self.notation,
            "bind": self.bind,
            "runtime": self.runtime,
            "cpus": self.cpus,
            "vllm_vars": {k: v for k, v in self.vllm_vars},
        }


@dataclass(frozen=True, slots=True)
class ThreadPlacement:
    thread: int  # OpenMP thread number (omp_get_thread_num)
    place: int | None  # index into Worker.places; None when the runtime does not bind
    cpus: CpuSet  # the CPUs the thread may run on


# ThreadPlacement(thread, place, cpus) at half the cost: a 4,096-PU plan makes thousands (ompviz.records)
placement = maker(ThreadPlacement)
_new = object.__new__


class Worker:
    """One rank: its CPUs, places, environment and the thread placement each runtime is predicted to make.

    Immutable, compared, hashed and pickled by its fields like the other plan records (a frozen dataclass in all but
    name). Written by hand for one reason: the planner may defer the per-thread part (``Worker.deferred``). A plan
    on 4,096 PUs has thousands of ThreadPlacements and per-rank GOMP_CPU_AFFINITY / KMP_AFFINITY strings, 35-50 %
    of its time, while the explorer shows the threads of one rank per key press; they are built, once, the first
    time anything reads ``gnu``, ``llvm`` or ``alt_env`` (or compares, hashes, prints or pickles the worker).
    """

    __slots__ = ("rank", "cpus", "places", "env", "num_threads", "_gnu", "_llvm", "_alt_env", "_make", "_index")
    __match_args__ = ("rank", "cpus", "places", "env", "num_threads", "gnu", "llvm", "alt_env")

    rank: int
    cpus: CpuSet  # everything the worker may use
    places: tuple[CpuSet, ...]
    env: tuple[tuple[str, str], ...]  # OMP_PLACES, OMP_PROC_BIND, OMP_NUM_THREADS (empty for vLLM nobind)
    num_threads: int

    def __init__(
        self,
        rank: int,
        cpus: CpuSet,
        places: tuple[CpuSet, ...],
        env: tuple[tuple[str, str], ...],
        num_threads: int,
        gnu: tuple[ThreadPlacement, ...],  # thread placement predicted for libgomp
        llvm: tuple[ThreadPlacement, ...],  # ... and for LLVM/Intel libomp
        alt_env: tuple[tuple[str, str], ...] = (),  # equivalents: GOMP_CPU_AFFINITY, KMP_AFFINITY
    ) -> None:
        _init(self, rank, cpus, places, env, num_threads)
        _w_gnu(self, gnu)
        _w_llvm(self, llvm)
        _w_alt(self, alt_env)
        _w_make(self, None)
        _w_index(self, None)

    @classmethod
    def deferred(
        cls,
        rank: int,
        cpus: CpuSet,
        places: tuple[CpuSet, ...],
        env: tuple[tuple[str, str], ...],
        num_threads: int,
        index: tuple[tuple[int | None, ...], tuple[int | None, ...]],
        make: Callable[[], tuple[tuple[ThreadPlacement, ...], tuple[ThreadPlacement, ...], tuple]],
    ) -> Worker:
        """A worker whose ``gnu``, ``llvm`` and ``alt_env`` are ``make()``, called once on first use. ``index`` is
        each runtime's place per thread (what ``place_index`` answers without building the placements)."""
        w = _new(cls)
        _init(w, rank, cpus, places, env, num_threads)
        _w_make(w, make)
        _w_index(w, index)
        return w

    def _built(self) -> None:
        make = self._make
        if make is not None:
            gnu, llvm, alt = make()
            _w_gnu(self, gnu)
            _w_llvm(self, llvm)
            _w_alt(self, alt)
            _w_make(self, None)

    @property
    def gnu(self) -> tuple[ThreadPlacement, ...]:
        if self._make is not None:
            self._built()
        return self._gnu

    @property
    def llvm(self) -> tuple[ThreadPlacement, ...]:
        if self._make is not None:
            self._built()
        return self._llvm

    @property
    def alt_env(self) -> tuple[tuple[str, str], ...]:
        if self._make is not None:
            self._built()
        return self._alt_env

    def place_index(self, runtime: str) -> tuple[int | None, ...]:
        """The place of each thread under ``runtime`` (``[t.place for t in threads(runtime)]``), without building
        the placements of a deferred worker."""
        if self._index is not None:
            return self._index[1 if runtime == "llvm" else 0]
        return tuple(t.place for t in self.threads(runtime))

    @property
    def env_dict(self) -> dict[str, str]:
        return dict(self.env)

    def threads(self, runtime: str) -> tuple[ThreadPlacement, ...]:
        return self.llvm if runtime == "llvm" else self.gnu

    # -- what @dataclass(frozen=True) would give -------------------------------------------------
    def _fields(self) -> tuple:
        return (self.rank, self.cpus, self.places, self.env, self.num_threads, self.gnu, self.llvm, self.alt_env)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self is other or self._fields() == other._fields()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        names = self.__match_args__
        return "Worker(" + ", ".join(f"{n}={v!r}" for n, v in zip(names, self._fields(), strict=True)) + ")"

    def __reduce__(self):
        return (Worker, self._fields())

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")


_w_rank, _w_cpus, _w_places, _w_env, _w_nt, _w_gnu, _w_llvm, _w_alt, _w_make, _w_index = (
    getattr(Worker, n).__set__ for n in Worker.__slots__
)


def _init(w: Worker, rank: int, cpus: CpuSet, places: tuple, env: tuple, num_threads: int) -> None:
    _w_rank(w, rank)
    _w_cpus(w, cpus)
    _w_places(w, places)
    _w_env(w, env)
    _w_nt(w, num_threads)


@dataclass(frozen=True, slots=True)
class PlanWarning:
    code: str  # stable identifier, e.g. "overlap", "oversubscribed", "spans-numa"
    severity: str  # info | warning | error
    message: str  # one line
    ranks: tuple[int, ...] = ()
    cpus: CpuSet = field(default_factory=CpuSet)  # PUs involved (for highlighting on the map)


@dataclass(frozen=True, slots=True)
class Plan:
    request: PlanRequest
    topology_summary: dict
    workers: tuple[Worker, ...]
    warnings: tuple[PlanWarning, ...]
    explanation: tuple[str, ...] = ()  # plain-language lines: what strategy/places/bind do on this machine

    @property
    def ok(self) -> bool:
        return not any(w.severity == "error" for w in self.warnings)

    def owner_map(self) -> dict[int, tuple[int, ...]]:
        """CPU -> ranks using it."""
        # Usually every CPU has one owner: then the map is built per worker at C speed (the explorer rebuilds it on
        # each key press; a Python loop over 4,096 CPUs costs ~2 ms). Overlapping workers take the general loop.
        fast: dict[int, tuple[int, ...]] = {}
        total = 0
        for w in self.workers:
            fast.update(dict.fromkeys(w.cpus.ids, (w.rank,)))
            total += len(w.cpus)
        if len(fast) == total:
            return fast
        out: dict[int, list[int]] = {}
        for w in self.workers:
            for c in w.cpus:
                out.setdefault(c, []).append(w.rank)
        return {c: tuple(r) for c, r in out.items()}
