"""python-cqrs 5.3.0's outbox producer, PostgreSQL to RabbitMQ or Kafka: throughput.

Run by relay_bench.py with the python-cqrs venv's interpreter; prints one JSON document. Seeds
`--events` rows with its `SqlAlchemyOutboxedEventRepository.add` into a fresh table, then times
its documented producer loop (`event_batch_generator` / `send_message` / `repository.commit()`)
until a batch comes back empty, and checks every row is PRODUCED and the broker holds exactly
`--events` messages. python-cqrs has no leases, so only one producer may drain a table.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import sqlalchemy as sa
from _common import emit, parse, payload, unique
from _kafka import count_records
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import registry

import cqrs
from cqrs.outbox.repository import EventStatus
from cqrs.outbox.sqlalchemy import (
    OutboxModel,
    SqlAlchemyOutboxedEventRepository,
    rebind_outbox_model,
)

__all__ = ["main"]

OrderPaid = cqrs.NotificationEvent[dict]  # type: ignore[type-arg]
SEED_CHUNK = 1000


class Rabbit:
    """python-cqrs's AMQP broker publishes to a queue named after the topic; we count it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.topic = unique("bench.pycqrs")
        self.exchange = unique("bench_pycqrs_exchange")

    async def __aenter__(self) -> Rabbit:
        import aio_pika

        self.connection = await aio_pika.connect(self.url)
        self.channel = await self.connection.channel()
        return self

    def broker(self) -> Any:
        from cqrs.adapters.amqp import amqp_publisher_factory
        from cqrs.message_brokers.amqp import AMQPMessageBroker

        return AMQPMessageBroker(amqp_publisher_factory(self.url), exchange_name=self.exchange)

    async def delivered(self, expected: int) -> int:
        queue = await self.channel.declare_queue(self.topic, passive=True)
        count: int = queue.declaration_result.message_count
        return count

    async def __aexit__(self, *exc: object) -> None:
        try:
            queue = await self.channel.declare_queue(self.topic, passive=True)
            await queue.delete(if_unused=False, if_empty=False)
        finally:
            await self.connection.close()


class Kafka:
    """python-cqrs's Kafka broker on a fresh topic, whose end offsets are summed."""

    def __init__(self, servers: str) -> None:
        self.servers = servers
        self.topic = unique("bench-pycqrs").replace("_", "-")

    async def __aenter__(self) -> Kafka:
        return self

    def broker(self) -> Any:
        from cqrs.adapters.kafka import kafka_producer_factory
        from cqrs.message_brokers.kafka import KafkaMessageBroker

        return KafkaMessageBroker(kafka_producer_factory(dsn=self.servers))

    async def delivered(self, expected: int) -> int:
        return await count_records(self.servers, self.topic, expected)

    async def __aexit__(self, *exc: object) -> None:
        return None


async def _warm(broker: Any, side: Rabbit | Kafka) -> None:
    """Connect the broker before timing: python-cqrs connects on first send."""
    if isinstance(side, Kafka):
        await broker._producer._producer.start()
    else:
        async with broker.publisher.channel_pool.acquire():
            pass


async def _close(broker: Any, side: Rabbit | Kafka) -> None:
    """Close what python-cqrs opened (its brokers have no close method)."""
    if isinstance(side, Kafka):
        await broker._producer._producer.stop()
        return
    channels = broker.publisher.channel_pool
    connections = channels._Pool__constructor.keywords["connection_pool"]
    await channels.close()
    await connections.close()


async def throughput(args: Any) -> dict[str, Any]:
    """Seed, drain with python-cqrs's producer loop, verify both ends."""
    table = unique("bench_pycqrs_outbox")
    rebind_outbox_model(OutboxModel, registry().generate_base(), table)
    cqrs.OutboxedEventMap.register("OrderPaid", OrderPaid)
    side = Rabbit(args.amqp) if args.broker == "rabbitmq" else Kafka(args.kafka)
    engine = create_async_engine(args.database)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with engine.begin() as conn:
        await conn.run_sync(OutboxModel.__table__.create)
    broker = side.broker()
    try:
        async with side:
            seed_started = time.perf_counter()
            for start in range(0, args.events, SEED_CHUNK):
                async with sessions() as session:
                    writer = SqlAlchemyOutboxedEventRepository(session)
                    for i in range(start, min(start + SEED_CHUNK, args.events)):
                        writer.add(
                            OrderPaid(event_name="OrderPaid", topic=side.topic, payload=payload(i))
                        )
                    await writer.commit()
            seed_s = time.perf_counter() - seed_started
            async with engine.connect() as conn:
                await conn.execute(sa.text(f"ANALYZE {table}"))
                await conn.commit()
            await _warm(broker, side)

            batches = 0
            async with sessions() as session:
                repository = SqlAlchemyOutboxedEventRepository(session)
                producer = cqrs.EventProducer(broker, repository)
                started = time.perf_counter()
                async with asyncio.timeout(args.timeout):
                    async for events in producer.event_batch_generator(args.batch_size):
                        if not events:
                            break
                        for event in events:
                            await producer.send_message(event)
                        await producer.repository.commit()
                        batches += 1
                elapsed = time.perf_counter() - started
            async with engine.connect() as conn:
                column = OutboxModel.__table__.c.event_status
                produced = await conn.scalar(
                    sa.select(sa.func.count()).where(column == EventStatus.PRODUCED)
                )
            delivered = await side.delivered(args.events)
    finally:
        await _close(broker, side)
        async with engine.begin() as conn:
            await conn.run_sync(OutboxModel.__table__.drop)
            await conn.execute(sa.text("DROP TYPE IF EXISTS eventstatus"))
        await engine.dispose()
    return {
        "events": args.events,
        "workers": 1,
        "batch_size": args.batch_size,
        "seconds": elapsed,
        "events_per_s": args.events / elapsed,
        "seed_seconds": seed_s,
        "published": int(produced or 0),
        "batches": batches,
        "rows_left_in_table": args.events - int(produced or 0),
        "delivered": delivered,
    }


def main() -> None:
    """Run the throughput command and print its JSON report."""
    args = parse()
    if args.command != "throughput":
        raise SystemExit("python-cqrs: only `throughput` is measured")
    report = asyncio.run(throughput(args))
    report.update(side="pycqrs", command=args.command, broker=args.broker, cqrs_file=cqrs.__file__)
    emit(report)


if __name__ == "__main__":
    main()
