"""The explorer's plans by request (ompviz.tui.plancache) and the look-ahead that fills it between key presses.

The cache's rules are checked on the real planner and a counting wrapper; the look-ahead in the real app through
Pilot: the requests one key away are planned once the user is quiet, the key then calls no planner, and what it
shows is exactly the plan a fresh planner call makes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys

import pytest
from asyncrun import look_ahead_done, sync
from tui_machines import big4096, small

from ompviz.errors import OmpvizError
from ompviz.plan import plan as real_plan
from ompviz.plan.model import STRATEGIES, PlanRequest
from ompviz.tui.app import KEY_STEPS, OmpvizApp
from ompviz.tui.plancache import PlanCache

SIZE = (160, 50)


class Counting:
    """The real planner, counting calls per request."""

    def __init__(self) -> None:
        self.calls: list[PlanRequest] = []

    def __call__(self, topology, request):
        self.calls.append(request)
        return real_plan(topology, request)


# -- the cache --------------------------------------------------------------------------------------------------
def test_a_request_is_planned_once_and_gives_the_same_plan_and_owners():
    planner, topo = Counting(), small()
    cache = PlanCache(planner, topo)
    req = PlanRequest(ranks=2, strategy="spread")
    plan, owners = cache.plan(req)
    again, owners_again = cache.plan(dataclasses.replace(req))  # an equal request, not the same object
    assert planner.calls == [req]
    assert again is plan and owners_again is owners
    assert plan == real_plan(topo, req) and owners == plan.owner_map()


def test_errors_are_kept_and_raised_again_without_growing_tracebacks():
    planner, topo = Counting(), small()
    cache = PlanCache(planner, topo)
    bad = PlanRequest(ranks=1, strategy="manual", cpus="0-3|junk")
    with pytest.raises(OmpvizError) as first:
        cache.plan(bad)
    for _ in range(3):
        with pytest.raises(OmpvizError) as again:
            cache.plan(bad)
        assert str(again.value) == str(first.value)
    assert planner.calls == [bad]
    depth = 0
    tb = again.value.__traceback__
    while tb is not None:
        depth, tb = depth + 1, tb.tb_next
    assert depth <= 2  # raised from PlanCache.plan, not carrying every earlier raise


def test_a_planner_bug_is_kept_like_an_error():
    calls = []

    def broken(topology, request):
        calls.append(request)
        raise ZeroDivisionError("bug")

    cache = PlanCache(broken, small())
    assert cache.ahead(PlanRequest()) is True  # never raises
    with pytest.raises(ZeroDivisionError):
        cache.plan(PlanRequest())
    assert len(calls) == 1


def test_least_recently_used_plans_go_first():
    planner, topo = Counting(), small()
    cache = PlanCache(planner, topo, size=2)
    a, b, c = (PlanRequest(ranks=n) for n in (1, 2, 4))
    cache.plan(a)
    cache.plan(b)
    cache.plan(a)  # a is now the most recent
    cache.plan(c)  # evicts b
    assert a in cache and c in cache and b not in cache and len(cache) == 2
    cache.plan(b)
    assert planner.calls == [a, b, c, b]


def test_size_zero_keeps_nothing_and_another_topology_starts_empty():
    planner, topo = Counting(), small()
    cold = PlanCache(planner, topo, size=0)
    req = PlanRequest(ranks=2)
    cold.plan(req)
    cold.plan(req)
    assert len(planner.calls) == 2 and len(cold) == 0
    with pytest.raises(ValueError):
        PlanCache(planner, topo, size=-1)

    cache = PlanCache(planner, topo)
    plan_small, _ = cache.plan(req)
    cache.set_topology(topo)  # the same machine keeps its plans
    assert req in cache
    other = big4096()
    cache.set_topology(other)
    assert cache.topology is other and req not in cache
    plan_big, _ = cache.plan(req)
    assert plan_big != plan_small and plan_big == real_plan(other, req)


def test_ahead_plans_only_unknown_requests():
    planner = Counting()
    cache = PlanCache(planner, small())
    req = PlanRequest(ranks=2)
    assert cache.cached(req) is None  # not planned: no planner call either
    assert cache.ahead(req) is True
    assert cache.ahead(req) is False
    plan, owners = cache.plan(req)
    assert cache.cached(req) == (plan, owners)
    bad = PlanRequest(ranks=1, strategy="manual", cpus="0-3|junk")
    assert cache.ahead(bad) is True and cache.cached(bad) is None  # failed: nothing to show
    assert planner.calls == [req, bad]


def test_key_steps_are_the_keys_requests():
    r = PlanRequest(ranks=3, strategy=STRATEGIES[-1], bind="close", smt="all", places="cores")
    assert KEY_STEPS["ranks(1)"](r).ranks == 4
    assert KEY_STEPS["ranks(-1)"](r).ranks == 2
    assert KEY_STEPS["ranks(-1)"](PlanRequest(ranks=1)).ranks == 1
    assert KEY_STEPS["next_strategy"](r).strategy == STRATEGIES[0]  # wraps around
    for name, field in (("next_bind", "bind"), ("next_smt", "smt"), ("next_places", "places")):
        changed = KEY_STEPS[name](r)
        assert getattr(changed, field) != getattr(r, field)
        assert dataclasses.replace(changed, **{field: getattr(r, field)}) == r  # nothing else changes


# -- the look-ahead in the app ----------------------------------------------------------------------------------
_quiet = look_ahead_done


@sync
async def test_keys_find_their_plans_made_ahead_and_show_the_fresh_plan():
    planner = Counting()
    topo = small()
    app = OmpvizApp(topo, PlanRequest(ranks=2, strategy="spread"), planner=planner, optional_screens={})
    async with app.run_test(size=SIZE) as pilot:
        await asyncio.sleep(0.35)  # the first look-ahead waits for the user to read the first screen
        await _quiet(pilot, app)
        for key, step in (
            ("plus", "ranks(1)"),
            ("minus", "ranks(-1)"),
            ("s", "next_strategy"),
            ("b", "next_bind"),
            ("t", "next_smt"),
            ("p", "next_places"),
        ):
            expected = KEY_STEPS[step](app.request)
            assert expected in app._plans, f"{key}: its request was not planned ahead"
            made_ahead = app._plans._entries[expected][0]
            await pilot.press(key)
            await pilot.pause()
            assert app.request == expected
            assert app.plan is made_ahead, f"{key} planned again"
            assert app.plan == real_plan(topo, expected)  # exactly what planning now would give
            assert app._owners == app.plan.owner_map()
            await _quiet(pilot, app)
        # bounded work and memory: each change plans at most the six requests one key away (a request is planned
        # again only once the cache, which keeps the plan shown and up to twelve made after it, has let it go)
        assert len(planner.calls) <= 1 + 6 * 7
        assert len(app._plans) <= 13


@sync
async def test_a_key_finds_the_rows_and_texts_of_its_plan_prepared(monkeypatch):
    """The look-ahead also builds what the widgets show for a plan made ahead (worker rows, the selected worker's
    thread rows, its environment text folded at the pane's width and its first screen drawn): the key press builds
    none of them, and what it shows is what building them now gives. The legend is drawn ahead as well."""
    from collections import Counter

    import ompviz.tui.app as app_module
    from ompviz.tui.widgets import panels
    from ompviz.tui.widgets.panels import TextLine, TextView, ThreadTable, WorkerTable

    built: Counter[str] = Counter()

    def counting(module, name):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            built[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)
        return original

    fresh_rows = counting(panels, "_worker_rows")
    fresh_threads = counting(panels, "_thread_rows")
    fresh_fold = counting(panels, "_fold_text")
    fresh_env = counting(app_module, "worker_env_text")
    painting: list[bool] = []

    def watch_drawing(cls) -> None:  # count the lines a paint has to draw itself
        render_line, draw = cls.render_line, cls._draw

        def render_line_watched(self, y):
            painting.append(True)
            try:
                return render_line(self, y)
            finally:
                painting.pop()

        def draw_counted(self, *args):
            if painting:
                built[f"{cls.__name__}._draw while painting"] += 1
            return draw(self, *args)

        monkeypatch.setattr(cls, "render_line", render_line_watched)
        monkeypatch.setattr(cls, "_draw", draw_counted)

    watch_drawing(TextView)
    watch_drawing(TextLine)
    app = OmpvizApp(small(), PlanRequest(ranks=2, strategy="spread"), optional_screens={})
    during: list[Counter[str]] = []
    set_request = app.set_request

    def watched(request):
        before = Counter(built)
        set_request(request)
        during.append(Counter(built) - before)

    app.set_request = watched  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await asyncio.sleep(0.35)
        await _quiet(pilot, app)
        for key in ("plus", "s", "b", "minus", "t"):
            drawn = Counter({k: v for k, v in built.items() if "while painting" in k})
            await pilot.press(key)
            await pilot.pause()
            assert during[-1] == Counter(), f"{key} built {dict(during[-1])}"
            # the environment pane's lines on screen and the legend were drawn ahead too
            assert Counter({k: v for k, v in built.items() if "while painting" in k}) == drawn, key
            plan, worker = app.plan, app._worker()
            assert app.query_one(WorkerTable)._rows == fresh_rows(plan)[0]
            assert app.query_one(ThreadTable)._rows == fresh_threads(worker)[0]
            env = app.query_one("#worker-env", TextView)
            assert env.plain == fresh_env(worker).plain
            assert env._parts == fresh_fold(fresh_env(worker), env.line_box()[2])
            await _quiet(pilot, app)
    assert sum(built.values()) > 0  # the builders did run: ahead of the keys


@sync
async def test_a_pu_under_the_pointer_has_its_click_planned_ahead():
    """Resting the pointer on a PU plans the request its click makes (that PU reserved, or no longer reserved);
    the click then shows that plan, which is what planning it fresh gives (the key look-ahead never plans a
    reserve change, so only the hover can have made it)."""
    from ompviz.cpuset import CpuSet
    from ompviz.tui.widgets.topomap import TopologyMap

    topo = small()
    app = OmpvizApp(topo, PlanRequest(ranks=2), optional_screens={})
    async with app.run_test(size=SIZE) as pilot:
        await asyncio.sleep(0.35)
        await _quiet(pilot, app)
        m = app.query_one(TopologyMap)
        for cpu in (17, 5):  # reserve 17, then 5 as well
            x, y = m.screen_offset_of(cpu)
            click = dataclasses.replace(app.request, reserve=app.request.reserve ^ CpuSet([cpu]))
            assert click not in app._plans
            await pilot.hover(TopologyMap, offset=(x + 1, y))
            await _quiet(pilot, app)
            assert click in app._plans
            made_ahead = app._plans._entries[click][0]
            await pilot.click(TopologyMap, offset=(x + 1, y))
            await pilot.pause()
            assert app.request == click and app.plan is made_ahead
            assert app.plan == real_plan(topo, click)
            await pilot.hover(TopologyMap, offset=(0, 0))  # off the PU, so the next hover is a new one
            await _quiet(pilot, app)


@sync
async def test_look_ahead_errors_stay_quiet_until_their_key():
    """A request one key away that cannot be planned (here: a planner refusing 3 ranks) shows nothing while it is
    planned ahead; its key then shows the error and keeps the last good plan, as without the look-ahead."""

    def planner(topology, request):
        if request.ranks >= 3:
            raise OmpvizError("three is a crowd")
        return real_plan(topology, request)

    app = OmpvizApp(small(), PlanRequest(ranks=2), planner=planner, optional_screens={})
    async with app.run_test(size=SIZE) as pilot:
        await asyncio.sleep(0.35)
        await _quiet(pilot, app)
        assert KEY_STEPS["ranks(1)"](app.request) in app._plans
        assert app.plan_error is None and not list(app._notifications)
        await pilot.press("plus")
        await pilot.pause()
        assert app.request.ranks == 2 and app.plan_error == "three is a crowd"
        assert any(n.title == "Cannot plan" for n in app._notifications)


@sync
async def test_a_fault_preparing_a_plan_ahead_does_not_take_the_app_down(monkeypatch):
    """The look-ahead runs from timers, where an exception would end the app (Textual exits on it). A plan nobody
    asked for yet must not: here building the worker rows of 3 ranks fails, and the app goes on at 2 ranks."""
    from ompviz.tui.widgets import panels

    rows = panels._worker_rows

    def failing(plan):
        if plan.request.ranks == 3:
            raise RuntimeError("row builder bug")
        return rows(plan)

    monkeypatch.setattr(panels, "_worker_rows", failing)
    app = OmpvizApp(small(), PlanRequest(ranks=2), optional_screens={})
    async with app.run_test(size=SIZE) as pilot:
        await asyncio.sleep(0.35)
        await _quiet(pilot, app)
        assert KEY_STEPS["ranks(1)"](app.request) in app._plans  # it was planned ahead, and prepared in vain
        assert app.is_running and app.request.ranks == 2
        await pilot.press("s")  # the explorer goes on
        await pilot.pause()
        assert app.is_running and app.request.strategy != "compact"


@sync
async def test_loading_another_machine_forgets_the_old_plans():
    app = OmpvizApp(small(), PlanRequest(ranks=2), optional_screens={})
    async with app.run_test(size=SIZE) as pilot:
        await asyncio.sleep(0.35)
        await _quiet(pilot, app)
        assert len(app._plans) > 1
        other = big4096()
        app.set_topology(other)
        await pilot.pause()
        assert app._plans.topology is other
        assert app.plan == real_plan(other, app.request)
        await _quiet(pilot, app)
        for request in list(app._plans._entries):
            assert app._plans.plan(request)[0] == real_plan(other, request)


@sync
async def test_a_key_during_the_look_ahead_waits_for_one_plan_at_most():
    """The look-ahead gives the event loop back between plans: with a slow planner (50 ms a plan) and six requests
    to plan ahead, a key pressed once the look-ahead started is handled after at most one of them."""
    import time

    slow_calls: list[float] = []

    def slow(topology, request):
        slow_calls.append(time.perf_counter())
        time.sleep(0.05)
        return real_plan(topology, request)

    app = OmpvizApp(small(), PlanRequest(ranks=2), planner=slow, optional_screens={})
    async with app.run_test(size=SIZE) as pilot:
        await asyncio.sleep(0.35)
        await _quiet(pilot, app)
        slow_calls.clear()
        app.action_ranks(1)  # planned ahead already; now six new neighbours to plan, 50 ms each
        for _ in range(100):
            await asyncio.sleep(0.005)
            if slow_calls:
                break
        assert slow_calls, "the look-ahead did not start"
        started = len(slow_calls)
        handled_after: list[int] = []
        fold = app.action_fold

        def action_fold() -> None:  # any key will do: `z` folds the map
            handled_after.append(len(slow_calls))
            fold()

        app.action_fold = action_fold  # type: ignore[method-assign]
        await pilot.press("z")
        assert handled_after and handled_after[0] <= started + 1, (started, handled_after, len(slow_calls))
        assert started + 1 < 6  # the look-ahead was not over when the key came
        await _quiet(pilot, app)


# -- the form's next key ----------------------------------------------------------------------------------------
async def _focus_field(pilot, app: OmpvizApp, name: str):
    from ompviz.tui.widgets.controls import Controls

    form = app.query_one(Controls)
    form.focus()
    form.select_field(name)  # the caret at the end of the field
    await pilot.pause()
    await _quiet(pilot, app)
    return form


@sync
async def test_the_form_s_candidates_are_what_its_next_key_sends():
    """Each request the form offers for look-ahead is what one of its keys sends, and every key that sends a
    request is covered (ranks, threads with the caret at the end and inside, a choice field, a text field whose
    next key cannot be guessed, and a field left invalid)."""
    topo = small()
    app = OmpvizApp(topo, PlanRequest(ranks=3, threads=2), optional_screens={})
    keys = ["backspace", "delete", *"0123456789"]
    async with app.run_test(size=SIZE) as pilot:
        for name, caret_left, choice_keys in (
            ("ranks", 0, []),
            ("threads", 0, []),
            ("ranks", 1, []),
            ("strategy", 0, ["left", "right", "space", "enter"]),
            ("bind", 0, ["left", "right"]),
        ):
            form = await _focus_field(pilot, app, name)
            for _ in range(caret_left):
                await pilot.press("left")
            candidates = form.requests_one_key_away()
            sent = set()
            for key in choice_keys or keys:
                before, text, caret = app.request, form.text(name), form._caret
                await pilot.press(key)
                await pilot.pause()
                if app.request != before:
                    sent.add(app.request)
                    assert app.request in candidates, (name, key, app.request)
                # back to where we were: the request, the text and the caret
                app.set_request(before)
                form.edit(name, text, caret) if name not in ("strategy", "bind") else None
                form._errors.pop(name, None)
                await pilot.pause()
                assert app.request == before
            assert sent == set(candidates), (name, set(candidates) - sent)
        form = await _focus_field(pilot, app, "reserve")
        assert form.requests_one_key_away() == []  # any character could come: nothing guessed
        form = await _focus_field(pilot, app, "ranks")
        await pilot.press("x")  # "3x": invalid, the request stays
        assert form.is_invalid("ranks")
        assert {r.ranks for r in form.requests_one_key_away()} == set()  # "3" is the request already; "3x0"... invalid
        await pilot.press("backspace")
        assert not form.is_invalid("ranks")


@sync
async def test_a_digit_typed_in_the_ranks_field_finds_its_plan_made_ahead():
    """Typing in the ranks field: while the user is quiet the explorer plans the character deleted and each digit
    typed next (within AHEAD_MAX_RANKS); the digit then calls no planner and shows exactly a fresh plan. A choice
    field gets its neighbours planned, and the planning keys it leaves to the app. Leaving the form brings the
    planning keys back."""
    planner = Counting()
    topo = big4096()
    app = OmpvizApp(topo, PlanRequest(ranks=16, strategy="spread"), planner=planner, optional_screens={})
    async with app.run_test(size=SIZE) as pilot:
        await asyncio.sleep(0.35)
        await _quiet(pilot, app)
        await _focus_field(pilot, app, "ranks")
        typed = {dataclasses.replace(app.request, ranks=n) for n in (1, *range(160, 170))}
        assert all(r in app._plans for r in typed), "the next digit or backspace was not planned ahead"
        for key, ranks in (("1", 161), ("backspace", 16), ("2", 162)):
            made_ahead = app._plans._entries[dataclasses.replace(app.request, ranks=ranks)][0]
            calls = len(planner.calls)
            await pilot.press(key)
            await pilot.pause()
            assert app.request.ranks == ranks and app.plan is made_ahead, key
            assert len(planner.calls) == calls, (key, planner.calls[calls:])
            assert app.plan == real_plan(topo, app.request)
            await _quiet(pilot, app)
        # "162" + a digit is 1,620 ranks or more: over AHEAD_MAX_RANKS, planned only if typed
        assert app.AHEAD_MAX_RANKS < 1620
        assert not any(r.ranks >= 1620 for r in app._plans._entries)
        assert dataclasses.replace(app.request, ranks=16) in app._plans  # backspace is
        await _focus_field(pilot, app, "bind")
        form_next = [r.bind for r in app.query_one("Controls").requests_one_key_away()]
        assert len(form_next) == 2 and all(dataclasses.replace(app.request, bind=b) in app._plans for b in form_next)
        assert KEY_STEPS["next_strategy"](app.request) in app._plans  # `s` still reaches the app from a choice
        from ompviz.tui.widgets.topomap import TopologyMap

        app.query_one(TopologyMap).focus()
        await pilot.pause()
        await _quiet(pilot, app)
        assert all(step(app.request) in app._plans for step in KEY_STEPS.values())
        assert len(app._plans) <= 13
    app._plan_ahead_soon()  # closed, no screen left: a start-up timer firing now must not raise


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


@sync
async def test_the_look_ahead_waits_for_the_first_frame_to_be_read():
    """Start-up is benchmarked (first frame and memory): the look-ahead starts 0.3 s after it, not with the first
    focus at mount (it did, and its plans and lines drawn ahead were counted in the start-up's memory)."""
    planner = Counting()
    app = OmpvizApp(small(), PlanRequest(ranks=2), planner=planner, optional_screens={})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.focused is not None  # (the map or the form has the focus from the start)
        assert len(planner.calls) == 1 and not app._ahead and app._ahead_timer is None
        await asyncio.sleep(0.35)
        await _quiet(pilot, app)
        assert len(planner.calls) > 1  # then it does plan ahead
