"""Wake-up on commit: on PostgreSQL an insert trigger notifies idle relays; polling stays the
fallback when a notification is lost or the listening connection is cut."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

import cqrs
from cqrs.brokers.message import Message
from cqrs.outbox import OutboxRelay
from cqrs.testing._support.services import require_service
from cqrs_sqla import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.dialects.postgresql import notify_channel

_GENEROUS = 10.0
"""Seconds a test waits for what should happen at once (no assertion on how fast)."""


class Payload(cqrs.Response):
    n: int


def event(n: int, key: str | None = None) -> Any:
    return cqrs.NotificationEvent[Payload](
        event_name="Changed", topic="t", payload=Payload(n=n), partition_key=key
    )


class RecordingBroker:
    def __init__(self) -> None:
        self.accepted: list[Message] = []
        self.arrived = asyncio.Event()

    async def send_message(self, message: Message) -> None:
        self.accepted.append(message)
        self.arrived.set()

    def numbers(self) -> list[int]:
        return [json.loads(m.payload)["payload"]["n"] for m in self.accepted]


@pytest.fixture
async def pg_outbox() -> AsyncIterator[SqlAlchemyOutboxedEventRepository]:
    engine = create_async_engine(require_service("postgres").url)
    outbox = SqlAlchemyOutboxedEventRepository(engine, table=f"outbox_{uuid.uuid4().hex[:10]}")
    await outbox.create_schema()
    try:
        yield outbox
    finally:
        await outbox.drop_schema()
        await engine.dispose()


async def listener_pids(outbox: SqlAlchemyOutboxedEventRepository) -> list[int]:
    """Backends whose last statement was `LISTEN` on the outbox's channel."""
    query = sa.text("SELECT pid FROM pg_stat_activity WHERE query = :listen")
    listen = f'LISTEN "{notify_channel(outbox.table)}"'
    async with outbox.engine.connect() as conn:
        return list((await conn.execute(query, {"listen": listen})).scalars())


async def until(condition: Any) -> None:
    """Wait (at most `_GENEROUS` seconds) until the async `condition()` is true."""
    async with asyncio.timeout(_GENEROUS):
        while not await condition():
            await asyncio.sleep(0.02)


async def commit(outbox: SqlAlchemyOutboxedEventRepository, *events: Any) -> None:
    async with outbox as session:
        for e in events:
            outbox.add(session, e)
        await outbox.commit(session)


async def test_a_commit_wakes_an_idle_relay_that_would_not_poll_for_a_minute(
    pg_outbox: SqlAlchemyOutboxedEventRepository,
) -> None:
    broker = RecordingBroker()
    relay = OutboxRelay(pg_outbox, broker, poll_interval=60.0, max_poll_interval=60.0)
    running = asyncio.create_task(relay.run())
    try:
        await until(lambda: _any(listener_pids(pg_outbox)))
        await commit(pg_outbox, event(1))
        await until(lambda: _true(len(broker.accepted) == 1))
        # Now idle with its next poll a minute away: only the notification can wake it.
        await commit(pg_outbox, event(2), event(3))
        await until(lambda: _true(len(broker.accepted) == 3))
    finally:
        relay.stop()
        await running
    assert broker.numbers() == [1, 2, 3]
    assert (await pg_outbox.stats()).pending == 0


async def test_a_cut_listener_falls_back_to_polling_and_reconnects(
    pg_outbox: SqlAlchemyOutboxedEventRepository,
) -> None:
    broker = RecordingBroker()
    relay = OutboxRelay(pg_outbox, broker)
    running = asyncio.create_task(relay.run())
    try:
        await until(lambda: _any(listener_pids(pg_outbox)))
        (cut,) = await listener_pids(pg_outbox)
        async with pg_outbox.engine.connect() as conn:
            await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": cut})
        await commit(pg_outbox, *(event(n, key=f"k{n % 3}") for n in range(30)))
        await until(lambda: _true(len(broker.accepted) == 30))
        await until(lambda: _true_async(listener_pids(pg_outbox), lambda p: p and cut not in p))
    finally:
        relay.stop()
        await running
    for key in range(3):
        assert [n for n in broker.numbers() if n % 3 == key] == list(range(key, 30, 3))


async def test_a_reconnected_listener_is_woken_again(
    pg_outbox: SqlAlchemyOutboxedEventRepository,
) -> None:
    async with pg_outbox.wakeups() as wake:
        assert wake is not None
        await until(lambda: _any(listener_pids(pg_outbox)))
        (cut,) = await listener_pids(pg_outbox)
        async with pg_outbox.engine.connect() as conn:
            await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": cut})
        await until(lambda: _true_async(listener_pids(pg_outbox), lambda p: p and cut not in p))
        wake.clear()
        await commit(pg_outbox, event(1))
        await asyncio.wait_for(wake.wait(), _GENEROUS)
    assert await listener_pids(pg_outbox) == []


async def test_a_lost_notification_is_delivered_by_polling(
    pg_outbox: SqlAlchemyOutboxedEventRepository,
) -> None:
    table = pg_outbox.table.name
    async with pg_outbox.engine.begin() as conn:
        await conn.exec_driver_sql(f'ALTER TABLE "{table}" DISABLE TRIGGER cqrs_outbox_notify')
    broker = RecordingBroker()
    relay = OutboxRelay(pg_outbox, broker)
    async with pg_outbox.wakeups() as wake:
        assert wake is not None
        await until(lambda: _any(listener_pids(pg_outbox)))
        wake.clear()
        running = asyncio.create_task(relay.run())
        try:
            await commit(pg_outbox, event(1), event(2))
            await until(lambda: _true(len(broker.accepted) == 2))
        finally:
            relay.stop()
            await running
        assert not wake.is_set()
    assert broker.numbers() == [1, 2]


async def test_the_trigger_is_created_idempotently_and_notifies_once_per_commit(
    pg_outbox: SqlAlchemyOutboxedEventRepository,
) -> None:
    await pg_outbox.create_schema()
    got: list[str] = []
    async with pg_outbox.engine.connect() as conn:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        channel = notify_channel(pg_outbox.table)
        await driver.add_listener(channel, lambda *args: got.append(args[2]))
        await pg_outbox.add_many([event(n) for n in range(5)])
        await commit(pg_outbox, event(5), event(6))
        await until(lambda: _true(len(got) >= 2))
        await driver.execute("SELECT 1")  # lets any further notification arrive
        await driver.remove_listener(channel, got.append)
        await conn.invalidate()
    assert got == [channel, channel]


async def test_other_databases_have_no_wakeups(tmp_path: Any) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'o.db'}")
    outbox = SqlAlchemyOutboxedEventRepository(engine)
    await outbox.create_schema()
    try:
        async with outbox.wakeups() as wake:
            assert wake is None
    finally:
        await engine.dispose()


def test_long_table_names_get_a_channel_postgresql_keeps_whole() -> None:
    long_a, long_b = (
        sa.Table("a" * 60 + "x", sa.MetaData()),
        sa.Table("a" * 60 + "y", sa.MetaData()),
    )
    assert len(notify_channel(long_a)) <= 63
    assert notify_channel(long_a) != notify_channel(long_b)


async def _any(pids: Any) -> bool:
    return bool(await pids)


async def _true(value: bool) -> bool:
    return value


async def _true_async(pids: Any, check: Any) -> bool:
    return bool(check(await pids))
