"""Timing loops shared by both sides, so the measured code around the call is identical."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from workloads import Loop

__all__ = ["request_loops"]


def request_loops(
    send: Callable[[Any], Awaitable[Any]],
    handle: Callable[[Any], Awaitable[Any]],
    query: Any,
    command: Any,
) -> dict[str, Loop]:
    """Loops for the `requests` family: mediator sends and the bare handler floor."""

    async def send_query(n: int) -> None:
        for _ in range(n):
            await send(query)

    async def send_command_1_event(n: int) -> None:
        for _ in range(n):
            await send(command)

    async def handle_query(n: int) -> None:
        for _ in range(n):
            await handle(query)

    return {
        "send_query": send_query,
        "send_command_1_event": send_command_1_event,
        "handle_query": handle_query,
    }
