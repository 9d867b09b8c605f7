"""A `cqrs.MessageBroker` that publishes to a RabbitMQ exchange with publisher confirms.

Each message goes to one exchange (a durable topic exchange by default) with the message's
topic as routing key, so a queue bound with `orders.*` receives every `orders.<x>` topic::

    import asyncio

    import cqrs
    from cqrs_rabbitmq import RabbitMQMessageBroker


    async def main() -> None:
        async with RabbitMQMessageBroker("amqp://guest:guest@localhost/") as broker:
            await broker.declare_queue("billing", ["orders.*"])
            message = cqrs.Message(topic="orders.paid", payload=b"{}", message_name="OrderPaid")
            await broker.send_message(message)


    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import unquote_plus

import aio_pika
from aio_pika import exceptions as amqp_errors
from aio_pika.abc import (
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustExchange,
    AbstractRobustQueue,
)
from aio_pika.connection import make_url

from cqrs.backoff import ExponentialBackoff
from cqrs.brokers.message import Message
from cqrs.errors import (
    DestinationUnavailableError,
    InvalidTopicError,
    MessageRejectedError,
    PublishBatchError,
)
from cqrs.outbox.topics import AMQP_TOPIC_RULES, check_topic
from cqrs.redaction import redact_text, redact_url
from cqrs_rabbitmq import _frames
from cqrs_rabbitmq._codec import to_amqp

if TYPE_CHECKING:
    from pamqp.common import FieldTable

__all__ = ["DEFAULT_EXCHANGE", "DEFAULT_MAX_MESSAGE_BYTES", "RabbitMQMessageBroker"]

_RECOVERY_BACKOFF = ExponentialBackoff(base=0.05, cap=1.0, jitter=False)
"""Pause before looking whether a lost connection is back: 50 ms, doubling, at most 1 s."""

DEFAULT_EXCHANGE = "cqrs.events"
"""The exchange messages go to unless another is configured."""

DEFAULT_MAX_MESSAGE_BYTES = 128 * 1024 * 1024
"""RabbitMQ's default `max_message_size`: a larger message would close the publishing channel
(failing every message in flight beside it), so it is refused before it is sent."""

_RETRYABLE = (
    amqp_errors.AMQPConnectionError,
    amqp_errors.ChannelInvalidStateError,
    ConnectionError,
)
"""Failures caused by a lost connection: the message is published again once it is back."""


_VALID_TOPICS_KEPT = 10_000
"""Topics remembered as checked, so the check costs a set lookup per message."""


def _retryable(error: BaseException) -> bool:
    if isinstance(error, asyncio.CancelledError):
        # aiormq cancels pending confirms when the channel closes under them; a cancellation
        # of the sending task itself is never caught here (gather re-raises it).
        task = asyncio.current_task()
        return task is not None and not task.cancelling()
    return isinstance(error, _RETRYABLE)


class RabbitMQMessageBroker:
    """Publishes each message to an exchange, routing key = topic, and waits for the confirm.

    `send_message` returns once RabbitMQ has confirmed the message. It raises
    `cqrs.errors.DestinationUnavailableError` (a destination fault: retry later) when
    RabbitMQ is unreachable or refuses the credentials, on a nack and, with `mandatory` (the
    default), when no queue is bound to the topic, so an event is never dropped silently; it
    raises `cqrs.errors.MessageRejectedError` (a message fault) for a message larger than
    `max_message_bytes` or an invalid routing key, before sending it. Messages are persistent.
    The connection is opened on first use (or by `connect()` / `async with`) and recovers by
    itself after a network failure: a send that meets a lost connection waits up to
    `reconnect_timeout` seconds for it to come back and publishes again. Delivery is therefore
    at least once: a message whose confirm was lost may arrive twice, with the same `event-id`
    header.
    """

    messaging_system: ClassVar[str] = "rabbitmq"
    """The OpenTelemetry `messaging.system` of what this broker sends."""

    def __init__(
        self,
        url: str = "amqp://guest:guest@localhost/",
        *,
        exchange: str = DEFAULT_EXCHANGE,
        exchange_type: aio_pika.ExchangeType | str = aio_pika.ExchangeType.TOPIC,
        mandatory: bool = True,
        reconnect_timeout: float = 30.0,
        connection_name: str | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self.url = url
        self.exchange_name = exchange
        self.exchange_type = exchange_type
        self.mandatory = mandatory
        self.reconnect_timeout = reconnect_timeout
        self.connection_name = connection_name
        self.max_message_bytes = max_message_bytes
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._exchange: AbstractRobustExchange | None = None
        self._topology: AbstractRobustChannel | None = None
        self._lock = asyncio.Lock()
        self._raw_frames = False
        self._valid_topics: set[str] = set()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RabbitMQMessageBroker:
        """A broker for an AMQP URL whose optional `exchange=` parameter names the exchange.

        The other query parameters (`heartbeat`, `name`, `reconnect_interval`, TLS options...)
        are passed on to aio-pika.
        """
        base, mark, query = url.partition("?")
        query, hash_mark, fragment = query.partition("#")
        kept = []
        for pair in query.split("&") if query else ():
            key, _, value = pair.partition("=")
            if unquote_plus(key) == "exchange":
                options.setdefault("exchange", unquote_plus(value))
            else:
                kept.append(pair)
        url = base + (mark if kept else "") + "&".join(kept) + hash_mark + fragment
        return cls(url, **options)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {redact_url(self.url)} exchange={self.exchange_name!r}>"

    @property
    def connection(self) -> AbstractRobustConnection | None:
        """The aio-pika robust connection, `None` until connected and after `close()`."""
        return self._connection

    async def connect(self) -> None:
        """Open the connection and a confirming channel, and declare the exchange (once)."""
        await self._ready_exchange()

    async def close(self) -> None:
        """Close the connection; a later send or `connect()` opens a new one."""
        async with self._lock:
            connection, self._connection = self._connection, None
            self._channel = self._exchange = self._topology = None
            if connection is not None:
                await connection.close()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def send_message(self, message: Message) -> None:
        """Publish `message` and return once RabbitMQ has confirmed it.

        Raises `DestinationUnavailableError` when RabbitMQ cannot take it now (unreachable,
        refusing the credentials, no queue bound to the topic, a nack) and
        `MessageRejectedError` when it never will (too large, invalid routing key).
        """
        failed, _ = await self._send([message])
        if failed:
            raise failed[0][1]

    async def send_many(self, messages: Iterable[Message]) -> None:
        """Publish all `messages` in order, then wait for every confirm.

        Much faster than one `send_message` after another, with the same ordering: RabbitMQ
        queues them in the order given. If the connection drops midway, every message from the
        first unconfirmed one on is published again, in order, once it is back. A message
        refused before sending (too large, invalid routing key) is skipped together with the
        later messages of its key; then `PublishBatchError` says which were delivered, which
        were refused (with their errors) and which were not sent.
        """
        batch = list(messages)
        failed, unsent = await self._send(batch)
        if failed or unsent:
            refused = {id(m) for m, _ in failed} | {id(m) for m in unsent}
            delivered = [m for m in batch if id(m) not in refused]
            raise PublishBatchError(delivered, failed, unsent)

    async def _send(
        self, batch: list[Message]
    ) -> tuple[list[tuple[Message, BaseException]], list[Message]]:
        """Publish `batch`; the refused messages with their errors, and those never sent."""
        failed: list[tuple[Message, BaseException]] = []
        unsent: list[Message] = []
        sendable = batch
        refusals = [self._refusal(message) for message in batch]
        if any(refusals):
            blocked_keys: set[str] = set()
            sendable = []
            for message, refusal in zip(batch, refusals, strict=True):
                if refusal is not None:
                    failed.append((message, refusal))
                    if message.key is not None:
                        blocked_keys.add(message.key)
                elif message.key is not None and message.key in blocked_keys:
                    unsent.append(message)
                else:
                    sendable.append(message)
        if sendable:
            failed += await self._publish_confirmed(sendable)
        return failed, unsent

    def _refusal(self, message: Message) -> MessageRejectedError | None:
        """Why RabbitMQ could never take `message`, found before anything is sent."""
        size = len(message.payload)
        if size > self.max_message_bytes:
            return MessageRejectedError(
                f"message {message.message_id} of {size} bytes exceeds RabbitMQ's "
                f"max_message_size of {self.max_message_bytes} bytes"
            )
        if message.topic not in self._valid_topics:
            try:
                check_topic(message.topic, AMQP_TOPIC_RULES)
            except InvalidTopicError as error:
                return error
            if len(self._valid_topics) < _VALID_TOPICS_KEPT:
                self._valid_topics.add(message.topic)
        return None

    async def _publish_confirmed(self, batch: list[Message]) -> list[tuple[Message, BaseException]]:
        """Publish until every message is confirmed or refused; returns the refused ones.

        A lost connection is waited for (up to `reconnect_timeout`) and the unconfirmed
        messages are published again in order; after that they fail as unavailable.
        """
        amqp: list[aio_pika.Message] = []
        now = datetime.datetime.now(datetime.UTC)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.reconnect_timeout
        refused: list[tuple[Message, BaseException]] = []
        attempt = start = 0
        while start < len(batch):
            try:
                exchange = await self._ready_exchange()
            except Exception as failure:
                unavailable = self._unavailable(failure)
                return refused + [(message, unavailable) for message in batch[start:]]
            results: list[BaseException | None]
            if self._raw_frames:
                results = await self._publish_frames(batch[start:], now)
            else:
                amqp = amqp or [to_amqp(message) for message in batch]
                results = await self._publish_each(exchange, batch[start:], amqp[start:])
            retry_from: int | None = None
            for offset, outcome in enumerate(results):
                if outcome is None:
                    continue
                if _retryable(outcome):
                    retry_from = offset if retry_from is None else retry_from
                elif retry_from is None:
                    message = batch[start + offset]
                    refused.append((message, self._refused(outcome, message)))
            if retry_from is None:
                return refused
            lost = results[retry_from]
            assert lost is not None
            remaining = deadline - loop.time()
            if remaining <= 0 or not await self._wait_recovered(remaining, attempt):
                unavailable = self._unavailable(lost)
                return refused + [(message, unavailable) for message in batch[start + retry_from :]]
            start += retry_from
            attempt += 1
        return refused

    def _unavailable(self, error: BaseException) -> DestinationUnavailableError:
        """The error for a RabbitMQ that cannot be reached (or refuses us) right now."""
        if isinstance(error, DestinationUnavailableError):
            return error
        described = redact_text(f"{type(error).__name__}: {error}")
        unavailable = DestinationUnavailableError(
            f"RabbitMQ at {redact_url(self.url)} is unavailable ({described})"
        )
        unavailable.__cause__ = error
        return unavailable

    def _refused(self, error: BaseException, message: Message) -> BaseException:
        """`error` for one message, as a destination or message fault where the cause is known."""
        converted: BaseException = error
        if isinstance(error, amqp_errors.PublishError):
            converted = DestinationUnavailableError(
                f"no queue is bound to topic {message.topic!r} on exchange "
                f"{self.exchange_name!r} (returned unroutable); it is kept until one is",
                topic=message.topic,
            )
        elif isinstance(error, amqp_errors.DeliveryError):
            converted = DestinationUnavailableError(
                f"RabbitMQ refused message {message.message_id} for topic {message.topic!r} "
                "(nack: a queue is full or the broker failed)",
                topic=message.topic,
            )
        elif isinstance(error, ValueError | TypeError | OverflowError):
            converted = MessageRejectedError(f"cannot encode message {message.message_id}: {error}")
        elif isinstance(error, amqp_errors.AMQPError):
            converted = self._unavailable(error)
        if converted is not error:
            converted.__cause__ = error
        return converted

    async def _publish_frames(
        self, messages: list[Message], now: datetime.datetime
    ) -> list[BaseException | None]:
        """Publish with one write per chunk of pre-encoded frames (see `_frames`)."""
        channel = self._channel
        try:
            if channel is None or channel.is_closed:
                raise amqp_errors.ChannelInvalidStateError(f"{channel!r} closed")
            underlay = await channel.get_underlay_channel()
        except Exception as error:
            return [error] * len(messages)
        return await _frames.publish(
            underlay, self.exchange_name, messages, mandatory=self.mandatory, now=now
        )

    async def _publish_each(
        self,
        exchange: AbstractRobustExchange,
        messages: list[Message],
        amqp: list[aio_pika.Message],
    ) -> list[BaseException | None]:
        """Publish with aio-pika, one `Exchange.publish` task per message."""
        results = await asyncio.gather(
            *(
                exchange.publish(body, routing_key=message.topic, mandatory=self.mandatory)
                for message, body in zip(messages, amqp, strict=True)
            ),
            return_exceptions=True,
        )
        return [r if isinstance(r, BaseException) else None for r in results]

    async def declare_queue(
        self,
        name: str,
        routing_keys: Iterable[str],
        *,
        durable: bool = True,
        exclusive: bool = False,
        auto_delete: bool = False,
        arguments: dict[str, Any] | None = None,
    ) -> AbstractRobustQueue:
        """Declare queue `name` bound to the exchange with each routing key (`*`/`#` allowed).

        The queue lives on a channel of the broker's connection kept apart from publishing, so
        a failed declaration cannot disturb sends; it is declared again after a reconnect.
        """
        if isinstance(routing_keys, str):
            routing_keys = [routing_keys]
        topology = await self._topology_channel()
        queue = await topology.declare_queue(
            name,
            durable=durable,
            exclusive=exclusive,
            auto_delete=auto_delete,
            arguments=arguments,
        )
        for key in routing_keys:
            await queue.bind(self.exchange_name, routing_key=key)
        return queue

    async def _ready_exchange(self) -> AbstractRobustExchange:
        exchange = self._exchange
        if exchange is not None:
            return exchange
        async with self._lock:
            if self._exchange is None:
                await self._open()
            assert self._exchange is not None
            return self._exchange

    async def _open(self) -> None:
        client_properties: FieldTable | None = None
        if self.connection_name:
            client_properties = {"connection_name": self.connection_name}
        connection = aio_pika.RobustConnection(
            make_url(self.url), client_properties=client_properties
        )
        try:
            # Not connect_robust(): a first attempt cancelled there (a timeout) leaves the
            # connection reconnecting in the background, and the event loop cannot close.
            await connection.connect()
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            exchange = await channel.declare_exchange(
                self.exchange_name, self.exchange_type, durable=True
            )
            underlay = await channel.get_underlay_channel()
        except BaseException:
            await connection.close()
            raise
        # aio-pika publishes one message per task; `_frames` writes whole chunks when the
        # aiormq channel has the internals it needs, and aio-pika's path is kept otherwise.
        self._raw_frames = _frames.supports(underlay)
        self._connection, self._channel, self._exchange = connection, channel, exchange

    async def _topology_channel(self) -> AbstractRobustChannel:
        async with self._lock:
            if self._connection is None:
                await self._open()
            assert self._connection is not None
            if self._topology is None:
                topology = await self._connection.channel(publisher_confirms=False)
                # Declared on this channel too, so that after a reconnect the exchange exists
                # again before this channel restores its queue bindings.
                await topology.declare_exchange(
                    self.exchange_name, self.exchange_type, durable=True
                )
                self._topology = topology
            return self._topology

    async def _wait_recovered(self, timeout: float, attempt: int) -> bool:
        """Wait for the robust connection to come back; False if it did not within `timeout`."""
        channel = self._channel
        if channel is None:  # closed meanwhile: the next round opens a new connection
            return True
        try:
            async with asyncio.timeout(timeout):
                # Back off first: the channel may not have noticed the loss yet.
                await asyncio.sleep(_RECOVERY_BACKOFF.delay(attempt + 1))
                await channel.ready()
        except TimeoutError:
            return False
        return True
