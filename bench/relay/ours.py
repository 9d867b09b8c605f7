"""Our outbox relay, PostgreSQL to RabbitMQ or Kafka: throughput, idle latency, SQL per batch.

Run by relay_bench.py with the workspace interpreter; prints one JSON document. `throughput`
seeds `--events` rows into a fresh outbox table, times `--workers` `OutboxRelay`s (one process,
each relay with its own engine and broker connection) from their first claim until every row
is confirmed by the broker and deleted from the table, then checks the table is empty and the
broker holds exactly `--events` messages. `latency` times commit -> consumer receipt while a
relay idles in `run()`.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import Counter
from typing import Any, ClassVar

import sqlalchemy as sa
from _common import KEYS, emit, parse, payload, quantile, unique
from _kafka import count_records
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import cqrs
from cqrs.outbox import OutboxRelay
from cqrs_sqla import SqlAlchemyOutboxedEventRepository

__all__ = ["main"]

OrderPaid = cqrs.NotificationEvent[dict]  # type: ignore[type-arg]
SEED_CHUNK = 5000


class SqlCounter:
    """Counts what an engine sends: statements by verb, and transaction begins and commits.

    SQLAlchemy's events see the statements it executes; PostgreSQL's hot statements (claim,
    settle) run compiled on asyncpg (`cqrs_sqla.dialects._driver`), counted by wrapping that
    path. A connection in autocommit still reports a begin and an end to its transaction, but
    sends neither: those are not counted.
    """

    _by_engine: ClassVar[dict[int, SqlCounter]] = {}

    def __init__(self, engine: AsyncEngine) -> None:
        self.statements: Counter[str] = Counter()
        self.begins = 0
        self.commits = 0
        sync = engine.sync_engine
        sa_event.listen(sync, "before_cursor_execute", self._statement)
        sa_event.listen(sync, "begin", self._begin)
        sa_event.listen(sync, "commit", self._commit)
        if not SqlCounter._by_engine:
            _count_driver_statements()
        SqlCounter._by_engine[id(engine)] = self

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        self.statements[verb] += 1

    @staticmethod
    def _sent(conn: Any) -> bool:
        return bool(conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT")

    def _begin(self, conn: Any) -> None:
        self.begins += self._sent(conn)

    def _commit(self, conn: Any) -> None:
        self.commits += self._sent(conn)


def _count_driver_statements() -> None:
    """Wrap the driver path once so each statement it runs is counted for its engine."""
    from cqrs_sqla.dialects import _statements

    run = _statements.run_on_driver

    async def counted(engine: Any, compiled: Any, params: Any) -> Any:
        counter = SqlCounter._by_engine.get(id(engine))
        if counter is not None:
            counter.statements[compiled.sql.lstrip().split(None, 1)[0].upper()] += 1
        return await run(engine, compiled, params)

    _statements.run_on_driver = counted


class Rabbit:
    """The consumer side on RabbitMQ: a queue bound to the bench topic, counted and deleted."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.topic = unique("bench.relay").replace("_", ".")
        self.queue_name = unique("bench_relay")

    async def __aenter__(self) -> Rabbit:
        import aio_pika

        from cqrs_rabbitmq.broker import DEFAULT_EXCHANGE

        self.connection = await aio_pika.connect(self.url)
        self.channel = await self.connection.channel()
        exchange = await self.channel.declare_exchange(
            DEFAULT_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        self.queue = await self.channel.declare_queue(self.queue_name, durable=False)
        await self.queue.bind(exchange, routing_key=self.topic)
        return self

    def broker(self) -> Any:
        from cqrs_rabbitmq import RabbitMQMessageBroker

        return RabbitMQMessageBroker(self.url)

    async def delivered(self, expected: int) -> int:
        queue = await self.channel.declare_queue(self.queue_name, passive=True)
        count: int = queue.declaration_result.message_count
        return count

    async def __aexit__(self, *exc: object) -> None:
        await self.queue.delete(if_unused=False, if_empty=False)
        await self.connection.close()


class Kafka:
    """The consumer side on Kafka: a fresh topic whose end offsets are summed."""

    def __init__(self, servers: str) -> None:
        self.servers = servers
        self.topic = unique("bench-relay").replace("_", "-")

    async def __aenter__(self) -> Kafka:
        return self

    def broker(self) -> Any:
        from cqrs_kafka import KafkaMessageBroker, kafka_producer_factory

        return KafkaMessageBroker(kafka_producer_factory(dsn=self.servers, topics=[self.topic]))

    async def delivered(self, expected: int) -> int:
        return await count_records(self.servers, self.topic, expected)

    async def __aexit__(self, *exc: object) -> None:
        return None


async def _start(broker: Any) -> None:
    """Open the broker's connection now, so the timed part does not include it."""
    if hasattr(broker, "connect"):
        await broker.connect()
    else:
        await broker.producer.start()


async def _seed(outbox: SqlAlchemyOutboxedEventRepository, topic: str, events: int) -> None:
    for start in range(0, events, SEED_CHUNK):
        await outbox.add_many(
            [
                OrderPaid(
                    event_name="OrderPaid",
                    topic=topic,
                    payload=payload(i),
                    partition_key=f"order-{i % KEYS}",
                )
                for i in range(start, min(start + SEED_CHUNK, events))
            ]
        )


async def _analyze(engine: AsyncEngine, table: str) -> None:
    """Refresh the planner's statistics, as autovacuum does for a long-lived outbox table."""
    async with engine.connect() as conn:
        await conn.execute(sa.text(f"ANALYZE {table}"))
        await conn.commit()


async def _remaining(engine: AsyncEngine, table: sa.Table) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def throughput(args: Any) -> dict[str, Any]:
    """Seed, relay everything with `args.workers` relays, verify both ends."""
    side = Rabbit(args.amqp) if args.broker == "rabbitmq" else Kafka(args.kafka)
    admin = create_async_engine(args.database)
    outbox = SqlAlchemyOutboxedEventRepository(admin, table=unique("bench_outbox"))
    await outbox.create_schema()
    engines: list[AsyncEngine] = []
    brokers: list[Any] = []
    try:
        async with side:
            seed_started = time.perf_counter()
            await _seed(outbox, side.topic, args.events)
            seed_s = time.perf_counter() - seed_started
            await _analyze(admin, outbox.table.name)
            relays, counters = [], []
            for n in range(args.workers):
                engine = create_async_engine(args.database)
                engines.append(engine)
                counters.append(SqlCounter(engine))
                async with engine.connect() as conn:  # open one pooled connection up front
                    await conn.execute(sa.text("SELECT 1"))
                broker = side.broker()
                brokers.append(broker)
                await _start(broker)
                relays.append(
                    OutboxRelay(
                        SqlAlchemyOutboxedEventRepository(engine, table=outbox.table),
                        broker,
                        batch_size=args.batch_size,
                        worker_id=f"bench-{n}",
                    )
                )
            for counter in counters:  # count only the relay's own statements
                counter.statements.clear()
                counter.begins = counter.commits = 0

            async def drain(relay: OutboxRelay) -> None:
                # `run()`'s busy path (`run_until_idle`: the next claim overlaps publishing),
                # stopping when every seeded row has been published by one relay or another.
                while sum(r.counters.published for r in relays) < args.events:
                    if not await relay.run_until_idle():
                        await asyncio.sleep(0.002)

            started = time.perf_counter()
            async with asyncio.timeout(args.timeout):
                await asyncio.gather(*(drain(relay) for relay in relays))
            elapsed = time.perf_counter() - started
            remaining = await _remaining(admin, outbox.table)
            delivered = await side.delivered(args.events)
    finally:
        for broker in brokers:
            await broker.close()
        for engine in engines:
            await engine.dispose()
        await outbox.drop_schema()
        await admin.dispose()
    batches = sum(r.counters.batches for r in relays)
    statements: Counter[str] = Counter()
    for counter in counters:
        statements.update(counter.statements)
    begins = sum(c.begins for c in counters)
    commits = sum(c.commits for c in counters)
    return {
        "events": args.events,
        "workers": args.workers,
        "workers_mode": "one process, one engine and one broker connection per relay",
        "batch_size": args.batch_size,
        "seconds": elapsed,
        "events_per_s": args.events / elapsed,
        "seed_seconds": seed_s,
        "published": sum(r.counters.published for r in relays),
        "retried": sum(r.counters.retried for r in relays),
        "released": sum(r.counters.released for r in relays),
        "errors": sum(r.counters.errors for r in relays),
        "batches": batches,
        "rows_left_in_table": remaining,
        "delivered": delivered,
        "sql": {
            "statements": dict(statements),
            "begins": begins,
            "commits": commits,
            "statements_per_batch": sum(statements.values()) / max(batches, 1),
            "round_trips_per_batch": (sum(statements.values()) + begins + commits)
            / max(batches, 1),
        },
    }


async def latency(args: Any) -> dict[str, Any]:
    """Commit one event at a time while a relay idles in `run()`; time commit -> receipt."""
    import aio_pika

    from cqrs_rabbitmq.broker import DEFAULT_EXCHANGE

    side = Rabbit(args.amqp)
    engine = create_async_engine(args.database)
    outbox = SqlAlchemyOutboxedEventRepository(engine, table=unique("bench_outbox"))
    await outbox.create_schema()
    broker = side.broker()
    waiting: dict[str, asyncio.Future[float]] = {}

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        received = time.perf_counter()
        await message.ack()
        future = waiting.pop(str(message.message_id), None)
        if future is not None and not future.done():
            future.set_result(received)

    samples: list[float] = []
    rng = random.Random(7)
    try:
        async with side:
            await side.queue.consume(on_message)
            await _start(broker)
            relay = OutboxRelay(outbox, broker, worker_id="bench-latency")
            running = asyncio.create_task(relay.run())
            try:
                for i in range(args.samples + 3):  # the first three warm up
                    await asyncio.sleep(rng.uniform(0.05, 0.6))
                    event = OrderPaid(
                        event_name="OrderPaid",
                        topic=side.topic,
                        payload=payload(i),
                        partition_key=f"order-{i % KEYS}",
                    )
                    future = asyncio.get_running_loop().create_future()
                    waiting[str(event.event_id)] = future
                    async with outbox as session:
                        outbox.add(session, event)
                        await outbox.commit(session)
                    committed = time.perf_counter()
                    received = await asyncio.wait_for(future, 10)
                    if i >= 3:
                        samples.append((received - committed) * 1000)
            finally:
                relay.stop()
                await running
            assert DEFAULT_EXCHANGE
    finally:
        await broker.close()
        await outbox.drop_schema()
        await engine.dispose()
    return {
        "samples": len(samples),
        "poll_interval_s": relay.poll_interval,
        "max_poll_interval_s": relay.max_poll_interval,
        "median_ms": statistics.median(samples),
        "p95_ms": quantile(samples, 0.95),
        "max_ms": max(samples),
        "samples_ms": samples,
    }


def main() -> None:
    """Run the command given on the command line and print its JSON report."""
    args = parse()
    work = throughput if args.command == "throughput" else latency
    report = asyncio.run(work(args))
    report.update(side="ours", command=args.command, broker=args.broker, cqrs_file=cqrs.__file__)
    emit(report)


if __name__ == "__main__":
    main()
