"""`@sync`: run an async Pilot test body with asyncio.run (no async pytest plugin is required); `look_ahead_done`:
wait for the explorer's look-ahead."""

from __future__ import annotations

import asyncio
import functools


def sync(fn):
    """Run an async test body with asyncio.run (no async pytest plugin is required)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


async def look_ahead_done(pilot, app) -> None:
    """Until the explorer's look-ahead is done (it runs on timers after the paint)."""
    for _ in range(500):
        await pilot.pause()
        if app._ahead_timer is None and not app._ahead:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the look-ahead never finished")
