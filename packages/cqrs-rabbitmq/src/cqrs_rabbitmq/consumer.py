"""A consumer runner feeding a RabbitMQ queue to a `MessageDispatcher`, acking after handling.

Bad messages go to a dead-letter queue with the reason; the consumer keeps running and recovers
from lost connections by itself::

    import asyncio

    import cqrs
    from cqrs.consumer import MessageDispatcher
    from cqrs.events.bootstrap import bootstrap
    from cqrs_rabbitmq import RabbitMQEventConsumer


    class Paid(cqrs.Response):
        order_id: str


    class OnPaid(cqrs.EventHandler[cqrs.NotificationEvent[Paid]]):
        async def handle(self, event: cqrs.NotificationEvent[Paid]) -> None:
            print("paid", event.payload.order_id)


    async def main() -> None:
        mediator = bootstrap(events_mapper=lambda m: m.bind(cqrs.NotificationEvent[Paid], OnPaid))
        dispatcher = MessageDispatcher(mediator, {"OrderPaid": cqrs.NotificationEvent[Paid]})
        consumer = RabbitMQEventConsumer(
            "amqp://guest:guest@localhost/", "billing", ["orders.*"], dispatcher
        )
        await consumer.run()  # until consumer.stop()


    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aiormq.exceptions import AMQPError, ChannelInvalidStateError, ProbableAuthenticationError

from cqrs.consumer.dispatcher import MessageDispatcher, Verdict
from cqrs.exceptions import DestinationUnavailableError
from cqrs.plugins import redact_url
from cqrs_rabbitmq._codec import dead_letter_copy, from_amqp
from cqrs_rabbitmq.broker import DEFAULT_EXCHANGE

if TYPE_CHECKING:
    from pamqp.common import FieldTable

__all__ = ["DEFAULT_DEAD_LETTER_EXCHANGE", "RabbitMQEventConsumer"]

DEFAULT_DEAD_LETTER_EXCHANGE = "cqrs.dead-letter"
"""The (direct) exchange dead letters are published to unless another is configured."""

_log = logging.getLogger(__name__)

_AMQP_FAILURES = (AMQPError, ChannelInvalidStateError, ConnectionError, TimeoutError)
"""Errors of acks and dead-letter publishes on a broken channel or connection."""

_CLOSE_TIMEOUT = 5.0
"""Seconds a shutdown step (cancel the consumer, close a channel) may take before it is skipped."""


def _channel_open(incoming: AbstractIncomingMessage) -> bool:
    """Whether the channel `incoming` came on is still open (else RabbitMQ redelivers it)."""
    try:
        incoming.channel  # noqa: B018 - the property raises once the channel is closed
    except ChannelInvalidStateError:
        return False
    return True


class RabbitMQEventConsumer:
    """Consumes a durable queue bound to an exchange and hands every message to a dispatcher.

    `run()` declares the exchange (topic by default), the durable `queue` bound to it with each
    of `routing_keys`, the direct `dead_letter_exchange` and the durable `<queue>.dead-letter`
    queue bound to it with the queue's name, then consumes with manual acks until `stop()`.
    A message is acked only once the dispatcher is done with it: handled or a duplicate, or
    dead-lettered, i.e. republished to the dead-letter exchange (with the `dead-letter-reason`,
    `original-exchange` and `original-routing-key` headers) and confirmed by RabbitMQ. A dead
    letter that cannot be published is retried in place, holding the message, so that nothing
    is lost and nothing overtakes it.

    Messages with the same partition key (`event-key` header, else the routing key) are handled
    one at a time, in queue order. With `concurrency` > 1, messages of different keys are
    handled concurrently by that many workers, each key always on the same worker; `prefetch`
    bounds how many unacked messages RabbitMQ hands out at once.

    Given a URL, the consumer opens a robust connection of its own (closed at the end); given a
    connection, it only opens and closes channels on it (recovery then needs a robust one).
    After a lost connection (logged once when lost, once when restored) the queues and the
    consumer are restored; the unacked messages of the old channel are dropped locally and
    RabbitMQ delivers them again, so delivery is at least once: use the dispatcher's inbox to
    handle each event once. A message whose handler meets a destination fault is held, unacked,
    until the fault clears (see `MessageDispatcher`). A consumer runs once; `run()` fails at
    once with `DestinationUnavailableError` when RabbitMQ cannot be reached within
    `connect_timeout` seconds or refuses the credentials.
    """

    def __init__(
        self,
        url_or_connection: str | AbstractConnection,
        queue: str,
        routing_keys: Iterable[str],
        dispatcher: MessageDispatcher,
        *,
        exchange: str = DEFAULT_EXCHANGE,
        exchange_type: aio_pika.ExchangeType | str = aio_pika.ExchangeType.TOPIC,
        dead_letter_exchange: str = DEFAULT_DEAD_LETTER_EXCHANGE,
        prefetch: int = 16,
        concurrency: int = 1,
        shutdown_timeout: float = 30.0,
        publish_timeout: float = 30.0,
        connect_timeout: float = 30.0,
        connection_name: str | None = None,
    ) -> None:
        if prefetch < 1 or concurrency < 1:
            raise ValueError("prefetch and concurrency must be at least 1")
        if not queue:
            raise ValueError("the queue needs a name")
        self.url_or_connection = url_or_connection
        self.queue = queue
        self.routing_keys = [routing_keys] if isinstance(routing_keys, str) else list(routing_keys)
        self.dispatcher = dispatcher
        self.exchange = exchange
        self.exchange_type = exchange_type
        self.dead_letter_exchange = dead_letter_exchange
        self.prefetch = prefetch
        self.concurrency = concurrency
        self.shutdown_timeout = shutdown_timeout
        self.publish_timeout = publish_timeout
        self.connect_timeout = connect_timeout
        self.connection_name = connection_name
        self.handled = 0
        """Messages the handlers handled (a redelivered one counts again without an inbox)."""
        self.duplicates = 0
        """Messages the inbox recognised as already handled."""
        self.dead_lettered = 0
        """Messages moved to the dead-letter queue."""
        self._started = asyncio.Event()
        self._stopping = asyncio.Event()
        self._finished = asyncio.Event()
        self._ran = False
        self._start_error: BaseException | None = None
        self._connection_lost = False
        self._lanes: list[asyncio.Queue[AbstractIncomingMessage | None]] = []
        self._dead_letters: AbstractExchange | None = None

    def __repr__(self) -> str:
        target = self.url_or_connection
        where = redact_url(target) if isinstance(target, str) else type(target).__name__
        return f"<{type(self).__name__} {where} queue={self.queue!r}>"

    @property
    def dead_letter_queue(self) -> str:
        """The name of the queue dead letters of this consumer go to."""
        return f"{self.queue}.dead-letter"

    def stop(self) -> None:
        """Ask `run()` to stop: no new messages, the ones in hand are finished and acked."""
        self._stopping.set()

    async def wait_started(self) -> None:
        """Return once `run()` consumes; raise if it ended before that.

        RabbitMQ unreachable or refusing the credentials raises the same
        `DestinationUnavailableError` as `run()`; any other early end a `RuntimeError` naming
        the cause.
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
        """Declare the queues and consume until `stop()`, then finish the messages in hand."""
        if self._ran:
            raise RuntimeError("a RabbitMQEventConsumer runs once; make a new one")
        self._ran = True
        try:
            connection, owned = await self._connect()
            try:
                await self._consume(connection)
            finally:
                if owned:
                    await connection.close()
        except BaseException as exc:
            if not self._started.is_set():
                self._start_error = exc
            raise
        finally:
            self._finished.set()

    async def _connect(self) -> tuple[AbstractConnection, bool]:
        """The connection to consume on, or one clear error if RabbitMQ cannot be used."""
        target = self.url_or_connection
        if not isinstance(target, str):
            return target, False
        properties: FieldTable | None = None
        if self.connection_name:
            properties = {"connection_name": self.connection_name}
        where = redact_url(target)
        try:
            connection = await aio_pika.connect_robust(
                target, client_properties=properties, timeout=self.connect_timeout
            )
        except ProbableAuthenticationError as exc:
            raise DestinationUnavailableError(
                f"RabbitMQ at {where} refused the credentials: {exc}"
            ) from exc
        except (AMQPError, OSError) as exc:  # refused, unreachable, timed out (TimeoutError)
            raise DestinationUnavailableError(
                f"cannot connect to RabbitMQ at {where}: {exc or type(exc).__name__}"
            ) from exc
        return connection, True

    async def _consume(self, connection: AbstractConnection) -> None:
        channels: list[AbstractChannel] = []
        workers: list[asyncio.Task[None]] = []
        if isinstance(connection, AbstractRobustConnection):
            connection.reconnect_callbacks.add(self._on_reconnect)
            connection.close_callbacks.add(self._on_close)
        try:
            channel = await connection.channel(publisher_confirms=False)
            channels.append(channel)
            publisher = await connection.channel(publisher_confirms=True, on_return_raises=True)
            channels.append(publisher)
            queue = await self._declare(channel)
            self._dead_letters = await publisher.declare_exchange(
                self.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
            )
            self._lanes = [asyncio.Queue() for _ in range(self.concurrency)]
            workers = [asyncio.create_task(self._work(lane)) for lane in self._lanes]
            tag = await queue.consume(self._on_delivery, no_ack=False)
            self._started.set()
            _log.info("consuming %r (routing keys %s)", self.queue, self.routing_keys)
            stopping = asyncio.create_task(self._stopping.wait())
            try:
                done, _ = await asyncio.wait(
                    (stopping, *workers), return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                stopping.cancel()
            for task in done:
                if task is not stopping:
                    task.result()  # a worker never returns before stop: re-raise its error
            self._stopping.set()
            with contextlib.suppress(*_AMQP_FAILURES):
                async with asyncio.timeout(_CLOSE_TIMEOUT):  # the broker may be unreachable
                    await queue.cancel(tag)
            await self._drain(workers)
            _log.info(
                "stopped consuming %r: %d handled, %d duplicates, %d dead-lettered",
                self.queue,
                self.handled,
                self.duplicates,
                self.dead_lettered,
            )
        finally:
            self._stopping.set()
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            if isinstance(connection, AbstractRobustConnection):
                connection.reconnect_callbacks.discard(self._on_reconnect)
                connection.close_callbacks.discard(self._on_close)
            # Closing the consuming channel hands its unacked messages back to the queue.
            for open_channel in channels:
                with contextlib.suppress(*_AMQP_FAILURES):
                    async with asyncio.timeout(_CLOSE_TIMEOUT):
                        await open_channel.close()

    async def _declare(self, channel: AbstractChannel) -> AbstractQueue:
        await channel.set_qos(prefetch_count=self.prefetch)
        await channel.declare_exchange(self.exchange, self.exchange_type, durable=True)
        await channel.declare_exchange(
            self.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
        )
        dead_letters = await channel.declare_queue(self.dead_letter_queue, durable=True)
        await dead_letters.bind(self.dead_letter_exchange, routing_key=self.queue)
        queue = await channel.declare_queue(self.queue, durable=True)
        for key in self.routing_keys:
            await queue.bind(self.exchange, routing_key=key)
        return queue

    async def _drain(self, workers: list[asyncio.Task[None]]) -> None:
        for lane in self._lanes:  # wake idle workers; busy ones see `_stopping` when done
            lane.put_nowait(None)
        _, pending = await asyncio.wait(workers, timeout=self.shutdown_timeout)
        if pending:
            _log.warning(
                "%d message(s) of %r not finished within %s s; they will be redelivered",
                len(pending),
                self.queue,
                self.shutdown_timeout,
            )

    def _on_close(self, connection: object, error: BaseException | None, /) -> None:
        if self._stopping.is_set() or self._connection_lost:
            return
        self._connection_lost = True
        _log.warning(
            "connection of consumer %r lost (%s); reconnecting", self.queue, error or "closed"
        )

    def _on_reconnect(self, connection: AbstractRobustConnection | None, /) -> None:
        self._connection_lost = False
        _log.warning("connection of consumer %r restored; consuming", self.queue)

    async def _on_delivery(self, incoming: AbstractIncomingMessage) -> None:
        # Runs in delivery order and enqueues at once, so each lane keeps the queue's order.
        if self._stopping.is_set():
            return  # left unacked: RabbitMQ redelivers it after the channel closes
        headers = incoming.headers or {}
        key = headers.get("event-key") or incoming.routing_key or ""
        lane = zlib.crc32(str(key).encode()) % len(self._lanes) if len(self._lanes) > 1 else 0
        self._lanes[lane].put_nowait(incoming)

    async def _work(self, lane: asyncio.Queue[AbstractIncomingMessage | None]) -> None:
        while True:
            incoming = await lane.get()
            if incoming is None or self._stopping.is_set():
                return
            if not _channel_open(incoming):
                _log.debug("dropping a delivery of a lost channel; it will be delivered again")
                continue
            await self._process(incoming)

    async def _process(self, incoming: AbstractIncomingMessage) -> None:
        outcome = await self.dispatcher.dispatch_from(from_amqp, incoming, stop=self._stopping)
        if outcome.verdict is Verdict.HANDLED:
            self.handled += 1
        elif outcome.verdict is Verdict.DUPLICATE:
            self.duplicates += 1
        elif outcome.verdict is Verdict.DEFERRED:
            return  # unacked: RabbitMQ delivers it again once the channel closes
        else:
            if not await self._dead_letter(incoming, outcome.reason or "no reason given"):
                return
            self.dead_lettered += 1
        try:
            await incoming.ack()
        except _AMQP_FAILURES as exc:
            _log.warning(
                "could not ack message %s of %r (%s); it will be delivered again",
                incoming.message_id,
                self.queue,
                exc,
            )

    async def _dead_letter(self, incoming: AbstractIncomingMessage, reason: str) -> bool:
        """Publish a dead-letter copy until RabbitMQ confirms it; False if the message is left."""
        copy = dead_letter_copy(incoming, reason)
        assert self._dead_letters is not None
        failures = 0
        while True:
            try:
                async with asyncio.timeout(self.publish_timeout):
                    await self._dead_letters.publish(copy, routing_key=self.queue, mandatory=True)
                if failures:
                    _log.warning(
                        "dead-lettered message %s of %r after %d failed attempt(s)",
                        incoming.message_id,
                        self.queue,
                        failures,
                    )
                return True
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                error: BaseException = ConnectionError("the dead-letter channel closed")
            except Exception as exc:  # a nack, a return (no dead-letter queue), a lost channel
                error = exc
            failures += 1
            if failures == 1:
                _log.error(
                    "could not dead-letter message %s of %r (%r); retrying until it can",
                    incoming.message_id,
                    self.queue,
                    error,
                )
            if not _channel_open(incoming) or self._stopping.is_set():
                return False  # unacked, so RabbitMQ delivers it again
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(0.1 * 2**failures, 5.0)):
                    await self._stopping.wait()
