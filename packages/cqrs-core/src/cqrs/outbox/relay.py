"""The outbox relay: claims rows under a lease, publishes them in key order, settles them.

Run one per process (or several per process with different worker ids); any number may share
an outbox. Delivery is at least once: a row is marked published only after the broker
accepted it, so a crash in between republishes it later (consumers deduplicate by event id,
for example with an inbox).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from cqrs.outbox.backoff import ExponentialBackoff
from cqrs.protocols.message_broker import Message, MessageBroker
from cqrs.protocols.outbox import OutboxedEvent, OutboxedEventRepository, OutboxStatus

__all__ = ["OutboxRelay", "RelayCounters"]

_log = logging.getLogger("cqrs.outbox.relay")

_Outcome = tuple[list[OutboxedEvent], list[OutboxedEvent]]
"""What publishing a batch gave: the rows the broker accepted, and the rows to release."""

_BATCHES_IN_FLIGHT = 2
"""Batches `run_until_idle` publishes at once (their keys are disjoint, see there)."""


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclasses.dataclass(slots=True)
class RelayCounters:
    """What a relay has done since it started."""

    published: int = 0
    retried: int = 0
    dead_lettered: int = 0
    released: int = 0
    batches: int = 0
    errors: int = 0


class OutboxRelay:
    """Moves events from an outbox to a broker until stopped.

    Each round claims up to `batch_size` rows for `lease_seconds`, publishes rows of different
    partition keys concurrently (at most `max_in_flight` at once) and rows of one key one after
    another in write order; a broker with `send_many` gets them in pipelined calls instead (one
    row per key per call, the next row of a key only once the previous one is confirmed). A
    refused row is retried after an exponential backoff with jitter; after `max_attempts` it is
    dead-lettered, holding back the later rows of its key. Rows whose lease is nearly over are
    released unpublished rather than risk a second worker publishing them at the same time.
    While there is work, `run` keeps two batches in flight (their keys never overlap), settling
    one and claiming the next while the broker confirms the other; rows claimed but not yet
    sent when it stops are released.
    """

    def __init__(
        self,
        outbox: OutboxedEventRepository[Any],
        broker: MessageBroker,
        *,
        worker_id: str | None = None,
        batch_size: int = 500,
        lease_seconds: float = 30.0,
        max_attempts: int = 10,
        backoff: ExponentialBackoff | None = None,
        max_in_flight: int = 1000,
        poll_interval: float = 0.05,
        max_poll_interval: float = 0.25,
        clock: Callable[[], datetime.datetime] = _utcnow,
    ) -> None:
        if batch_size < 1 or max_in_flight < 1 or max_attempts < 1:
            raise ValueError("batch_size, max_in_flight and max_attempts must be at least 1")
        self.outbox = outbox
        self.broker = broker
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.backoff = backoff or ExponentialBackoff()
        self.max_in_flight = max_in_flight
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.counters = RelayCounters()
        self._clock = clock
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Ask `run` to finish the batch in hand and return."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        """Whether `stop` was called."""
        return self._stopping.is_set()

    async def run(self) -> RelayCounters:
        """Relay until `stop` is called; polls faster while there is work, slower when idle."""
        _log.info("outbox relay %s started (batch %d)", self.worker_id, self.batch_size)
        idle = self.poll_interval
        while not self._stopping.is_set():
            try:
                handled = await self.run_until_idle()
            except Exception:
                self.counters.errors += 1
                _log.exception("outbox relay %s: round failed; retrying", self.worker_id)
                handled = 0
            if handled:
                idle = self.poll_interval
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), idle)
            idle = min(idle * 2, self.max_poll_interval)
        _log.info("outbox relay %s stopped: %s", self.worker_id, self.counters)
        return self.counters

    async def run_once(self) -> int:
        """Claim and publish one batch; returns how many rows were claimed."""
        claimed = await self._claim()
        if claimed is None:
            return 0
        await self._settle(await self._publish(*claimed))
        return len(claimed[0])

    async def run_until_idle(self) -> int:
        """Relay batches back to back until a claim finds nothing or `stop` is called.

        Two batches are in flight at once: while one awaits the broker's confirmations, the
        batch before it is settled, the next one claimed and its publishing started, so the
        broker and the database always have work. Key order still holds: the rows of a batch
        being published are leased, hence unsettled, and hold back every later row of their
        keys from the claims made meanwhile, so batches in flight together never share a key.
        Returns how many rows were claimed.
        """
        total = 0
        publishing: collections.deque[asyncio.Future[_Outcome]] = collections.deque()
        try:
            claimed = await self._claim()
            while claimed is not None or publishing:
                if claimed is not None:
                    total += len(claimed[0])
                    publishing.append(asyncio.ensure_future(self._publish(*claimed)))
                if claimed is None or len(publishing) == _BATCHES_IN_FLIGHT:
                    # A claim that found nothing may only have been held back by rows in
                    # flight: settle the oldest batch, then look again.
                    await self._settle(await publishing.popleft())
                claimed = None if self._stopping.is_set() else await self._claim()
        except BaseException:
            await self._abandon(publishing)
            raise
        return total

    async def _claim(self) -> tuple[Sequence[OutboxedEvent], float] | None:
        """A freshly leased batch and the monotonic time its lease started, or `None`."""
        started = time.monotonic()
        batch = await self.outbox.claim(
            worker_id=self.worker_id, batch_size=self.batch_size, lease_seconds=self.lease_seconds
        )
        if not batch:
            return None
        self.counters.batches += 1
        return batch, started

    async def _abandon(self, publishing: collections.deque[asyncio.Future[_Outcome]]) -> None:
        """After a failure: settle the batches still publishing, or cancel them if this task is
        being cancelled (their rows stay leased until the lease ends, then go out again)."""
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            for future in publishing:
                future.cancel()
            await asyncio.gather(*publishing, return_exceptions=True)
            return
        for future in publishing:
            with contextlib.suppress(Exception):
                await self._settle(await future)

    async def _publish(self, batch: Sequence[OutboxedEvent], started: float) -> _Outcome:
        """Publish a claimed batch; returns the rows published and the rows to release."""
        deadline = started + self.lease_seconds * 0.8
        send_many = getattr(self.broker, "send_many", None)
        if callable(send_many):
            return await self._publish_in_waves(batch, deadline, send_many)
        return await self._publish_each(_sequences(batch), deadline)

    async def _settle(self, outcome: _Outcome) -> None:
        """Mark published rows as such and release the leftovers."""
        published, leftovers = outcome
        if published:
            settled = await self.outbox.mark_published(published, worker_id=self.worker_id)
            self.counters.published += settled
            if settled < len(published):
                _log.warning(
                    "outbox relay %s: %d rows were published after their lease ended "
                    "(another worker may publish them again)",
                    self.worker_id,
                    len(published) - settled,
                )
        if leftovers:
            await self.outbox.release(leftovers, worker_id=self.worker_id)
            self.counters.released += len(leftovers)

    def _past(self, deadline: float) -> bool:
        return self._stopping.is_set() or time.monotonic() > deadline

    async def _publish_each(
        self, sequences: list[list[OutboxedEvent]], deadline: float
    ) -> tuple[list[OutboxedEvent], list[OutboxedEvent]]:
        """One `send_message` per row: sequences concurrently, each sequence's rows in order."""
        published: list[OutboxedEvent] = []
        leftovers: list[OutboxedEvent] = []
        limit = asyncio.Semaphore(self.max_in_flight)

        async def publish_sequence(rows: list[OutboxedEvent]) -> None:
            for index, row in enumerate(rows):
                if self._past(deadline):
                    leftovers.extend(rows[index:])
                    return
                try:
                    async with limit:
                        await self.broker.send_message(row.to_message())
                except Exception as exc:
                    await self._failed(row, exc)
                    leftovers.extend(rows[index + 1 :])
                    return
                published.append(row)

        await asyncio.gather(*(publish_sequence(rows) for rows in sequences))
        return published, leftovers

    async def _publish_in_waves(
        self,
        batch: Sequence[OutboxedEvent],
        deadline: float,
        send_many: Callable[[list[Message]], Awaitable[None]],
    ) -> tuple[list[OutboxedEvent], list[OutboxedEvent]]:
        """Pipelined `send_many` calls of at most `max_in_flight` rows, one row per sequence.

        Wave n holds the n-th row of every sequence whose earlier rows were all accepted, so a
        row is never sent before the broker confirmed the previous row of its key. When a call
        fails, its rows are sent again one by one (those it delivered arrive twice, which at
        least once allows) to learn which were refused: a refused row is failed and the rest
        of its sequence released, as with `send_message`.
        """
        published: list[OutboxedEvent] = []
        leftovers: list[OutboxedEvent] = []
        waiting = [collections.deque(rows) for rows in _sequences(batch)]
        while waiting:
            if self._past(deadline):
                for rows in waiting:
                    leftovers.extend(rows)
                break
            heads = [rows[0] for rows in waiting]
            refused: set[int] = set()
            for start in range(0, len(heads), self.max_in_flight):
                chunk = heads[start : start + self.max_in_flight]
                try:
                    await send_many([row.to_message() for row in chunk])
                except Exception as exc:
                    _log.warning(
                        "outbox relay %s: sending %d rows together failed (%r); "
                        "sending them one by one",
                        self.worker_id,
                        len(chunk),
                        exc,
                    )
                    sent, unsent = await self._publish_each([[row] for row in chunk], deadline)
                    accepted = {row.id for row in sent}
                    refused.update(row.id for row in chunk if row.id not in accepted)
                    # Rows not tried (deadline or stop) are released like refused ones but
                    # without a failure; `_publish_each` put them in `unsent`.
                    leftovers.extend(unsent)
            still: list[collections.deque[OutboxedEvent]] = []
            for rows in waiting:
                head = rows.popleft()
                if head.id in refused:
                    leftovers.extend(rows)
                    continue
                published.append(head)
                if rows:
                    still.append(rows)
            waiting = still
        return published, leftovers

    async def _failed(self, row: OutboxedEvent, exc: Exception) -> None:
        attempts = row.attempts + 1
        error = f"{type(exc).__name__}: {exc}"[:2000]
        retry_at: datetime.datetime | None = None
        if attempts < self.max_attempts:
            retry_at = self._clock() + datetime.timedelta(seconds=self.backoff.delay(attempts))
        status = await self.outbox.mark_failed(
            row, worker_id=self.worker_id, error=error, retry_at=retry_at
        )
        if status is OutboxStatus.DEAD:
            self.counters.dead_lettered += 1
            _log.error(
                "outbox row %d (%s %s, key %r) dead-lettered after %d attempts: %s",
                row.id,
                row.event_name,
                row.event_id,
                row.partition_key,
                attempts,
                error,
            )
        else:
            self.counters.retried += 1
            _log.warning(
                "outbox row %d (%s) failed attempt %d, retrying at %s: %s",
                row.id,
                row.event_name,
                attempts,
                retry_at,
                error,
            )


def _sequences(batch: Sequence[OutboxedEvent]) -> list[list[OutboxedEvent]]:
    """Rows grouped so each group must be published in order: one group per key, keyless alone."""
    by_key: dict[str, list[OutboxedEvent]] = {}
    groups: list[list[OutboxedEvent]] = []
    for row in batch:
        if row.partition_key is None:
            groups.append([row])
        elif row.partition_key in by_key:
            by_key[row.partition_key].append(row)
        else:
            by_key[row.partition_key] = group = [row]
            groups.append(group)
    return groups
