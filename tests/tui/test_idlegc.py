"""The explorer's cycle collection out of the key path (ompviz.tui.idlegc): when it collects, which generation,
and that automatic collection is given back exactly as it was found."""

from __future__ import annotations

import asyncio
import gc

import pytest

from ompviz.tui.idlegc import IdleCollector


class FakeGC:
    """gc's interface with counts we set, recording collections (CPython's counting, simplified: a collection of
    generation g zeroes counts 0..g and adds one to g+1)."""

    def __init__(self, enabled: bool = True, threshold=(700, 10, 10)) -> None:
        self.enabled = enabled
        self.threshold = threshold
        self.count = [0, 0, 0]
        self.collected: list[int] = []

    def isenabled(self) -> bool:
        return self.enabled

    def enable(self) -> None:
        self.enabled = True

    def disable(self) -> None:
        self.enabled = False

    def get_threshold(self):
        return self.threshold

    def get_count(self):
        return tuple(self.count)

    def collect(self, gen: int) -> int:
        self.collected.append(gen)
        for g in range(gen + 1):
            self.count[g] = 0
        if gen < 2:
            self.count[gen + 1] += 1
        return 0


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def collector(fake: FakeGC, clock: Clock, **kw) -> IdleCollector:
    c = IdleCollector(clock=clock, collector=fake, **kw)
    c.start()
    return c


def test_start_turns_automatic_collection_off_and_stop_gives_it_back():
    fake, clock = FakeGC(), Clock()
    c = collector(fake, clock)
    assert not fake.enabled and c.active
    c.stop()
    assert fake.enabled and not c.active
    c.stop()  # twice is harmless
    assert fake.enabled


def test_collection_already_off_stays_off_and_is_never_run():
    fake, clock = FakeGC(enabled=False), Clock()
    c = collector(fake, clock)
    assert not c.active
    fake.count[0] = 10**6
    clock.t += 60
    assert c.tick() is None and fake.collected == []
    c.stop()
    assert not fake.enabled  # not ours to turn on


def test_collects_only_after_the_user_is_quiet():
    fake, clock = FakeGC(), Clock()
    c = collector(fake, clock, quiet=0.3)
    fake.count[0] = 5000
    c.activity()
    clock.t += 0.2
    assert c.tick() is None  # a key 0.2 s ago: wait
    c.activity()  # another key
    clock.t += 0.29
    assert c.tick() is None
    clock.t += 0.02
    assert c.tick() == 0 and fake.collected == [0]
    assert c.tick() is None  # nothing due any more


def test_nothing_due_nothing_collected_however_quiet():
    fake, clock = FakeGC(), Clock()
    c = collector(fake, clock)
    fake.count[0] = 700  # CPython collects when the count passes the threshold, not at it
    clock.t += 3600
    assert c.tick() is None and fake.collected == []


def test_backstop_collects_while_the_user_keeps_pressing():
    fake, clock = FakeGC(), Clock()
    c = collector(fake, clock, backstop=50_000)
    fake.count[0] = 49_999
    c.activity()
    assert c.tick() is None
    fake.count[0] = 50_000
    assert c.tick() == 0
    assert IdleCollector(collector=FakeGC()).backstop == 100 * 700  # default: 100 x the young threshold


def test_generation_follows_cpythons_rule():
    fake, clock = FakeGC(), Clock()
    c = collector(fake, clock)
    clock.t += 1
    gens = []
    for _ in range(12 * 11 + 1):
        fake.count[0] = 701
        gens.append(c.tick())
    # gen 1 once 11 young collections happened (count 11 > threshold 10), gen 2 once 11 of those happened
    assert [i for i, g in enumerate(gens) if g == 1] == [12 * k + 11 for k in range(11)]
    assert [i for i, g in enumerate(gens) if g == 2] == [12 * 11]
    assert c.collections == [gens.count(0), gens.count(1), gens.count(2)] == [121, 11, 1]


def test_with_the_real_collector_state_is_restored():
    was = gc.isenabled()
    gc.enable()
    try:
        c = IdleCollector(quiet=0.0)
        c.start()
        assert not gc.isenabled()
        junk = []
        for _ in range(5000):  # cycles: only the collector frees them
            a: list = []
            a.append(a)
            junk.append(a)
        del junk, a
        assert c.tick() is not None
        c.stop()
        assert gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


@pytest.mark.parametrize("keys", [["plus", "minus"], []])
def test_the_explorer_pauses_automatic_collection_and_gives_it_back(keys):
    from tui_machines import machine

    from ompviz.tui.app import OmpvizApp

    async def run() -> None:
        app = OmpvizApp(machine(1, 1, 1, 4, 2), optional_screens={})
        async with app.run_test(size=(120, 40)) as pilot:
            assert not gc.isenabled() and app.idle_gc.active
            before = app.idle_gc._last
            for k in keys:
                await pilot.press(k)
            await pilot.pause()
            assert (app.idle_gc._last > before) == bool(keys)  # key presses count as activity
            # the app's timer collects once the user is quiet: make garbage cycles only the collector frees
            app.idle_gc.quiet = 0.0
            done = sum(app.idle_gc.collections)
            for _ in range(2000):
                a: list = []
                a.append(a)
            for _ in range(200):  # the timer ticks every idlegc.TICK seconds
                if sum(app.idle_gc.collections) > done:
                    break
                await asyncio.sleep(0.02)
            assert sum(app.idle_gc.collections) > done
        assert gc.isenabled() and not app.idle_gc.active

    assert gc.isenabled()
    asyncio.run(run())
