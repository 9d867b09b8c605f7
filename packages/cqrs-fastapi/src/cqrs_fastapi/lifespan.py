"""Application lifespan: open brokers on startup, close them on shutdown, run relays meanwhile.

Example::

    app = fastapi.FastAPI(lifespan=cqrs_lifespan(brokers=[broker], relays=[relay]))
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from cqrs.outbox.relay import OutboxRelay
from cqrs.redaction import redact_text
from cqrs_fastapi._logging import log_redacted

__all__ = ["cqrs_lifespan", "open_brokers", "running_relays"]

_Lifespan = Callable[[Any], contextlib.AbstractAsyncContextManager[Any]]


async def _call_first(target: object, names: Sequence[str]) -> None:
    for name in names:
        method = getattr(target, name, None)
        if method is not None:
            await method()
            return


@contextlib.asynccontextmanager
async def open_brokers(brokers: Sequence[object]) -> AsyncIterator[None]:
    """Connect each broker (`connect()` or `start()`, if it has one) and close them all on exit
    (`close()` or `stop()`), in reverse order, even when one fails to close."""
    opened: list[object] = []
    try:
        for broker in brokers:
            await _call_first(broker, ("connect", "start"))
            opened.append(broker)
        yield
    finally:
        for broker in reversed(opened):
            try:
                await _call_first(broker, ("close", "stop"))
            except Exception as error:
                log_redacted(f"closing broker {redact_text(repr(broker))} failed", error)


@contextlib.asynccontextmanager
async def running_relays(relays: Sequence[OutboxRelay]) -> AsyncIterator[None]:
    """Run each relay's `run()` as a background task for the block; on exit ask them to stop
    and wait until each has settled the batch in hand, so nothing claimed is left leased."""
    tasks = [asyncio.create_task(relay.run(), name=f"relay {relay.worker_id}") for relay in relays]
    try:
        yield
    finally:
        for relay in relays:
            relay.stop()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        for task, outcome in zip(tasks, outcomes, strict=True):
            if isinstance(outcome, Exception):
                log_redacted(f"outbox relay task {task.get_name()} failed", outcome)


def cqrs_lifespan(
    *,
    brokers: Sequence[object] = (),
    relays: Sequence[OutboxRelay] = (),
    then: _Lifespan | None = None,
) -> _Lifespan:
    """A FastAPI `lifespan`: opens `brokers`, starts `relays` in-process, then enters the
    application's own lifespan `then` (if any); shutdown runs in reverse."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        async with open_brokers(brokers), running_relays(relays):
            if then is None:
                yield None
            else:
                async with then(app) as state:
                    yield state

    return lifespan
