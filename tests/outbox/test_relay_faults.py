"""The relay against real PostgreSQL and RabbitMQ: outages wait, poison stays isolated.

RabbitMQ is used (not tansu) because these tests count deliveries across a broker outage, and
a tansu restart loses what it stored. The outage is simulated with a `TcpProxy` between the
relay and RabbitMQ, so other users of the service are not disturbed.
"""

from __future__ import annotations

import asyncio
import collections
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

import cqrs
from cqrs.exceptions import InvalidTopicError
from cqrs.outbox import ExponentialBackoff, OutboxRelay
from cqrs.outbox.relay import BROKER
from cqrs.testing._support.services import require_service
from cqrs.testing.proxy import TcpProxy
from cqrs_rabbitmq import RabbitMQMessageBroker
from cqrs_sqla import SqlAlchemyOutboxedEventRepository

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.timeout(240)]


class Step(cqrs.Response):
    key: str
    seq: int


StepEvent = cqrs.NotificationEvent[Step]


def step(key: str, seq: int, topic: str, size: int = 0) -> Any:
    return StepEvent(
        event_name="Step",
        topic=topic,
        partition_key=key,
        payload=Step(key=key + "." * size, seq=seq),
    )


@pytest.fixture
async def outbox() -> AsyncIterator[SqlAlchemyOutboxedEventRepository]:
    engine = create_async_engine(require_service("postgres").url, pool_size=5)
    repository = SqlAlchemyOutboxedEventRepository(
        engine, table=f"faults_outbox_{uuid.uuid4().hex[:8]}"
    )
    await repository.create_schema()
    try:
        yield repository
    finally:
        await repository.drop_schema()
        await engine.dispose()


class Queue:
    """A durable queue bound to a test exchange, read by a side connection."""

    def __init__(self, url: str, exchange: str) -> None:
        self.url = url
        self.exchange = exchange
        self.name = f"{exchange}.q"
        self.received: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def __aenter__(self) -> Queue:
        self.connection = await aio_pika.connect(self.url)
        channel = await self.connection.channel()
        await channel.declare_exchange(self.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        self.queue = await channel.declare_queue(self.name, durable=True)
        self.channel = channel
        return self

    async def bind(self, routing_key: str) -> None:
        await self.queue.bind(self.exchange, routing_key=routing_key)

    async def collect(self, count: int, timeout: float) -> list[dict[str, Any]]:
        """Read until `count` distinct events arrived in all; returns every delivery's payload."""
        seen = {str(m.headers.get("event-id")) for m in self.received}
        if len(seen) >= count:
            return [json.loads(m.body)["payload"] for m in self.received]
        async with asyncio.timeout(timeout):
            async with self.queue.iterator() as messages:
                async for message in messages:
                    await message.ack()
                    self.received.append(message)
                    seen.add(str(message.headers.get("event-id")))
                    if len(seen) >= count:
                        break
        return [json.loads(m.body)["payload"] for m in self.received]

    async def __aexit__(self, *exc: object) -> None:
        channel = await self.connection.channel()
        await channel.queue_delete(self.name)
        await channel.exchange_delete(self.exchange)
        await self.connection.close()


def first_deliveries(payloads: list[dict[str, Any]]) -> dict[str, list[int]]:
    order: dict[str, list[int]] = collections.defaultdict(list)
    seen: set[tuple[str, int]] = set()
    for payload in payloads:
        item = (payload["key"].rstrip("."), payload["seq"])
        if item not in seen:
            seen.add(item)
            order[item[0]].append(item[1])
    return order


async def test_a_30_second_broker_outage_dead_letters_nothing_and_loses_nothing(
    outbox: SqlAlchemyOutboxedEventRepository,
) -> None:
    """Before: with RabbitMQ unreachable, rows were charged attempts and dead-lettered after
    `max_attempts` (seconds with this budget), parking their keys until a manual replay."""
    amqp = require_service("rabbitmq")
    exchange = f"faults.{uuid.uuid4().hex[:8]}"
    async with Queue(amqp.url, exchange) as queue, TcpProxy(amqp.host, amqp.port) as proxy:
        await queue.bind("steps")
        relays = [
            OutboxRelay(
                outbox,
                RabbitMQMessageBroker(
                    proxy.url_for(amqp.url, reconnect_interval="0.2"),
                    exchange=exchange,
                    reconnect_timeout=2,
                ),
                batch_size=100,
                lease_seconds=5,
                max_attempts=3,  # a retry budget of about a second: far shorter than the outage
                backoff=ExponentialBackoff(base=0.1, cap=0.5),
                destination_backoff=ExponentialBackoff(base=0.2, cap=2.0),
                poll_interval=0.01,
            )
            for _ in range(2)
        ]
        running = [asyncio.create_task(relay.run()) for relay in relays]
        seq = collections.Counter[str]()

        async def write(count: int) -> None:
            for start in range(0, count, 20):
                async with outbox as session:
                    for n in range(start, start + 20):
                        key = f"k{n % 40}"
                        outbox.add(session, step(key, seq[key], "steps"))
                        seq[key] += 1
                    await outbox.commit(session)

        try:
            await write(500)
            proxy.down()
            writing = asyncio.create_task(write(1500))
            await asyncio.sleep(30)
            await writing
            during = await outbox.stats()
            assert during.dead == 0, "an outage never dead-letters"
            assert any(o.scope == BROKER for r in relays for o in r.outages)
            published_before = [r.counters.published for r in relays]
            proxy.up()
            payloads = await queue.collect(2000, timeout=120)
        finally:
            for relay in relays:
                relay.stop()
            await asyncio.gather(*running)
            for relay in relays:
                await relay.broker.close()  # type: ignore[attr-defined]
    after = await outbox.stats()
    assert (after.pending, after.dead) == (0, 0)
    assert sum(r.counters.dead_lettered for r in relays) == 0
    order = first_deliveries(payloads)
    assert sum(len(v) for v in order.values()) == 2000
    for key, numbers in order.items():
        assert numbers == list(range(seq[key])), f"key {key} out of order or incomplete"
    # A relay ends its outage by publishing; one the other left nothing to publish keeps it.
    publishing = [
        relay
        for relay, before in zip(relays, published_before, strict=True)
        if relay.counters.published > before
    ]
    assert publishing, "nothing was published after the broker came back"
    assert all(r.outages == [] for r in publishing), "the relays noticed the broker came back"


async def test_an_unbound_topic_waits_without_charges_while_bound_topics_flow(
    outbox: SqlAlchemyOutboxedEventRepository,
) -> None:
    """Before: NO_ROUTE counted as a failed attempt and dead-lettered after max_attempts."""
    amqp = require_service("rabbitmq")
    exchange = f"faults.{uuid.uuid4().hex[:8]}"
    async with Queue(amqp.url, exchange) as queue:
        await queue.bind("bound")
        broker = RabbitMQMessageBroker(amqp.url, exchange=exchange)
        relay = OutboxRelay(
            outbox,
            broker,
            max_attempts=2,
            backoff=ExponentialBackoff(base=0.05, cap=0.1),
            destination_backoff=ExponentialBackoff(base=0.1, cap=0.5),
            poll_interval=0.01,
        )
        async with outbox as session:
            for n in range(20):
                outbox.add(session, step(f"b{n % 2}", n // 2, "bound"))
                outbox.add(session, step(f"u{n % 2}", n // 2, "later"))
            await outbox.commit(session)
        task = asyncio.create_task(relay.run())
        try:
            payloads = await queue.collect(20, timeout=30)
            for _ in range(100):
                if any(o.scope == "later" for o in relay.outages):
                    break
                await asyncio.sleep(0.05)
            assert [o.scope for o in relay.outages] == ["later"]
            await asyncio.sleep(1.0)  # several retries of the unbound topic
            stats = await outbox.stats()
            assert (stats.pending, stats.dead) == (20, 0)
            peek = await outbox.claim(worker_id="peek", batch_size=100, lease_seconds=0.01)
            assert all(row.attempts == 0 for row in peek)
            await queue.bind("later")
            payloads = await queue.collect(40, timeout=30)
        finally:
            relay.stop()
            await task
            await broker.close()
    order = first_deliveries(payloads)
    assert order == {key: list(range(10)) for key in ("b0", "b1", "u0", "u1")}
    assert relay.counters.dead_lettered == relay.counters.retried == 0


async def test_an_oversize_row_is_dead_lettered_alone_with_no_duplicate_publishes(
    outbox: SqlAlchemyOutboxedEventRepository,
) -> None:
    """Before: a refused call was re-sent one message at a time (every row in it again), and a
    message over RabbitMQ's limit closed the channel, charging the rows in flight beside it."""
    amqp = require_service("rabbitmq")
    exchange = f"faults.{uuid.uuid4().hex[:8]}"
    async with Queue(amqp.url, exchange) as queue:
        await queue.bind("steps")
        broker = RabbitMQMessageBroker(amqp.url, exchange=exchange, max_message_bytes=64 * 1024)
        relay = OutboxRelay(outbox, broker, batch_size=500, max_attempts=1)
        async with outbox as session:
            for n in range(200):
                key = f"k{n % 20}"
                size = 100_000 if n == 45 else 0  # key k5, seq 2
                outbox.add(session, step(key, n // 20, "steps", size))
            await outbox.commit(session)
        try:
            await relay.run_until_idle()
            expected = 200 - 1 - 7  # the poison, and k5's 7 later rows parked behind it
            payloads = await queue.collect(expected, timeout=30)
            await asyncio.sleep(0.5)
            extra = await queue.queue.get(fail=False)
        finally:
            await broker.close()
    assert extra is None, "nothing more than the expected rows arrived"
    assert len(payloads) == expected, "no row was published twice"
    (dead,) = await outbox.dead_letters()
    assert dead.partition_key == "k5"
    assert "exceeds" in (dead.last_error or "")
    peek = await outbox.claim(worker_id="peek", batch_size=100, lease_seconds=0.01)
    assert peek == [], "k5's later rows wait behind the dead letter"
    stats = await outbox.stats()
    assert (stats.pending, stats.dead) == (7, 1)


async def test_an_overlong_topic_is_refused_when_added_not_by_the_database(
    outbox: SqlAlchemyOutboxedEventRepository,
) -> None:
    """Before: the writer's commit failed with the database's "value too long" error."""
    async with outbox as session:
        outbox.add(session, step("k", 0, "fine"))
        with pytest.raises(InvalidTopicError, match="at most 255"):
            outbox.add(session, step("k", 1, "t" * 300))
        with pytest.raises(InvalidTopicError, match="control characters"):
            outbox.add(session, step("k", 1, "bad\ntopic"))
        await outbox.commit(session)
    assert (await outbox.stats()).pending == 1
