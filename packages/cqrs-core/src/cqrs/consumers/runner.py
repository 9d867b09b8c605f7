"""`ConsumerRunner`: consumes through any `ConsumerTransport` into a `MessageDispatcher`.

Kafka, RabbitMQ and third-party brokers share this one runtime and supply only a transport::

    runner = ConsumerRunner(transport, dispatcher, concurrency=4)
    task = asyncio.create_task(runner.run())
    await runner.wait_started()  # raises DestinationUnavailableError if the broker is down
    ...
    runner.stop()  # the messages in hand are finished and acknowledged
    await task
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import zlib
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from cqrs.backoff import ExponentialBackoff
from cqrs.consumers.dead_letter import MAX_REASON_CHARS
from cqrs.consumers.dispatcher import MessageDispatcher, Verdict
from cqrs.consumers.transport import ConsumerTransport, Delivery
from cqrs.errors import DestinationUnavailableError
from cqrs.faults import Fault, classify

__all__ = ["ConsumerCounters", "ConsumerRunner"]

RawT = TypeVar("RawT")

_log = logging.getLogger("cqrs.consumers")

_Item = tuple[Delivery[Any], asyncio.Event]
"""A delivery queued for a worker, with the release event of the generation it came in."""


@dataclasses.dataclass(slots=True)
class ConsumerCounters:
    """What a runner did so far; a redelivered message counts again."""

    received: int = 0
    """Deliveries taken from the transport."""
    handled: int = 0
    """Deliveries the handlers handled."""
    duplicates: int = 0
    """Deliveries the inbox recognised as already handled."""
    dead_lettered: int = 0
    """Deliveries copied to the dead-letter destination."""
    truncated_dead_letters: int = 0
    """Dead letters sent truncated because the whole copy was refused or too large."""
    dead_letter_failures: int = 0
    """Failed attempts to send a dead letter (each was retried, or the delivery left)."""
    acked: int = 0
    """Deliveries acknowledged (committed)."""
    ack_failures: int = 0
    """Acknowledgements that failed: those deliveries come again."""
    left: int = 0
    """Deliveries left unacknowledged at a stop or withdrawal, to be delivered again."""
    retried: int = 0
    """Receives and dead-letter sends tried again after a destination fault."""


class ConsumerRunner(Generic[RawT]):
    """Feeds the deliveries of `transport` to `dispatcher` and acknowledges each when done.

    Deliveries of one key (`Delivery.key`) are handled one at a time in order; up to
    `concurrency` keys are handled at once, and at most `max_in_flight` deliveries are held
    (received, not yet finished). A delivery is acknowledged only after the dispatcher is done
    with it: handled, a duplicate, or dead-lettered (the transport stored the copy with the
    reason). A dead letter the broker cannot take is retried with `retry_backoff` for as long
    as it takes, holding its key; so is a failing `receive`. Both log one line when the trouble
    starts and one when it ends.

    `stop()` takes no new deliveries, finishes the ones in hand (acknowledging them), ends any
    wait on an unavailable destination at once (that delivery is left for redelivery), and
    closes the transport; deliveries still in hand `shutdown_timeout` seconds later are
    cancelled and left. A runner runs once.
    """

    def __init__(
        self,
        transport: ConsumerTransport[RawT],
        dispatcher: MessageDispatcher,
        *,
        concurrency: int = 1,
        max_in_flight: int | None = None,
        shutdown_timeout: float = 30.0,
        retry_backoff: ExponentialBackoff | None = None,
        name: str | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.transport = transport
        self.dispatcher = dispatcher
        self.concurrency = concurrency
        self.max_in_flight = max_in_flight or 16 * concurrency
        self.shutdown_timeout = shutdown_timeout
        self.retry_backoff = retry_backoff or ExponentialBackoff(base=0.1, cap=5.0)
        self.name = name or repr(transport)
        self.counters = ConsumerCounters()
        self._ran = False
        self._start_error: BaseException | None = None
        self._started = asyncio.Event()
        self._finished = asyncio.Event()
        self._stopping = asyncio.Event()
        self._release = asyncio.Event()
        """Set when the deliveries received so far are to be let go (stop, withdrawal)."""
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._in_flight = 0
        self._in_hand = 0
        self._lanes: list[asyncio.Queue[_Item | None]] = []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    @property
    def stopping(self) -> bool:
        """Whether `stop()` was called."""
        return self._stopping.is_set()

    @property
    def in_hand(self) -> int:
        """Deliveries being handled right now."""
        return self._in_hand

    def stop(self) -> None:
        """Ask `run()` to stop: no new deliveries; the ones in hand are finished."""
        self._stopping.set()
        self._release.set()

    def withdraw(self) -> None:
        """Let go of every delivery received so far (see `ConsumerControl.withdraw`)."""
        self._release.set()
        self._release = asyncio.Event()
        if self._stopping.is_set():
            self._release.set()

    async def finish_in_hand(self) -> bool:
        """Wait until no delivery is in hand, at most `shutdown_timeout` seconds."""
        if self._in_hand == 0:
            return True
        _log.info("%r finishing %d message(s) in hand", self, self._in_hand)
        try:
            async with asyncio.timeout(self.shutdown_timeout):
                await self._idle.wait()
        except TimeoutError:
            _log.warning(
                "%r: messages in hand not finished within %s s; they may be handled again",
                self,
                self.shutdown_timeout,
            )
            return False
        return True

    async def wait_started(self) -> None:
        """Return once `run()` consumes; raise if it ended before that.

        A broker that cannot be reached raises the same `DestinationUnavailableError` as
        `run()`; any other early end a `RuntimeError` naming the cause.
        """
        started = asyncio.ensure_future(self._started.wait())
        finished = asyncio.ensure_future(self._finished.wait())
        try:
            await asyncio.wait((started, finished), return_when=asyncio.FIRST_COMPLETED)
        finally:
            started.cancel()
            finished.cancel()
        if not self._started.is_set():
            error = self._start_error
            if isinstance(error, DestinationUnavailableError):
                raise error
            cause = f": {type(error).__name__}: {error}" if error is not None else ""
            raise RuntimeError(f"{self!r} ended before it started consuming{cause}") from error

    async def run(self) -> None:
        """Connect, consume until `stop()`, finish the deliveries in hand and close.

        Raises `DestinationUnavailableError` (one line) when the broker cannot be reached at
        start, and whatever else ends consuming (a fault of the transport that is not a
        destination's).
        """
        if self._ran:
            raise RuntimeError(f"{self!r} runs once; make a new one")
        self._ran = True
        try:
            await self._run()
        except BaseException as exc:
            if not self._started.is_set():
                self._start_error = exc
            raise
        finally:
            self._finished.set()

    async def _run(self) -> None:
        try:
            await self.transport.connect(self)
            self._lanes = [asyncio.Queue() for _ in range(self.concurrency)]
            workers = [asyncio.create_task(self._work(lane)) for lane in self._lanes]
            self._started.set()
            _log.info("%r consuming", self)
            try:
                await self._receive(workers)
                self.stop()
                await self._drain(workers)
            finally:
                self.stop()
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
        finally:
            await self.transport.close()
        _log.info("%r stopped: %s", self, _summary(self.counters))

    async def _receive(self, workers: Sequence[asyncio.Task[None]]) -> None:
        """Take deliveries and queue them to the workers until `stop()`."""
        stopping = asyncio.ensure_future(self._stopping.wait())
        pending: asyncio.Future[Sequence[Delivery[RawT]]] | None = None
        failures = 0
        try:
            while not self._stopping.is_set():
                room = self.max_in_flight - self._in_flight
                if room <= 0:
                    self._room.clear()
                    waiting = asyncio.ensure_future(self._room.wait())
                    try:
                        await asyncio.wait(
                            (waiting, stopping, *workers), return_when=asyncio.FIRST_COMPLETED
                        )
                    finally:
                        waiting.cancel()
                    _raise_if_ended(workers)
                    continue
                pending = asyncio.ensure_future(self.transport.receive(room))
                await asyncio.wait(
                    (pending, stopping, *workers), return_when=asyncio.FIRST_COMPLETED
                )
                _raise_if_ended(workers)
                if not pending.done():
                    break
                try:
                    deliveries = pending.result()
                except Exception as exc:
                    if classify(exc) is not Fault.DESTINATION:
                        raise
                    failures += 1
                    self.counters.retried += 1
                    if failures == 1:
                        _log.warning("%r cannot receive (%s); retrying until it can", self, exc)
                    await self._pause(self.retry_backoff.delay(failures), self._stopping)
                    continue
                finally:
                    pending = None
                if failures:
                    _log.warning("%r receiving again after %d failed attempt(s)", self, failures)
                    failures = 0
                self._queue(deliveries)
        finally:
            stopping.cancel()
            if pending is not None and not pending.done():
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)

    def _queue(self, deliveries: Sequence[Delivery[RawT]]) -> None:
        release = self._release
        lanes = self._lanes
        count = len(lanes)
        for delivery in deliveries:
            lane = zlib.crc32(delivery.key.encode()) % count if count > 1 else 0
            lanes[lane].put_nowait((delivery, release))
        self.counters.received += len(deliveries)
        self._in_flight += len(deliveries)

    async def _work(self, lane: asyncio.Queue[_Item | None]) -> None:
        while True:
            item = await lane.get()
            if item is None:
                return
            delivery, release = item
            try:
                if release.is_set():
                    self.counters.left += 1
                    continue
                self._in_hand += 1
                self._idle.clear()
                try:
                    await self._handle(delivery, release)
                finally:
                    self._in_hand -= 1
                    if self._in_hand == 0:
                        self._idle.set()
            finally:
                self._in_flight -= 1
                self._room.set()

    async def _handle(self, delivery: Delivery[RawT], release: asyncio.Event) -> None:
        """Everything done with one delivery: dispatch it, act on the verdict, acknowledge.

        `release` is set when the delivery is to be let go (stop, withdrawal): a wait on an
        unavailable destination then ends and the delivery stays unacknowledged.
        """
        outcome = await self.dispatcher.dispatch_from(
            self.transport.message, delivery.raw, stop=release
        )
        verdict = outcome.verdict
        if verdict is Verdict.HANDLED:
            self.counters.handled += 1
        elif verdict is Verdict.DUPLICATE:
            self.counters.duplicates += 1
        elif verdict is Verdict.DEFERRED:
            self.counters.left += 1
            return
        elif await self._dead_letter(delivery, outcome.reason or "no reason given", release):
            self.counters.dead_lettered += 1
        else:
            self.counters.left += 1
            return
        try:
            await self.transport.ack(delivery)
        except Exception as exc:
            self.counters.ack_failures += 1
            _log.warning(
                "%r could not acknowledge %s (%s); it will be delivered again",
                self,
                self.transport.describe(delivery),
                exc,
            )
            return
        self.counters.acked += 1

    async def _dead_letter(
        self, delivery: Delivery[RawT], reason: str, release: asyncio.Event
    ) -> bool:
        """Have the transport store a dead letter of `delivery`; False if it was let go first.

        A copy refused as a message fault (too large) is sent truncated instead; any other
        failure is retried with `retry_backoff`, holding the delivery's key.
        """
        reason = reason[:MAX_REASON_CHARS]
        truncate = False
        failures = 0
        stuck = False
        while True:
            try:
                truncated = await self.transport.dead_letter(delivery, reason, truncate=truncate)
            except Exception as exc:
                failures += 1
                self.counters.dead_letter_failures += 1
                if not truncate and classify(exc) is Fault.MESSAGE:
                    _log.warning(
                        "%r: the dead letter of %s was refused (%r); sending it truncated",
                        self,
                        self.transport.describe(delivery),
                        exc,
                    )
                    truncate = True
                    continue
                if not stuck:
                    stuck = True
                    _log.error(
                        "%r could not dead-letter %s (%r); retrying until it can",
                        self,
                        self.transport.describe(delivery),
                        exc,
                    )
                if release.is_set():
                    return False
                self.counters.retried += 1
                await self._pause(self.retry_backoff.delay(failures), release)
                if release.is_set():
                    return False
                continue
            if truncated:
                self.counters.truncated_dead_letters += 1
            if stuck:
                _log.warning(
                    "%r dead-lettered %s after %d failed attempt(s)",
                    self,
                    self.transport.describe(delivery),
                    failures,
                )
            return True

    async def _pause(self, seconds: float, until: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await until.wait()

    async def _drain(self, workers: Sequence[asyncio.Task[None]]) -> None:
        """Let the workers finish what they hold (queued ones are skipped), bounded."""
        for lane in self._lanes:
            lane.put_nowait(None)
        if self._in_hand:
            _log.info("%r stopping: finishing %d message(s) in hand", self, self._in_hand)
        _, pending = await asyncio.wait(workers, timeout=self.shutdown_timeout)
        if pending:
            self.counters.left += self._in_hand
            _log.warning(
                "%r: %d message(s) in hand not finished within %s s after stop; "
                "they will be delivered again",
                self,
                self._in_hand,
                self.shutdown_timeout,
            )
        _raise_if_ended(workers)


def _raise_if_ended(workers: Sequence[asyncio.Task[None]]) -> None:
    """Re-raise the error of a worker that ended by failing (a worker never fails otherwise)."""
    for worker in workers:
        if worker.done() and not worker.cancelled() and worker.exception() is not None:
            worker.result()


def _summary(counters: ConsumerCounters) -> str:
    shown = [
        f"{field.name}={getattr(counters, field.name)}"
        for field in dataclasses.fields(counters)
        if getattr(counters, field.name) or field.name in ("received", "handled")
    ]
    return " ".join(shown)
