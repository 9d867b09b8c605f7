"""Wake-ups for idle relays on PostgreSQL: a dedicated connection `LISTEN`s on the outbox's
channel and sets an event on each notification; a lost connection is reopened with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from cqrs.backoff import ExponentialBackoff

__all__: list[str] = []

_log = logging.getLogger("cqrs.sqla")

_HEALTH_SECONDS = 30.0
"""How often an idle listener checks its connection (a silent network drop sends no RST)."""


class _Listener:
    """Keeps one `LISTEN` connection open while running and sets `event` on each notification.

    Setting `event` once more after every (re)connection makes the relay look for rows inserted
    while nobody listened; in between, the relay's polling delivers them anyway.
    """

    def __init__(self, engine: AsyncEngine, channel: str, backoff: ExponentialBackoff) -> None:
        self.engine = engine
        self.channel = channel
        self.backoff = backoff
        self.event = asyncio.Event()

    def _notified(self, *_: Any) -> None:
        self.event.set()

    async def run(self) -> None:
        """Listen until cancelled, reconnecting after a lost connection (one log line)."""
        failures = 0
        while True:
            try:
                await self._listen_once(recovered=failures > 0)
                reason = "connection closed"
            except Exception as error:
                reason = f"{type(error).__name__}: {error}".replace("\n", " ")
            failures += 1
            if failures == 1:
                _log.warning(
                    "outbox listener on %r lost (%s); relays poll until it reconnects",
                    self.channel,
                    reason,
                )
            await asyncio.sleep(self.backoff.delay(failures))

    async def _listen_once(self, *, recovered: bool) -> None:
        """Open a connection, `LISTEN`, and return once it is lost."""
        conn = await self.engine.connect()
        try:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            lost = asyncio.Event()
            driver.add_termination_listener(lambda _connection: lost.set())
            await driver.add_listener(self.channel, self._notified)
            if recovered:
                _log.warning("outbox listener on %r reconnected", self.channel)
            self.event.set()
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), _HEALTH_SECONDS)
                    return
                await asyncio.wait_for(driver.execute("SELECT 1"), _HEALTH_SECONDS / 3)
        finally:
            # The connection never goes back to the pool: it would keep listening there.
            with contextlib.suppress(Exception):
                await asyncio.shield(_discard(conn))


async def _discard(conn: Any) -> None:
    await conn.invalidate()
    await conn.close()


@contextlib.asynccontextmanager
async def listening(
    engine: AsyncEngine, channel: str, backoff: ExponentialBackoff
) -> AsyncIterator[asyncio.Event]:
    """An event set on each notification on `channel` while the context is open."""
    listener = _Listener(engine, channel, backoff)
    task = asyncio.create_task(listener.run(), name=f"cqrs-listen-{channel}")
    try:
        yield listener.event
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
