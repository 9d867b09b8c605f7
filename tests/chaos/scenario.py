"""Outbox chaos scenario: relay processes SIGKILLed and restarted, the broker cut off, while
events are written; a consumer behind an inbox must apply every event exactly once, in key order.

Pieces: a PostgreSQL outbox; `N` `cqrs relay` processes publishing to RabbitMQ through a
`TcpProxy` (so the test can cut the broker off, for longer than the relays' retry budget,
without touching other connections); a writer
committing events with per-key sequence numbers; a chaos loop killing (`kill -9`) and restarting
relays and taking the proxy down; a `RabbitMQEventConsumer` dispatching through a PostgreSQL
inbox, whose handler writes one effect row per event in the inbox transaction.

Run small by the test suite (tests/chaos/test_outbox_chaos.py) and large by the bench session:
`python tests/chaos/scenario.py --events 20000 --relays 4 --seconds 60`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import cqrs
import cqrs.events.bootstrap
from cqrs.consumer import MessageDispatcher, inbox_session
from cqrs.testing._support.services import SERVICES
from cqrs.testing.proxy import TcpProxy
from cqrs_rabbitmq import RabbitMQEventConsumer
from cqrs_sqla import SqlAlchemyInbox, SqlAlchemyOutboxedEventRepository

__all__ = ["ChaosReport", "ChaosSettings", "run_scenario"]


@dataclasses.dataclass(frozen=True)
class ChaosSettings:
    """How big and how hostile one run is (all bounded)."""

    events: int = 1500
    keys: int = 12
    relays: int = 3
    seconds: float = 15.0
    """How long writing is spread over; chaos runs while writing, then everything drains."""
    kill_every: float = 0.8
    outage_seconds: float = 6.0
    """Longer than the relays' whole retry budget (`max_attempts` with its backoff): a broker
    outage must still dead-letter nothing."""
    max_attempts: int = 3
    drain_timeout: float = 90.0
    seed: int = 7


@dataclasses.dataclass
class ChaosReport:
    """What happened: counts the assertions check and the bench prints."""

    written: int = 0
    applied: int = 0
    effect_rows: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    outbox_dead_letters: int = 0
    restarts: int = 0
    """Relays that exited by themselves (e.g. failing fast while the broker was down) and
    were started again, as a process supervisor would."""
    kills: int = 0
    outages: int = 0
    order_violations: int = 0
    missing: int = 0
    write_seconds: float = 0.0
    total_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Step(cqrs.Response):
    key: str
    seq: int


StepEvent = cqrs.NotificationEvent[Step]


class _Applied:
    """Records the order in which the handler first saw each key's events."""

    def __init__(self, effects: sa.Table) -> None:
        self.effects = effects
        self.seen: dict[str, list[int]] = collections.defaultdict(list)


def _handler_class(applied: _Applied) -> type:
    class ApplyStep(cqrs.EventHandler[StepEvent]):  # type: ignore[valid-type]
        async def handle(self, event: Any) -> None:
            session = inbox_session()
            await session.execute(
                sa.insert(applied.effects).values(event_id=event.event_id, key=event.payload.key)
            )
            applied.seen[event.payload.key].append(event.payload.seq)

    return ApplyStep


class _Relays:
    """The relay processes, killed and restarted by PID."""

    def __init__(self, outbox_url: str, broker_url: str, count: int, max_attempts: int) -> None:
        self.outbox_url = outbox_url
        self.broker_url = broker_url
        self.max_attempts = max_attempts
        self.processes: list[subprocess.Popen[bytes]] = []
        self.started = 0
        for _ in range(count):
            self.processes.append(self._start())

    def _start(self) -> subprocess.Popen[bytes]:
        command = [
            sys.executable,
            "-m",
            "cqrs",
            "relay",
            "--outbox",
            self.outbox_url,
            "--broker",
            self.broker_url,
            "--batch-size",
            "100",
            "--lease",
            "3",
            "--max-attempts",
            str(self.max_attempts),
            "--progress",
            "0",
        ]
        log_dir = os.environ.get("CQRS_CHAOS_LOG_DIR")
        if not log_dir:
            return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.started += 1
        with open(os.path.join(log_dir, f"relay-{os.getpid()}-{self.started}.log"), "wb") as log:
            return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def kill_one(self, rng: random.Random) -> None:
        index = rng.randrange(len(self.processes))
        victim = self.processes[index]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        self.processes[index] = self._start()

    def restart_exited(self) -> int:
        """Start again the relays that exited by themselves; returns how many."""
        restarted = 0
        for index, process in enumerate(self.processes):
            if process.poll() is not None:
                self.processes[index] = self._start()
                restarted += 1
        return restarted

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


async def _write(outbox: SqlAlchemyOutboxedEventRepository, settings: ChaosSettings) -> int:
    rng = random.Random(settings.seed)
    next_seq = collections.Counter[str]()
    pause = settings.seconds / max(settings.events / 5, 1)
    written = 0
    while written < settings.events:
        async with outbox as session:
            for _ in range(min(5, settings.events - written)):
                key = f"key-{rng.randrange(settings.keys)}"
                outbox.add(
                    session,
                    StepEvent(
                        event_name="Step",
                        topic="chaos.steps",
                        partition_key=key,
                        payload=Step(key=key, seq=next_seq[key]),
                    ),
                )
                next_seq[key] += 1
                written += 1
            await outbox.commit(session)
        await asyncio.sleep(pause)
    return written


async def _chaos(
    relays: _Relays,
    proxy: TcpProxy,
    settings: ChaosSettings,
    report: ChaosReport,
    writing: asyncio.Task[int],
) -> None:
    rng = random.Random(settings.seed + 1)
    outage_at = time.monotonic() + settings.seconds / 2
    while not writing.done():
        await asyncio.sleep(settings.kill_every * rng.uniform(0.5, 1.5))
        report.restarts += relays.restart_exited()
        await asyncio.to_thread(relays.kill_one, rng)
        report.kills += 1
        if report.outages == 0 and time.monotonic() >= outage_at:
            proxy.down()
            report.outages += 1
            ends = time.monotonic() + settings.outage_seconds
            while time.monotonic() < ends:
                await asyncio.sleep(0.5)
                report.restarts += relays.restart_exited()
            proxy.up()


async def _delete_topology(url: str, exchange: str, consumer: RabbitMQEventConsumer) -> None:
    """Remove the queues and exchanges this run declared."""
    import aio_pika

    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        for queue in (consumer.queue, consumer.dead_letter_queue):
            await channel.queue_delete(queue)
        for name in (exchange, f"{exchange}.dlx"):
            await channel.exchange_delete(name)


async def _count(engine: AsyncEngine, table: sa.Table) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def run_scenario(settings: ChaosSettings) -> ChaosReport:
    """Run one chaos scenario against the machine's PostgreSQL and RabbitMQ; returns the report."""
    report = ChaosReport()
    suffix = uuid.uuid4().hex[:8]
    pg_url, amqp_url = SERVICES["postgres"].url, SERVICES["rabbitmq"].url
    engine = create_async_engine(pg_url, pool_size=10)
    outbox = SqlAlchemyOutboxedEventRepository(engine, table=f"chaos_outbox_{suffix}")
    inbox = SqlAlchemyInbox(engine, table=f"chaos_inbox_{suffix}")
    effects = sa.Table(
        f"chaos_effects_{suffix}",
        sa.MetaData(),
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("key", sa.String(50), nullable=False),
    )
    await outbox.create_schema()
    await inbox.create_schema()
    async with engine.begin() as conn:
        await conn.run_sync(effects.metadata.create_all)

    applied = _Applied(effects)
    mediator = cqrs.events.bootstrap.bootstrap(
        events_mapper=lambda m: m.bind(StepEvent, _handler_class(applied))
    )
    dispatcher = MessageDispatcher(
        mediator, {"Step": StepEvent}, inbox=inbox, consumer_name="chaos"
    )
    exchange = f"chaos.{suffix}"
    consumer = RabbitMQEventConsumer(
        amqp_url,
        f"chaos.{suffix}",
        ["chaos.steps"],
        dispatcher,
        exchange=exchange,
        dead_letter_exchange=f"chaos.{suffix}.dlx",
    )
    service = SERVICES["rabbitmq"]
    started = time.monotonic()
    relays: _Relays | None = None
    consuming: asyncio.Task[Any] | None = None
    try:
        async with TcpProxy(service.host, service.port) as proxy:
            consuming = asyncio.create_task(consumer.run())
            await consumer.wait_started()
            outbox_url = f"{pg_url}?table={outbox.table.name}"
            relays = _Relays(
                outbox_url,
                proxy.url_for(amqp_url, exchange=exchange),
                settings.relays,
                settings.max_attempts,
            )
            writing = asyncio.create_task(_write(outbox, settings))
            await _chaos(relays, proxy, settings, report, writing)
            report.written = await writing
            report.write_seconds = time.monotonic() - started
            deadline = time.monotonic() + settings.drain_timeout
            while time.monotonic() < deadline:
                if await _count(engine, effects) >= report.written:
                    break
                report.restarts += relays.restart_exited()
                await asyncio.sleep(0.25)
            await asyncio.sleep(1.0)
    finally:
        if relays is not None:
            await asyncio.to_thread(relays.stop)
        consumer.stop()
        if consuming is not None:
            await asyncio.wait_for(consuming, 30)
        await _delete_topology(amqp_url, exchange, consumer)
        report.effect_rows = await _count(engine, effects)
        report.applied = sum(len(v) for v in applied.seen.values())
        report.duplicates = consumer.duplicates
        report.dead_letters = consumer.dead_lettered
        report.order_violations = sum(
            1 for seqs in applied.seen.values() for a, b in itertools.pairwise(seqs) if b <= a
        )
        report.missing = report.written - len({(k, s) for k, v in applied.seen.items() for s in v})
        report.total_seconds = time.monotonic() - started
        report.outbox_dead_letters = (await outbox.stats()).dead
        await outbox.drop_schema()
        await inbox.drop_schema()
        async with engine.begin() as conn:
            await conn.run_sync(effects.metadata.drop_all)
        await engine.dispose()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for field in dataclasses.fields(ChaosSettings):
        parser.add_argument(
            f"--{field.name.replace('_', '-')}", type=type(field.default), default=field.default
        )
    args = vars(parser.parse_args())
    report = asyncio.run(run_scenario(ChaosSettings(**args)))
    print(json.dumps(report.as_dict(), indent=2))
    ok = (
        report.missing == 0
        and report.order_violations == 0
        and report.effect_rows == report.written
        and report.outbox_dead_letters == 0
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
