"""Planner data: the request (what the user asked) and the plan (what every worker gets).

Shared by the planner, the exporters, the live launcher and the TUI. Immutable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ompviz.cpuset import CpuSet

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


_new = object.__new__
_set_thread = ThreadPlacement.thread.__set__  # type: ignore[attr-defined]
_set_place = ThreadPlacement.place.__set__  # type: ignore[attr-defined]
_set_cpus = ThreadPlacement.cpus.__set__  # type: ignore[attr-defined]


def placement(thread: int, place: int | None, cpus: CpuSet) -> ThreadPlacement:
    """``ThreadPlacement(thread, place, cpus)`` at half the cost: a 4,096-PU plan makes thousands, and the frozen
    dataclass __init__ goes through object.__setattr__ per field. Same object, same fields (no __post_init__)."""
    t = _new(ThreadPlacement)
    _set_thread(t, thread)
    _set_place(t, place)
    _set_cpus(t, cpus)
    return t


@dataclass(frozen=True, slots=True)
class Worker:
    rank: int
    cpus: CpuSet  # everything the worker may use
    places: tuple[CpuSet, ...]
    env: tuple[tuple[str, str], ...]  # OMP_PLACES, OMP_PROC_BIND, OMP_NUM_THREADS (empty for vLLM nobind)
    num_threads: int
    gnu: tuple[ThreadPlacement, ...]  # thread placement predicted for libgomp
    llvm: tuple[ThreadPlacement, ...]  # ... and for LLVM/Intel libomp
    alt_env: tuple[tuple[str, str], ...] = ()  # equivalents: GOMP_CPU_AFFINITY, KMP_AFFINITY

    @property
    def env_dict(self) -> dict[str, str]:
        return dict(self.env)

    def threads(self, runtime: str) -> tuple[ThreadPlacement, ...]:
        return self.llvm if runtime == "llvm" else self.gnu


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
