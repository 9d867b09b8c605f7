"""Collect items from a source that is polled, failing after a deadline checked between polls."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["poll"]

T = TypeVar("T")


async def poll(
    fetch: Callable[[], Awaitable[T | None]],
    count: int,
    timeout: float,
    *,
    interval: float = 0.02,
) -> list[T]:
    """The first `count` items `fetch` returns (it returns `None` when nothing is ready), or
    `TimeoutError` once `timeout` seconds have passed.

    The deadline is checked between polls rather than by cancelling one: aiormq's `basic_get`
    on Python 3.11 can swallow a cancellation, so an `asyncio.timeout` around such a loop may
    never fire and the loop then polls forever.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    items: list[T] = []
    while len(items) < count:
        item = await fetch()
        if item is not None:
            items.append(item)
            continue
        if loop.time() >= deadline:
            raise TimeoutError(f"got {len(items)} of {count} items within {timeout} s")
        await asyncio.sleep(interval)
    return items
