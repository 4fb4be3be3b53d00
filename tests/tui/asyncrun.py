"""`@sync`: run an async Pilot test body with asyncio.run (no async pytest plugin is required)."""

from __future__ import annotations

import asyncio
import functools


def sync(fn):
    """Run an async test body with asyncio.run (no async pytest plugin is required)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper
