"""LiveSession: launch a plan's workers, sample them in the background, stop them — the API the TUI and
``ompviz run`` share. See :mod:`ompviz.live` for the overview and a usage example."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ompviz.cpuset import CpuSet
from ompviz.errors import OmpvizError
from ompviz.live import launcher
from ompviz.live.sampler import Sample, Sampler, WorkerSample
from ompviz.live.verify import RunVerdict, plan_runtime, verify_run
from ompviz.plan.model import Plan, Worker

SampleCallback = Callable[[Sample], None]

# Sampling interval bounds. Below 0.05 s the sampler only measures itself (QA: 1e-9 s took ~2 CPU-seconds a second on
# a 2-CPU box) and /proc's 10 ms CPU-time ticks say nothing; above a minute nothing is "live" any more.
MIN_INTERVAL = 0.05
MAX_INTERVAL = 60.0


def check_interval(interval: float, flag: str = "--interval") -> float:
    """``interval`` when it is within [MIN_INTERVAL, MAX_INTERVAL] seconds; else the one-line user error."""
    if not MIN_INTERVAL <= interval <= MAX_INTERVAL:  # also refuses NaN
        raise OmpvizError(
            f"{flag} {interval:g}: the sampling interval must be {MIN_INTERVAL:g} to {MAX_INTERVAL:g} seconds, e.g. 0.5"
        )
    return interval


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: str
    runtime_lib: str
    command: tuple[str, ...]
    duration: float  # seconds from start to stop
    samples: tuple[Sample, ...]
    final: tuple[WorkerSample, ...]  # each worker's last sample (exit status)
    verdict: RunVerdict

    def mean_throughput(self) -> dict[int, float | None]:
        """Per rank: mean of the sampled throughputs (None: the workload reported none)."""
        acc: dict[int, list[float]] = {}
        for s in self.samples:
            for w in s.workers:
                acc.setdefault(w.rank, [])
                if w.throughput is not None:
                    acc[w.rank].append(w.throughput)
        return {r: (sum(v) / len(v) if v else None) for r, v in acc.items()}


class LiveSession:
    """One live run at a time: ``start`` → samples via ``on_sample`` → ``stop`` (→ ``restart``).

    Call ``start``/``stop``/``restart`` from one long-lived thread (the main/UI thread): PR_SET_PDEATHSIG fires when
    the thread that forked a worker exits. ``on_sample`` is called from the sampler thread.
    """

    def __init__(
        self,
        *,
        interval: float = 0.5,
        on_sample: SampleCallback | None = None,
        runtime_lib: str = "gnu",
        grace: float = 1.0,
        kernel_interval: float | None = None,
    ) -> None:
        if runtime_lib not in launcher.RUNTIME_LIBS:
            raise OmpvizError(f"--runtime-lib {runtime_lib!r}: use one of {', '.join(launcher.RUNTIME_LIBS)}")
        self.interval = check_interval(interval)
        self.on_sample = on_sample
        self.runtime_lib = runtime_lib
        self.grace = grace
        self.kernel_interval = kernel_interval
        self.run_id: str | None = None
        self.workers: tuple[Worker, ...] = ()
        self.procs: list[launcher.WorkerProcess] = []
        self._command: tuple[str, ...] = ()
        self._reserve = CpuSet()
        self._home: CpuSet | None = None  # ompviz's allowed set before it moved onto reserved CPUs
        self._sampler: Sampler | None = None
        self._samples: list[Sample] = []
        self._lock = threading.Lock()
        self._started = 0.0
        self._last_args: tuple | None = None

    # -- control ---------------------------------------------------------------------------------------------------
    def start(
        self,
        plan: Plan | Sequence[Worker],
        command: Sequence[str] | None = None,
        *,
        reserve: CpuSet | None = None,
        interval: float | None = None,
        on_sample: SampleCallback | None = None,
    ) -> str:
        """Launch one process per worker (the built-in kernel, or ``command``), start sampling; returns the run id."""
        if self.running:
            raise OmpvizError("a live run is already going: stop it first")
        if isinstance(plan, Plan):
            workers = tuple(plan.workers)
            reserve = plan.request.reserve if reserve is None else reserve
        else:
            workers = tuple(plan)
        if not workers:
            raise OmpvizError("the plan has no workers to launch")
        if interval is not None:
            self.interval = check_interval(interval)
        if on_sample is not None:
            self.on_sample = on_sample
        self._last_args = (workers, tuple(command) if command else None, reserve)
        if command:
            argv = list(command)
        else:
            from ompviz.live.build import kernel_binary

            # the kernel reports as often as we sample (no faster: every report wakes a reader thread)
            argv = [str(kernel_binary()), "0", str(self.kernel_interval or self.interval)]
        late_env = launcher.runtime_env(self.runtime_lib)
        if self._home is None:
            self._home = launcher.own_affinity()
        run_id = uuid.uuid4().hex
        self.run_id, self.workers, self._command = run_id, workers, tuple(argv)
        self._samples = []
        self.procs = []
        # ompviz leaves the workers' CPUs first; every child is reset to the original set in the trampoline.
        self._reserve = (reserve or CpuSet()) & self._home
        if self._reserve:
            launcher.move_self(self._reserve)
        try:
            for w in workers:
                env = launcher.worker_env(w, world_size=len(workers), run_id=run_id)
                self.procs.append(launcher.spawn_worker(w, argv, env, self._home, late_env))
        except BaseException:
            launcher.stop_workers(self.procs, self.grace)
            self.procs = []
            if self._reserve:
                launcher.move_self(self._home)
                self._reserve = CpuSet()
            raise
        self._started = time.monotonic()
        self._sampler = Sampler(self.procs, self.interval, self._deliver)
        self._sampler.start()
        return run_id

    def stop(self) -> RunSummary:
        """Stop sampling, SIGTERM→SIGKILL every worker group, take a last sample (exit statuses); idempotent."""
        sampler, self._sampler = self._sampler, None
        try:
            if sampler is not None:
                sampler.stop()
                # One more look while the workers still run, unless the last one is recent: a run shorter than
                # the interval must still be seen alive (CPU% over a very short delta would only be noise).
                last = self.latest
                if last is None or time.monotonic() - self._started - last.time >= self.interval / 2:
                    self._deliver(sampler.sample_once())
        finally:
            launcher.stop_workers(self.procs, self.grace)
            if self._reserve and self._home is not None:
                launcher.move_self(self._home)
                self._reserve = CpuSet()
        if sampler is not None:
            self._deliver(sampler.sample_once())
            sampler.close()
        return self.summary()

    def restart(self) -> str:
        """Stop (if running) and start again with the same workers, command and reserve; returns the new run id."""
        if self._last_args is None:
            raise OmpvizError("nothing to restart: no run was started")
        self.stop()
        workers, command, reserve = self._last_args
        return self.start(workers, command, reserve=reserve)

    # -- state -----------------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._sampler is not None

    def all_exited(self) -> bool:
        return bool(self.procs) and all(p.status() is not None for p in self.procs)

    @property
    def samples(self) -> tuple[Sample, ...]:
        with self._lock:
            return tuple(self._samples)

    @property
    def latest(self) -> Sample | None:
        with self._lock:
            return self._samples[-1] if self._samples else None

    def summary(self) -> RunSummary:
        samples = self.samples
        final = samples[-1].workers if samples else ()
        return RunSummary(
            run_id=self.run_id or "",
            runtime_lib=self.runtime_lib,
            command=self._command,
            duration=(time.monotonic() - self._started) if self._started else 0.0,
            samples=samples,
            final=tuple(final),
            verdict=verify_run(samples, self.workers, plan_runtime(self.runtime_lib)),
        )

    def _deliver(self, s: Sample) -> None:
        with self._lock:
            self._samples.append(s)
        cb = self.on_sample
        if cb is not None:
            cb(s)


# -- recorded samples (deterministic replay) -----------------------------------------------------------------------
def samples_to_json(samples: Iterable[Sample], **meta: object) -> str:
    return json.dumps({"version": 1, **meta, "samples": [s.to_dict() for s in samples]}, indent=1)


def samples_from_json(text: str) -> tuple[Sample, ...]:
    try:
        d = json.loads(text)
        return tuple(Sample.from_dict(s) for s in d["samples"])
    except (ValueError, KeyError, TypeError) as e:
        raise OmpvizError(f"not an ompviz sample recording: {e}") from None


def load_samples(path: str | os.PathLike) -> tuple[Sample, ...]:
    try:
        with open(path, encoding="utf-8") as f:
            return samples_from_json(f.read())
    except OSError as e:
        raise OmpvizError(f"{path}: cannot read: {e.strerror or e}") from None


def replay(samples: Iterable[Sample], on_sample: SampleCallback, *, speed: float | None = None) -> None:
    """Feed recorded samples to ``on_sample`` in order; ``speed`` None = as fast as possible, 1.0 = real time."""
    prev: float | None = None
    for s in samples:
        if speed and prev is not None and s.time > prev:
            time.sleep((s.time - prev) / speed)
        prev = s.time
        on_sample(s)
