"""RabbitMQ's side of the core consumer runtime: a `ConsumerTransport` over aio-pika.

`ConsumerRunner` does the rest (concurrency, dispatching, dead-letter retries, stop)::

    from cqrs.consumers import ConsumerRunner
    from cqrs_rabbitmq.transport import RabbitMQConsumerTransport

    transport = RabbitMQConsumerTransport("amqp://guest:guest@localhost/", "billing", ["orders.*"])
    await ConsumerRunner(transport, dispatcher, concurrency=4).run()

A delivery's ordering key is its partition key (`event-key` header, else the routing key).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

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

from cqrs.brokers.message import HEADER_NAMES, Message
from cqrs.consumers.dead_letter import DEAD_LETTER_TRUNCATED_HEADER
from cqrs.consumers.transport import ConsumerControl, Delivery
from cqrs.errors import DestinationUnavailableError
from cqrs.redaction import redact_url
from cqrs_rabbitmq._codec import dead_letter_copy, from_amqp
from cqrs_rabbitmq.broker import DEFAULT_EXCHANGE

if TYPE_CHECKING:
    from pamqp.common import FieldTable

__all__ = ["DEFAULT_DEAD_LETTER_EXCHANGE", "RabbitMQConsumerTransport"]

DEFAULT_DEAD_LETTER_EXCHANGE = "cqrs.dead-letter"
"""The (direct) exchange dead letters are published to unless another is configured."""

_log = logging.getLogger("cqrs_rabbitmq.consumer")

_AMQP_FAILURES = (AMQPError, ChannelInvalidStateError, ConnectionError, TimeoutError)
"""Errors of closing steps on a broken channel or connection."""

_CLOSE_TIMEOUT = 5.0
"""Seconds a shutdown step (cancel the consumer, close a channel) may take before it is skipped."""


def _channel_open(incoming: AbstractIncomingMessage) -> bool:
    """Whether the channel `incoming` came on is still open (else RabbitMQ redelivers it)."""
    try:
        incoming.channel  # noqa: B018 - the property raises once the channel is closed
    except ChannelInvalidStateError:
        return False
    return True


class RabbitMQConsumerTransport:
    """Consumes a durable queue bound to an exchange; dead letters go to `<queue>.dead-letter`.

    `connect()` declares the exchange (topic by default), the durable `queue` bound to it with
    each of `routing_keys`, the direct `dead_letter_exchange` and the durable
    `<queue>.dead-letter` queue bound to it with the queue's name, then consumes with manual
    acks and `prefetch` unacknowledged messages at most. A dead letter is republished with the
    `dead-letter-reason`, `original-exchange` and `original-routing-key` headers and
    confirmed by RabbitMQ (mandatory: a missing dead-letter queue is an error, retried).

    Given a URL, the transport opens a robust connection of its own (closed at the end); given
    a connection, it only opens and closes channels on it (recovery then needs a robust one).
    A lost connection is logged once when lost and once when restored; the deliveries of the
    old channel are withdrawn from the runner and RabbitMQ delivers them again.
    """

    def __init__(
        self,
        url_or_connection: str | AbstractConnection,
        queue: str,
        routing_keys: str | Iterable[str],
        *,
        exchange: str = DEFAULT_EXCHANGE,
        exchange_type: aio_pika.ExchangeType | str = aio_pika.ExchangeType.TOPIC,
        dead_letter_exchange: str = DEFAULT_DEAD_LETTER_EXCHANGE,
        prefetch: int = 16,
        publish_timeout: float = 30.0,
        connect_timeout: float = 30.0,
        connection_name: str | None = None,
    ) -> None:
        if prefetch < 1:
            raise ValueError("prefetch must be at least 1")
        if not queue:
            raise ValueError("the queue needs a name")
        self.url_or_connection = url_or_connection
        self.queue = queue
        self.routing_keys = [routing_keys] if isinstance(routing_keys, str) else list(routing_keys)
        self.exchange = exchange
        self.exchange_type = exchange_type
        self.dead_letter_exchange = dead_letter_exchange
        self.prefetch = prefetch
        self.publish_timeout = publish_timeout
        self.connect_timeout = connect_timeout
        self.connection_name = connection_name
        self._control: ConsumerControl | None = None
        self._connection: AbstractConnection | None = None
        self._owned = False
        self._channels: list[AbstractChannel] = []
        self._consuming: tuple[AbstractQueue, str] | None = None
        self._dead_letters: AbstractExchange | None = None
        self._incoming: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._connection_lost = False

    _URL_OPTIONS = frozenset({"group", "queue", "topics", "exchange", "dead_letter_exchange"})

    @classmethod
    def from_url(cls, url: str) -> RabbitMQConsumerTransport:
        """A transport for `amqp://...?group=QUEUE&topics=KEY,KEY` (`queue=` is an alias of
        `group=`; `exchange=` and `dead_letter_exchange=` optional); the other parameters
        (`heartbeat`, TLS options...) are passed on to aio-pika."""
        base, _, query = url.partition("?")
        kept: list[str] = []
        options: dict[str, str] = {}
        for pair in query.split("&") if query else ():
            key, _, value = pair.partition("=")
            if unquote_plus(key) in cls._URL_OPTIONS:
                options[unquote_plus(key)] = unquote_plus(value)
            else:
                kept.append(pair)
        queue = options.get("group") or options.get("queue")
        keys = [key for key in options.get("topics", "").split(",") if key]
        if not queue or not keys:
            raise ValueError(
                "a RabbitMQ consumer needs a queue and routing keys (--group, --topics): "
                f"{redact_url(url)!r}"
            )
        return cls(
            base + ("?" + "&".join(kept) if kept else ""),
            queue,
            keys,
            exchange=options.get("exchange", DEFAULT_EXCHANGE),
            dead_letter_exchange=options.get("dead_letter_exchange", DEFAULT_DEAD_LETTER_EXCHANGE),
        )

    def __repr__(self) -> str:
        target = self.url_or_connection
        where = redact_url(target) if isinstance(target, str) else type(target).__name__
        return f"<{type(self).__name__} {where} queue={self.queue!r}>"

    @property
    def dead_letter_queue(self) -> str:
        """The name of the queue dead letters of this consumer go to."""
        return f"{self.queue}.dead-letter"

    async def connect(self, control: ConsumerControl) -> None:
        self._control = control
        connection = await self._open()
        self._connection = connection
        if isinstance(connection, AbstractRobustConnection):
            connection.reconnect_callbacks.add(self._on_reconnect)
            connection.close_callbacks.add(self._on_close)
        channel = await connection.channel(publisher_confirms=False)
        self._channels.append(channel)
        publisher = await connection.channel(publisher_confirms=True, on_return_raises=True)
        self._channels.append(publisher)
        queue = await self._declare(channel)
        self._dead_letters = await publisher.declare_exchange(
            self.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
        )
        self._consuming = (queue, await queue.consume(self._on_delivery, no_ack=False))
        _log.info("consuming %r (routing keys %s)", self.queue, self.routing_keys)

    async def _open(self) -> AbstractConnection:
        """The connection to consume on, or one clear error if RabbitMQ cannot be used."""
        target = self.url_or_connection
        if not isinstance(target, str):
            return target
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
        self._owned = True
        return connection

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

    async def _on_delivery(self, incoming: AbstractIncomingMessage) -> None:
        self._incoming.put_nowait(incoming)

    def _on_close(self, connection: object, error: BaseException | None, /) -> None:
        if self._connection_lost:
            return
        self._connection_lost = True
        _log.warning(
            "connection of consumer %r lost (%s); reconnecting", self.queue, error or "closed"
        )
        if self._control is not None:
            self._control.withdraw()

    def _on_reconnect(self, connection: AbstractRobustConnection | None, /) -> None:
        self._connection_lost = False
        _log.warning("connection of consumer %r restored; consuming", self.queue)

    async def receive(self, limit: int) -> Sequence[Delivery[AbstractIncomingMessage]]:
        incoming = self._incoming
        taken: list[Delivery[AbstractIncomingMessage]] = []
        if incoming.empty():
            try:
                async with asyncio.timeout(1.0):
                    self._take(await incoming.get(), taken)
            except TimeoutError:
                return taken
        while len(taken) < limit and not incoming.empty():
            self._take(incoming.get_nowait(), taken)
        return taken

    def _take(
        self, message: AbstractIncomingMessage, taken: list[Delivery[AbstractIncomingMessage]]
    ) -> None:
        if not _channel_open(message):
            _log.debug("dropping a delivery of a lost channel; it will be delivered again")
            return
        key = (message.headers or {}).get(HEADER_NAMES["key"]) or message.routing_key or ""
        taken.append(Delivery(message, str(key)))

    def message(self, raw: AbstractIncomingMessage) -> Message:
        return from_amqp(raw)

    async def ack(self, delivery: Delivery[AbstractIncomingMessage]) -> None:
        await delivery.raw.ack()

    async def dead_letter(
        self, delivery: Delivery[AbstractIncomingMessage], reason: str, *, truncate: bool
    ) -> bool:
        incoming = delivery.raw
        if not _channel_open(incoming):
            raise ConnectionError("the channel of the message closed; it will come again")
        copy = dead_letter_copy(incoming, reason)
        assert self._dead_letters is not None
        try:
            async with asyncio.timeout(self.publish_timeout):
                await self._dead_letters.publish(copy, routing_key=self.queue, mandatory=True)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            raise ConnectionError("the dead-letter channel closed") from None
        return DEAD_LETTER_TRUNCATED_HEADER in (copy.headers or {})

    async def close(self) -> None:
        """Cancel the consumer and close the channels (their unacked messages go back to the
        queue), then the connection if it is the transport's own."""
        connection, self._connection = self._connection, None
        if isinstance(connection, AbstractRobustConnection):
            connection.reconnect_callbacks.discard(self._on_reconnect)
            connection.close_callbacks.discard(self._on_close)
        consuming, self._consuming = self._consuming, None
        if consuming is not None:
            with contextlib.suppress(*_AMQP_FAILURES):
                async with asyncio.timeout(_CLOSE_TIMEOUT):  # the broker may be unreachable
                    await consuming[0].cancel(consuming[1])
        channels, self._channels = self._channels, []
        for channel in channels:
            with contextlib.suppress(*_AMQP_FAILURES):
                async with asyncio.timeout(_CLOSE_TIMEOUT):
                    await channel.close()
        if connection is not None and self._owned:
            await connection.close()

    def describe(self, delivery: Delivery[AbstractIncomingMessage]) -> str:
        return f"message {delivery.raw.message_id} of {self.queue!r}"
