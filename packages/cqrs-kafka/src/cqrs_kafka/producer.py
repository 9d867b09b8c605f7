"""A Kafka producer (aiokafka) that starts on first use, with durable defaults.

`aiokafka` is imported when the producer starts, not when this module is imported, so building
a producer (or a broker around it) at configuration time costs nothing::

    from cqrs_kafka import kafka_producer_factory

    producer = kafka_producer_factory(dsn="localhost:9092", topics=["orders"])
    async with producer:
        delivery = await producer.send("orders", b"{}", key=b"order-1")
        await delivery  # raises if the broker did not accept the record
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from types import TracebackType
from typing import Any, Protocol, Self

__all__ = ["DEFAULT_PRODUCER_OPTIONS", "KafkaProducer", "kafka_producer_factory"]

DEFAULT_PRODUCER_OPTIONS: dict[str, Any] = {
    "acks": "all",
    "linger_ms": 0,
    "request_timeout_ms": 30_000,
    "retry_backoff_ms": 100,
}
"""aiokafka options used unless overridden: wait for all in-sync replicas, send at once.

A lone awaited send is not delayed (`linger_ms=0`); under load aiokafka still batches whatever
accumulates while a request is in flight. Retriable errors (leader change, lost connection) are
retried every `retry_backoff_ms` until `request_timeout_ms` has passed. The idempotent producer
is off by default because not every Kafka-compatible broker supports it; pass
`enable_idempotence=True` to turn it on.
"""


class _AIOKafkaClient(Protocol):
    """The part of `aiokafka.AIOKafkaClient` this module uses."""

    def set_topics(self, topics: list[str]) -> asyncio.Future[Any]: ...


class _AIOKafkaProducer(Protocol):
    """The part of `aiokafka.AIOKafkaProducer` this module uses."""

    client: _AIOKafkaClient

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def flush(self) -> None: ...

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]: ...


class KafkaProducer:
    """A lazily started `aiokafka.AIOKafkaProducer`: `start()` is implied by the first send.

    The aiokafka producer is created when the producer starts (it binds to the running event
    loop), and a failed start leaves nothing behind, so the next send tries again. After
    `stop()` the producer can be started again.
    """

    def __init__(
        self,
        bootstrap_servers: str | Sequence[str],
        *,
        topics: Sequence[str] | None = None,
        **producer_options: Any,
    ) -> None:
        if isinstance(bootstrap_servers, str):
            bootstrap_servers = [s.strip() for s in bootstrap_servers.split(",") if s.strip()]
        if not bootstrap_servers:
            raise ValueError("KafkaProducer needs at least one bootstrap server (host:port)")
        self.bootstrap_servers: list[str] = list(bootstrap_servers)
        self.topics: tuple[str, ...] = tuple(topics or ())
        self.options: dict[str, Any] = {**DEFAULT_PRODUCER_OPTIONS, **producer_options}
        self._producer: _AIOKafkaProducer | None = None
        self._starting: asyncio.Lock | None = None

    @property
    def started(self) -> bool:
        """Whether the producer is connected and accepting sends."""
        return self._producer is not None

    async def start(self) -> None:
        """Connect to the cluster and fetch metadata of `topics`; a no-op when started."""
        if self._producer is not None:
            return
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._producer is None:
                self._producer = await self._connect()

    async def _connect(self) -> _AIOKafkaProducer:
        from aiokafka import AIOKafkaProducer

        producer: _AIOKafkaProducer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers, **self.options
        )
        try:
            await producer.start()
            if self.topics:
                await producer.client.set_topics(list(self.topics))
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def stop(self) -> None:
        """Deliver what is pending and disconnect; a no-op when not started."""
        producer, self._producer = self._producer, None
        self._starting = None
        if producer is not None:
            await producer.stop()

    async def flush(self) -> None:
        """Wait until every record sent so far is delivered or has failed."""
        if self._producer is not None:
            await self._producer.flush()

    async def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> Awaitable[Any]:
        """Queue a record (starting the producer if needed) and return its delivery future.

        Awaiting the future yields aiokafka's `RecordMetadata` (topic, partition, offset) once
        the broker has acknowledged the record, and raises if it was not accepted in time.
        Records with the same key go to the same partition in the order they were queued.
        """
        if self._producer is None:
            await self.start()
        assert self._producer is not None
        return await self._producer.send(topic, value, key=key, headers=list(headers))

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        state = "started" if self.started else "stopped"
        return f"<KafkaProducer {','.join(self.bootstrap_servers)} {state}>"


def kafka_producer_factory(
    dsn: str,
    topics: Sequence[str] | None = None,
    **producer_options: Any,
) -> KafkaProducer:
    """Build a `KafkaProducer` for `dsn` (`"host:port"` or `"h1:port,h2:port"`).

    `topics` are the topics whose metadata is fetched when the producer starts, so the first
    send to each does not wait for it; `producer_options` go to `aiokafka.AIOKafkaProducer`
    over `DEFAULT_PRODUCER_OPTIONS`.
    """
    return KafkaProducer(dsn, topics=topics, **producer_options)
