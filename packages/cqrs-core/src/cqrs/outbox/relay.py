"""The outbox relay: claims rows under a lease, publishes them in key order, settles them.

Run one per process (or several per process with different worker ids); any number may share
an outbox. Delivery is at least once: a row is marked published only after the broker
accepted it, so a crash in between republishes it later (consumers deduplicate by event id,
for example with an inbox).

Failures are split as `cqrs.faults` describes. A **message fault** (the broker refuses this
row: too large, invalid topic, cannot be encoded) charges the row an attempt and, after
`max_attempts`, dead-letters it with its key parked behind it. A **destination fault** (the
broker or a topic is unavailable, the credentials are refused, nothing is bound to the topic
yet, the broker pushes back, the database is down) charges nothing and dead-letters nothing:
the rows are handed back with a retry time, the relay backs off (per topic when only a topic
is affected, so other topics keep flowing), logs one line when the outage starts and one when
it ends, and resumes by itself.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from cqrs.backoff import ExponentialBackoff
from cqrs.brokers.message import Message
from cqrs.brokers.protocol import MessageBroker
from cqrs.clock import utcnow
from cqrs.errors import PublishBatchError
from cqrs.faults import Fault, classify
from cqrs.interception._chain import Interception, SendMany, SendOne
from cqrs.interception.interceptor import Interceptor
from cqrs.outbox.protocol import OutboxedEvent, OutboxedEventRepository, OutboxStatus
from cqrs.redaction import redact_text

__all__ = ["BROKER", "DATABASE", "Outage", "OutboxRelay", "RelayBatch", "RelayCounters"]

_log = logging.getLogger("cqrs.outbox.relay")

BROKER = "broker"
"""`Outage.scope` of an outage of the whole broker."""

DATABASE = "database"
"""`Outage.scope` of an outage of the outbox's database."""

_BATCHES_IN_FLIGHT = 2
"""Batches `run_until_idle` publishes at once (their keys are disjoint, see there)."""

_MAX_ERROR_CHARS = 2000

_HELD_BACK_FACTOR = 8
"""A relay whose claims find every waiting key held by other relays (an outbox with
`held_back`) waits up to this many `max_poll_interval`s between claims (2 s by default)."""


def _describe(error: BaseException) -> str:
    """`error` as one line for logs and the outbox's `last_error`, secrets redacted."""
    text = f"{type(error).__name__}: {error}".replace("\n", " ")
    return redact_text(text)[:_MAX_ERROR_CHARS]


@dataclasses.dataclass(slots=True)
class RelayCounters:
    """What a relay has done since it started."""

    published: int = 0
    retried: int = 0
    """Rows refused for a fault of their own, to be tried again after a backoff."""
    dead_lettered: int = 0
    released: int = 0
    """Rows handed back unpublished without a charge (stopping, lease nearly over, held back)."""
    batches: int = 0
    errors: int = 0
    """Rounds that failed for a reason other than an unavailable database."""
    deferred: int = 0
    """Rows handed back with a retry time because their destination was unavailable."""
    outages: int = 0
    """Outages (of the broker, a topic or the database) that started."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RelayBatch:
    """What became of one claimed batch, once settled: given to the interceptors'
    `on_relay_batch` (metrics, spans) by every relay."""

    worker_id: str
    claimed: int
    published: Sequence[OutboxedEvent]
    retried: Sequence[OutboxedEvent]
    """Refused for a fault of their own, to be tried again after a backoff."""
    dead_lettered: Sequence[OutboxedEvent]
    released: int
    """Handed back unpublished without a charge (stopping, lease nearly over, held back)."""
    deferred: int
    """Handed back until their unavailable destination is expected back."""
    started: float
    """`time.time()` when the batch was claimed."""
    seconds: float
    """From the claim to the end of the settlement."""


@dataclasses.dataclass(frozen=True, slots=True)
class Outage:
    """A destination the relay is waiting for: `BROKER`, `DATABASE` or a topic name."""

    scope: str
    reason: str
    """The last error, secrets redacted."""
    since: datetime.datetime
    failures: int
    """Failed tries since the outage started."""
    retry_at: datetime.datetime
    """When the relay tries this destination again."""


@dataclasses.dataclass(slots=True)
class _Outcome:
    """What publishing a batch gave: rows accepted, rows to hand back, rows to hold back."""

    published: list[OutboxedEvent] = dataclasses.field(default_factory=list)
    leftovers: list[OutboxedEvent] = dataclasses.field(default_factory=list)
    deferred: dict[str, list[OutboxedEvent]] = dataclasses.field(default_factory=dict)
    retried: list[OutboxedEvent] = dataclasses.field(default_factory=list)
    dead: list[OutboxedEvent] = dataclasses.field(default_factory=list)
    claimed: int = 0
    started: float = 0.0
    """Loop time of the claim."""

    def defer(self, scope: str, rows: Sequence[OutboxedEvent]) -> None:
        if rows:
            self.deferred.setdefault(scope, []).extend(rows)


class OutboxRelay:
    """Moves events from an outbox to a broker until stopped.

    Each round claims up to `batch_size` rows for `lease_seconds`, publishes rows of different
    partition keys concurrently (at most `max_in_flight` at once) and rows of one key one after
    another in write order; a broker with `send_many` gets them in pipelined calls instead (one
    row per key per call, the next row of a key only once the previous one is confirmed). A row
    refused for a fault of its own is retried after an exponential backoff with jitter; after
    `max_attempts` it is dead-lettered, holding back the later rows of its key. A row whose
    destination is unavailable is held back without a charge until `destination_backoff` says
    to try again. Rows whose lease is nearly over are released unpublished rather than risk a
    second worker publishing them at the same time, and a send still unconfirmed then counts as
    the broker not answering. While there is work, `run` keeps two batches in flight (their
    keys never overlap), settling one and claiming the next while the broker confirms the
    other; rows claimed but not yet sent when it stops are released.
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
        destination_backoff: ExponentialBackoff | None = None,
        max_in_flight: int = 1000,
        poll_interval: float = 0.05,
        max_poll_interval: float = 0.25,
        clock: Callable[[], datetime.datetime] = utcnow,
        interceptors: Sequence[Interceptor] = (),
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
        self.destination_backoff = destination_backoff or ExponentialBackoff(base=0.5, cap=30.0)
        self.max_in_flight = max_in_flight
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.counters = RelayCounters()
        self._clock = clock
        self._stopping = asyncio.Event()
        self._outages: dict[str, Outage] = {}
        self._tries = 0
        """Tries so far: each round and each batch published is one; an outage's `failures`
        grows at most once per try, however many of its rows were refused."""
        self._charged: dict[str, int] = {}
        self._failing_rounds = 0
        self._interception = Interception(interceptors, watcher=self)
        self._intercepted: tuple[SendOne, SendMany | None] | None = None
        self._reintercept()

    def _reintercept(self) -> None:
        """Wrap the broker's sends in the publish interceptors (`None`: use the broker's own,
        looked up at each batch)."""
        self._intercepted = self._interception.publishers(self.broker, "relay")
        self._observers = self._interception.observers("on_relay_batch")

    def _senders(self) -> tuple[SendOne, SendMany | None]:
        if self._intercepted is not None:
            return self._intercepted
        send_many = getattr(self.broker, "send_many", None)
        return self.broker.send_message, send_many if callable(send_many) else None

    def stop(self) -> None:
        """Ask `run` to finish the batch in hand and return."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        """Whether `stop` was called."""
        return self._stopping.is_set()

    @property
    def outages(self) -> list[Outage]:
        """The destinations this relay is waiting for right now (empty when all is well)."""
        return list(self._outages.values())

    async def run(self) -> RelayCounters:
        """Relay until `stop` is called; polls faster while there is work, slower when idle.

        An outbox with a `wakeups()` async context manager yielding an `asyncio.Event` (the SQL
        outbox on PostgreSQL) ends an idle wait as soon as the event is set, so a commit is
        relayed at once; polling goes on beside it, and is all there is without one. An outbox
        whose `held_back` is true after a claim that took nothing (other relays hold every waiting
        key) makes the relay wait longer instead, from `max_poll_interval` doubling to eight
        times it, and commits do not wake it: they free no key.

        A round that fails because the database is unavailable starts a `DATABASE` outage
        (one log line) and is retried with backoff; any other failing round is logged with its
        traceback, also with backoff, so a persistent fault cannot flood the log.
        """
        _log.info("outbox relay %s started (batch %d)", self.worker_id, self.batch_size)
        wakeups = getattr(self.outbox, "wakeups", None)
        async with wakeups() if callable(wakeups) else contextlib.nullcontext() as wake:
            await self._relay(wake if isinstance(wake, asyncio.Event) else None)
        _log.info("outbox relay %s stopped: %s", self.worker_id, self.counters)
        return self.counters

    async def _relay(self, wake: asyncio.Event | None) -> None:
        """`run`'s loop; an idle wait also ends when `wake` is set (a commit was notified)."""
        idle = self.poll_interval
        held = 0.0
        while not self._stopping.is_set():
            if wake is not None:
                wake.clear()
            try:
                handled = await self.run_until_idle()
            except Exception as error:
                await self._pause(self._round_failed(error))
                continue
            self._recovered(DATABASE)
            self._failing_rounds = 0
            if handled:
                idle, held = self.poll_interval, 0.0
                if not self._holding(BROKER):
                    continue
            broker_down = self._outages.get(BROKER)
            if broker_down is not None:
                wait = max(idle, (broker_down.retry_at - self._clock()).total_seconds())
                await self._pause(wait)
            elif not handled and getattr(self.outbox, "held_back", False):
                # Other relays hold every waiting key: commits do not free keys, and looking
                # again at once only costs the database a claim; back off further instead.
                held = max(held * 2, self.max_poll_interval)
                await self._pause(min(held, self.max_poll_interval * _HELD_BACK_FACTOR))
                continue
            else:
                await self._pause(idle, wake)
            held = 0.0
            idle = min(idle * 2, self.max_poll_interval)

    async def _pause(self, seconds: float, wake: asyncio.Event | None = None) -> None:
        """Sleep `seconds`, or less if `stop` is called (or `wake` is set) meanwhile."""
        if seconds <= 0:
            return
        if wake is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)
            return
        waits = [asyncio.ensure_future(self._stopping.wait()), asyncio.ensure_future(wake.wait())]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    def _round_failed(self, error: Exception) -> float:
        """Record a failed round; returns the seconds to wait before the next one."""
        self._tries += 1
        if classify(error) is Fault.DESTINATION:
            return self._unavailable(DATABASE, error).total_seconds()
        self.counters.errors += 1
        self._failing_rounds += 1
        delay = self.destination_backoff.delay(self._failing_rounds)
        _log.exception(
            "outbox relay %s: round failed (%s); retrying in %.1f s",
            self.worker_id,
            _describe(error),
            delay,
            exc_info=error,
        )
        return delay

    async def run_once(self) -> int:
        """Claim and publish one batch; returns how many rows were claimed."""
        claimed = await self._claim()
        if claimed is None:
            return 0
        await self._settle(await self._publish(*claimed))
        return len(claimed[0])

    async def run_until_idle(self) -> int:
        """Relay batches back to back until a claim finds nothing, the broker is unavailable or
        `stop` is called.

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
                claimed = None
                if not self._stopping.is_set() and not self._holding(BROKER):
                    claimed = await self._claim()
        except BaseException:
            await self._abandon(publishing)
            raise
        return total

    async def _claim(self) -> tuple[Sequence[OutboxedEvent], float] | None:
        """A freshly leased batch and the loop time its lease started, or `None`."""
        started = asyncio.get_running_loop().time()
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
        """Publish a claimed batch; returns what was published, released and held back."""
        deadline = started + self.lease_seconds * 0.8
        outcome = _Outcome(claimed=len(batch), started=started)
        self._tries += 1
        send_many = self._senders()[1]
        if send_many is not None:
            await self._publish_in_waves(batch, deadline, send_many, outcome)
        else:
            await self._publish_each(_sequences(batch), deadline, outcome)
        return outcome

    async def _settle(self, outcome: _Outcome) -> None:
        """Mark published rows as such, release the leftovers, hold back the deferred rows."""
        published = outcome.published
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
        if outcome.leftovers:
            await self.outbox.release(outcome.leftovers, worker_id=self.worker_id)
            self.counters.released += len(outcome.leftovers)
        for scope, rows in outcome.deferred.items():
            outage = self._outages.get(scope)
            retry_at = outage.retry_at if outage is not None else self._clock()
            await self.outbox.release(rows, worker_id=self.worker_id, retry_at=retry_at)
            self.counters.deferred += len(rows)
        if self._observers:
            self._report(outcome)

    def _report(self, outcome: _Outcome) -> None:
        """Tell the `on_relay_batch` interceptors how the batch ended; their failures are
        logged, never the relay's."""
        seconds = asyncio.get_running_loop().time() - outcome.started
        batch = RelayBatch(
            worker_id=self.worker_id,
            claimed=outcome.claimed,
            published=outcome.published,
            retried=outcome.retried,
            dead_lettered=outcome.dead,
            released=len(outcome.leftovers),
            deferred=sum(len(rows) for rows in outcome.deferred.values()),
            started=time.time() - seconds,
            seconds=seconds,
        )
        for observe in self._observers:
            try:
                observe(batch)
            except Exception:
                _log.exception(
                    "outbox relay %s: an on_relay_batch interceptor failed", self.worker_id
                )

    def _past(self, deadline: float) -> bool:
        return self._stopping.is_set() or asyncio.get_running_loop().time() > deadline

    def _scope(self, error: BaseException) -> str:
        """The destination an unavailable-destination `error` concerns: a topic or `BROKER`."""
        topic = getattr(error, "topic", None)
        return topic if isinstance(topic, str) and topic else BROKER

    def _holding(self, scope: str) -> bool:
        """Whether rows of `scope` wait: it is unavailable and its retry time has not come."""
        outage = self._outages.get(scope)
        return outage is not None and outage.retry_at > self._clock()

    def _blocked(self, row: OutboxedEvent) -> str | None:
        """The outage scope that holds `row` back in this round, if any."""
        if not self._outages:
            return None
        if self._holding(BROKER):
            return BROKER
        return row.topic if self._holding(row.topic) else None

    def _unavailable(self, scope: str, error: BaseException) -> datetime.timedelta:
        """Record that `scope` is unavailable; returns how long to wait before trying it again.

        Logs when the outage starts; further failures during it are logged at debug level.
        """
        now = self._clock()
        reason = _describe(error)
        outage = self._outages.get(scope)
        if outage is not None and self._charged.get(scope) == self._tries:
            # Another row of the same try: the try failed once, whatever its size.
            self._outages[scope] = dataclasses.replace(outage, reason=reason)
            return outage.retry_at - now
        self._charged[scope] = self._tries
        failures = 1 if outage is None else outage.failures + 1
        ceiling = self.destination_backoff.delay(failures, rng=_NO_JITTER)
        delay = datetime.timedelta(seconds=random.uniform(ceiling / 2, ceiling))
        if outage is None:
            self.counters.outages += 1
            what = scope if scope in (BROKER, DATABASE) else f"topic {scope!r}"
            _log.warning(
                "outbox relay %s: %s unavailable (%s); holding its rows back (no attempt is "
                "charged) and retrying with backoff",
                self.worker_id,
                what,
                reason,
            )
        else:
            _log.debug("outbox relay %s: %s still unavailable: %s", self.worker_id, scope, reason)
        since = now if outage is None else outage.since
        self._outages[scope] = Outage(scope, reason, since, failures, now + delay)
        return delay

    def _recovered(self, scope: str) -> None:
        """Close the outage of `scope`, if there is one (one log line)."""
        outage = self._outages.pop(scope, None)
        if outage is not None:
            self._charged.pop(scope, None)
            what = scope if scope in (BROKER, DATABASE) else f"topic {scope!r}"
            down = (self._clock() - outage.since).total_seconds()
            _log.warning(
                "outbox relay %s: %s available again after %.1f s (%d failed tries)",
                self.worker_id,
                what,
                down,
                outage.failures,
            )

    def _delivered(self, row: OutboxedEvent, outcome: _Outcome) -> None:
        outcome.published.append(row)
        if self._outages:
            self._recovered(BROKER)
            self._recovered(row.topic)

    async def _refused(
        self,
        row: OutboxedEvent,
        error: BaseException,
        rest: Sequence[OutboxedEvent],
        outcome: _Outcome,
    ) -> str | None:
        """Settle a row the broker did not accept, and hand back the rest of its sequence.

        Returns the outage scope the row was held back for, or `None` for a fault of its own.
        """
        if classify(error) is Fault.DESTINATION:
            scope = self._scope(error)
            self._unavailable(scope, error)
            outcome.defer(scope, [row, *rest])
            return scope
        await self._failed(row, error, outcome)
        outcome.leftovers.extend(rest)
        return None

    async def _publish_each(
        self, sequences: list[list[OutboxedEvent]], deadline: float, outcome: _Outcome
    ) -> None:
        """One `send_message` per row: sequences concurrently, each sequence's rows in order."""
        limit = asyncio.Semaphore(self.max_in_flight)
        done: set[int] = set()
        send_one = self._senders()[0]

        async def publish_sequence(rows: list[OutboxedEvent]) -> None:
            for index, row in enumerate(rows):
                if self._past(deadline):
                    return
                blocked = self._blocked(row)
                if blocked is not None:
                    outcome.defer(blocked, rows[index:])
                    done.update(r.id for r in rows[index:])
                    return
                try:
                    async with limit:
                        await send_one(row.to_message())
                except Exception as exc:
                    done.update(r.id for r in rows[index:])
                    await self._refused(row, exc, rows[index + 1 :], outcome)
                    return
                done.add(row.id)
                self._delivered(row, outcome)

        try:
            async with asyncio.timeout_at(deadline + self.lease_seconds * 0.1) as timer:
                await asyncio.gather(*(publish_sequence(rows) for rows in sequences))
        except TimeoutError:
            if not timer.expired():
                raise
            self._unavailable(BROKER, TimeoutError("the broker did not confirm in time"))
        unsent = [row for rows in sequences for row in rows if row.id not in done]
        if self._holding(BROKER):
            outcome.defer(BROKER, unsent)
        else:
            outcome.leftovers.extend(unsent)

    async def _publish_in_waves(
        self,
        batch: Sequence[OutboxedEvent],
        deadline: float,
        send_many: Callable[[list[Message]], Awaitable[None]],
        outcome: _Outcome,
    ) -> None:
        """Pipelined `send_many` calls of at most `max_in_flight` rows, one row per sequence.

        Wave n holds the n-th row of every sequence whose earlier rows were all accepted, so a
        row is never sent before the broker confirmed the previous row of its key. A broker
        reporting per message (`PublishBatchError`) settles each row on its own verdict, with
        nothing sent twice; a call failing for an unavailable destination holds back all its
        rows; any other failure of a broker that does not say which rows it refused makes the
        relay send that call's rows one by one to find out (those delivered arrive twice,
        which at least once allows).
        """
        waiting = [collections.deque(rows) for rows in _sequences(batch)]
        while waiting:
            if self._past(deadline):
                for rows in waiting:
                    outcome.leftovers.extend(rows)
                return
            heads: list[OutboxedEvent] = []
            sending: list[collections.deque[OutboxedEvent]] = []
            for rows in waiting:
                blocked = self._blocked(rows[0])
                if blocked is not None:
                    outcome.defer(blocked, rows)
                else:
                    heads.append(rows[0])
                    sending.append(rows)
            refused: dict[int, str | None] = {}
            for start in range(0, len(heads), self.max_in_flight):
                chunk = heads[start : start + self.max_in_flight]
                if self._holding(BROKER):
                    refused.update(self._defer_chunk(chunk, BROKER, outcome))
                else:
                    refused.update(await self._send_chunk(chunk, deadline, send_many, outcome))
            waiting = []
            for rows in sending:
                head = rows.popleft()
                if head.id not in refused:
                    if rows:
                        waiting.append(rows)
                    continue
                scope = refused[head.id]  # the head itself is settled already
                if scope is None:
                    outcome.leftovers.extend(rows)
                else:
                    outcome.defer(scope, rows)

    async def _send_chunk(
        self,
        chunk: list[OutboxedEvent],
        deadline: float,
        send_many: Callable[[list[Message]], Awaitable[None]],
        outcome: _Outcome,
    ) -> dict[int, str | None]:
        """Send one wave's chunk and settle each row that was not delivered; returns those
        rows' ids, each with the outage scope it was held back for (`None`: its own fault, or
        not tried), so the caller can hand back the rows queued behind it the same way."""
        messages = [row.to_message() for row in chunk]
        try:
            async with asyncio.timeout_at(deadline + self.lease_seconds * 0.1) as timer:
                await send_many(messages)
        except PublishBatchError as batch_error:
            return await self._settle_partial(chunk, batch_error, outcome)
        except TimeoutError as error:
            if not timer.expired() and classify(error) is not Fault.DESTINATION:
                raise
            self._unavailable(BROKER, TimeoutError("the broker did not confirm in time"))
            return self._defer_chunk(chunk, BROKER, outcome)
        except Exception as error:
            if classify(error) is Fault.DESTINATION:
                scope = self._scope(error)
                self._unavailable(scope, error)
                return self._defer_chunk(chunk, scope, outcome)
            _log.warning(
                "outbox relay %s: sending %d rows together failed (%s); sending them one by one",
                self.worker_id,
                len(chunk),
                _describe(error),
            )
            singles = _Outcome()
            await self._publish_each([[row] for row in chunk], deadline, singles)
            outcome.published += singles.published
            outcome.leftovers += singles.leftovers
            verdicts: dict[int, str | None] = {row.id: None for row in chunk}
            for scope, rows in singles.deferred.items():
                outcome.defer(scope, rows)
                verdicts.update((row.id, scope) for row in rows)
            for row in singles.published:
                del verdicts[row.id]
            return verdicts
        for row in chunk:
            self._delivered(row, outcome)
        return {}

    def _defer_chunk(
        self, chunk: list[OutboxedEvent], scope: str, outcome: _Outcome
    ) -> dict[int, str | None]:
        outcome.defer(scope, chunk)
        return {row.id: scope for row in chunk}

    async def _settle_partial(
        self, chunk: list[OutboxedEvent], error: PublishBatchError, outcome: _Outcome
    ) -> dict[int, str | None]:
        """Settle each row of a chunk on the broker's own verdict for its message."""
        rows = {row.event_id: row for row in chunk}
        for message in error.delivered:
            row = rows.pop(message.message_id, None)
            if row is not None:
                self._delivered(row, outcome)
        verdicts: dict[int, str | None] = {}
        for message, refusal in error.failed:
            row = rows.pop(message.message_id, None)
            if row is not None:
                verdicts[row.id] = await self._refused(row, refusal, (), outcome)
        # Unsent rows, and rows the broker did not report on at all.
        scope = BROKER if self._holding(BROKER) else None
        for row in rows.values():
            verdicts[row.id] = scope
            if scope is None:
                outcome.leftovers.append(row)
            else:
                outcome.defer(scope, [row])
        return verdicts

    async def _failed(self, row: OutboxedEvent, exc: BaseException, outcome: _Outcome) -> None:
        attempts = row.attempts + 1
        error = _describe(exc)
        retry_at: datetime.datetime | None = None
        if attempts < self.max_attempts:
            retry_at = self._clock() + datetime.timedelta(seconds=self.backoff.delay(attempts))
        status = await self.outbox.mark_failed(
            row, worker_id=self.worker_id, error=error, retry_at=retry_at
        )
        if status is OutboxStatus.DEAD:
            self.counters.dead_lettered += 1
            outcome.dead.append(row)
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
            outcome.retried.append(row)
            _log.warning(
                "outbox row %d (%s) failed attempt %d, retrying at %s: %s",
                row.id,
                row.event_name,
                attempts,
                retry_at,
                error,
            )


class _NoJitter(random.Random):
    """A random source whose `uniform(a, b)` is `b`: the backoff's ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


_NO_JITTER = _NoJitter()


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
