"""A Server-Sent Events reader for clients and tests, parsing an event stream event by event.

Example::

    async with httpx.AsyncClient() as client, client.stream("GET", url) as response:
        async for event in read_events(response.aiter_lines()):
            print(event.event, event.data)
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any

__all__ = ["SseEvent", "read_events"]


@dataclasses.dataclass(frozen=True)
class SseEvent:
    """One event of a stream: its name (`message` when unnamed), JSON-decoded data and id."""

    event: str
    data: Any
    id: str | None = None


async def read_events(lines: AsyncIterable[str]) -> AsyncGenerator[SseEvent, None]:
    """Yield each event of an SSE stream given as lines (without their line breaks), such as
    httpx's `response.aiter_lines()`; comments such as keep-alive pings are skipped."""
    fields: dict[str, list[str]] = {}
    async for line in lines:
        if line == "":
            if "data" in fields:
                yield SseEvent(
                    event=fields.get("event", ["message"])[-1],
                    data=json.loads("\n".join(fields["data"])),
                    id=fields["id"][-1] if "id" in fields else None,
                )
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields.setdefault(name, []).append(value.removeprefix(" "))
