"""Python's cycle collector, moved out of the key -> replan -> repaint path.

CPython collects when allocations pass a threshold, wherever that happens: in the explorer it happens inside a key
press (a 4,096-PU plan allocates thousands of objects), where a young collection costs 0.2-2 ms and an old one
10-25 ms, several frames, on top of the replan and repaint (measured with bench/bench_replan.py and gc callbacks).
While the explorer runs, ``IdleCollector`` turns automatic collection off and collects from a timer instead:
once the user has been quiet for ``quiet`` seconds, or at once when allocations since the last collection pass
``backstop`` (so a key held down for minutes still collects). Each collection takes the generation CPython's own
rule would take (thresholds from ``gc.get_threshold()``). Reference counting, which frees almost every object the
planner makes, is not affected. No Textual import: the app feeds it activity and ticks.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

QUIET = 0.3  # seconds without input before collecting
TICK = 1.0  # how often the app asks (seconds): each tick wakes the app (~0.5 ms of CPU)
BACKSTOP_FACTOR = 100  # collect regardless once allocations pass this many times the young threshold


class IdleCollector:
    def __init__(
        self,
        *,
        quiet: float = QUIET,
        backstop: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        collector=gc,
    ) -> None:
        self._gc = collector
        self.quiet = quiet
        t0 = collector.get_threshold()[0] or 700
        self.backstop = backstop if backstop is not None else BACKSTOP_FACTOR * t0
        self._clock = clock
        self._last = clock()
        self._owned = False  # True while automatic collection is off because of us
        self.collections = [0, 0, 0]  # per generation, for tests and curious users

    @property
    def active(self) -> bool:
        return self._owned

    def start(self) -> None:
        """Turn automatic collection off (if it was on: a caller that turned it off keeps it off)."""
        if not self._owned and self._gc.isenabled():
            self._gc.disable()
            self._owned = True

    def stop(self) -> None:
        """Give automatic collection back, as it was before start()."""
        if self._owned:
            self._owned = False
            self._gc.enable()

    def activity(self) -> None:
        """The user did something (a key, the mouse): wait for ``quiet`` seconds of calm before collecting."""
        self._last = self._clock()

    def generation(self) -> int | None:
        """What CPython would collect now (None: nothing is due): the oldest generation whose count passed its
        threshold, gen 0 counting allocations, gen 1 and 2 counting collections of the generation below (CPython
        also defers a full collection until a quarter of the old objects are new; Python cannot see that count,
        and here a full collection happens at most once per 11 x 11 ticks)."""
        counts = self._gc.get_count()
        thresholds = self._gc.get_threshold()
        if counts[0] <= thresholds[0]:
            return None
        gen = 0
        for g in (1, 2):
            if thresholds[g] and counts[g] > thresholds[g]:
                gen = g
        return gen

    def tick(self) -> int | None:
        """Called every TICK seconds: collect if due and the user is quiet (or the backstop is passed).
        Returns the generation collected, or None."""
        if not self._owned:
            return None
        gen = self.generation()
        if gen is None:
            return None
        if self._clock() - self._last < self.quiet and self._gc.get_count()[0] < self.backstop:
            return None
        self._gc.collect(gen)
        self.collections[gen] += 1
        return gen
