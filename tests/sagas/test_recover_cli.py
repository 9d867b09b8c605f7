"""`cqrs saga recover` as an operator runs it, after a service was SIGKILLed mid-saga.

Real processes (the service, the recovery command), real PostgreSQL and SQLite, and RabbitMQ
as the broker the events must reach: the resumed step's notification event goes through the
SQL outbox (written with the step's transition) and a relay, or straight to `--broker`, and
arrives exactly once; a recovery that would lose it refuses to start.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue

from cqrs.outbox import OutboxRelay
from cqrs.saga import SagaStatus
from cqrs.testing._support.services import require_service
from cqrs_rabbitmq import RabbitMQMessageBroker
from cqrs_sqla import SqlAlchemySagaStorage

HERE = Path(__file__).resolve().parent
APP = HERE / "recover_app.py"
SAFETY = 30.0
"""Generous bound on every wait; nothing here asserts how long anything took."""


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{path}" if path else str(HERE)}


def recover(*options: str) -> subprocess.CompletedProcess[str]:
    """`python -m cqrs saga recover --app recover_app:sagas ... --once` in a new process."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cqrs",
            "saga",
            "recover",
            "--app",
            "recover_app:sagas",
            "--stale-after",
            "0",
            "--lease",
            "30",
            "--once",
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
    )


async def kill_mid_saga(storage_url: str, topic: str, journal: Path, *broker: str) -> uuid.UUID:
    """Run the service's saga in a child process that SIGKILLs itself inside step 2 (Pack)."""
    saga_id = uuid.uuid4()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(APP),
        storage_url,
        str(saga_id),
        topic,
        str(journal),
        *broker,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )
    _, stderr = await asyncio.wait_for(child.communicate(), SAFETY)
    assert child.returncode == -signal.SIGKILL, stderr.decode()
    return saga_id


async def until_interrupted(storage: SqlAlchemySagaStorage, saga_id: uuid.UUID) -> None:
    """Wait until the killed run's lease has run out and recovery may take the saga."""
    async with asyncio.timeout(SAFETY):
        while saga_id not in await storage.find_interrupted(stale_after=0):
            await asyncio.sleep(0.05)


@pytest.fixture
def rabbitmq_url() -> str:
    return require_service("rabbitmq").url


@pytest.fixture
async def channel(rabbitmq_url: str) -> AsyncIterator[AbstractChannel]:
    connection = await aio_pika.connect(rabbitmq_url)
    try:
        yield await connection.channel()
    finally:
        await connection.close()


@pytest.fixture
def topic() -> str:
    return f"cqrs.test.shipments.{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def queue(channel: AbstractChannel, topic: str) -> AsyncIterator[tuple[str, AbstractQueue]]:
    """A queue bound to `topic` on an exchange of the test's own: (exchange name, queue)."""
    exchange = f"cqrs.test.{uuid.uuid4().hex[:12]}"
    await channel.declare_exchange(exchange, "topic", durable=True)
    declared = await channel.declare_queue(f"cqrs.test.q.{uuid.uuid4().hex[:12]}", durable=True)
    await declared.bind(exchange, topic)
    try:
        yield exchange, declared
    finally:
        await declared.delete(if_unused=False, if_empty=False)
        await channel.exchange_delete(exchange)


async def drain(queue: AbstractQueue) -> list[dict[str, Any]]:
    """Every message in `queue` (all were confirmed before this is called), decoded."""
    received = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        received.append(json.loads(message.body))
    return received


def journal_lines(journal: Path) -> list[str]:
    return journal.read_text().splitlines() if journal.exists() else []


@pytest.mark.postgres
@pytest.mark.rabbitmq
async def test_a_killed_saga_recovered_by_the_cli_publishes_its_step_event_once(
    tmp_path: Path, topic: str, queue: tuple[str, AbstractQueue], rabbitmq_url: str
) -> None:
    suffix = uuid.uuid4().hex[:10]
    url = f"{require_service('postgres').url}?table=saga_cli_{suffix}&outbox=outbox_cli_{suffix}"
    storage = SqlAlchemySagaStorage.from_url(url)
    assert storage.outbox is not None
    outbox = storage.outbox
    await outbox.create_schema()
    await storage.create_schema()
    journal = tmp_path / "journal.txt"
    exchange, bound = queue
    broker = RabbitMQMessageBroker(rabbitmq_url, exchange=exchange)
    try:
        saga_id = await kill_mid_saga(url, topic, journal)
        state = await storage.load_saga_state(saga_id)
        assert state is not None
        assert state.status is SagaStatus.RUNNING
        assert [e.step_name for e in state.history] == ["Reserve"]
        assert (await outbox.stats()).pending == 1, "step 1's event went out with step 1"
        await until_interrupted(storage, saga_id)

        done = recover("--storage", url, "--events", "recover_app:events")
        assert done.returncode == 0, done.stderr
        assert "recovered: completed=1" in done.stderr
        assert "step events to its outbox" in done.stderr
        state = await storage.load_saga_state(saga_id)
        assert state is not None
        assert state.status is SagaStatus.COMPLETED
        assert [e.step_name for e in state.history] == ["Reserve", "Pack", "Ship"]
        assert (await outbox.stats()).pending == 2, "the resumed step's event is in the outbox"
        [packed] = journal_lines(journal)
        assert packed.startswith("packed order-1 "), "the resumed step's domain event was handled"

        relay = OutboxRelay(outbox, broker, batch_size=10)
        assert await relay.run_until_idle() == 2
        assert relay.counters.published == 2
        assert (await outbox.stats()).pending == 0
        received = await drain(bound)
        assert sorted(m["event_name"] for m in received) == ["Reserved", "Shipped"]
        assert len({m["event_id"] for m in received}) == 2
        assert [m["payload"]["order_id"] for m in received] == ["order-1", "order-1"]

        again = recover("--storage", url, "--events", "recover_app:events")
        assert again.returncode == 0, again.stderr
        assert "recovered: none" in again.stderr
        assert (await outbox.stats()).pending == 0, "a finished saga publishes nothing again"
    finally:
        await broker.close()
        await storage.drop_schema()
        await outbox.drop_schema()
        await storage.close()


@pytest.mark.rabbitmq
async def test_without_an_outbox_the_cli_publishes_to_the_broker_it_is_given(
    tmp_path: Path, topic: str, queue: tuple[str, AbstractQueue], rabbitmq_url: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sagas.db'}"
    storage = SqlAlchemySagaStorage.from_url(url)
    await storage.create_schema()
    journal = tmp_path / "journal.txt"
    exchange, bound = queue
    broker = f"{rabbitmq_url}?exchange={exchange}"
    try:
        saga_id = await kill_mid_saga(url, topic, journal, broker)
        await until_interrupted(storage, saga_id)
        done = recover("--storage", url, "--events", "recover_app:events", "--broker", broker)
        assert done.returncode == 0, done.stderr
        assert "recovered: completed=1" in done.stderr
        state = await storage.load_saga_state(saga_id)
        assert state is not None
        assert state.status is SagaStatus.COMPLETED
    finally:
        await storage.close()
    received = await drain(bound)
    assert [m["event_name"] for m in received] == ["Reserved", "Shipped"]
    assert len(journal_lines(journal)) == 1


async def test_the_cli_refuses_to_start_when_it_would_drop_step_events(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sagas.db'}"
    storage = SqlAlchemySagaStorage.from_url(url)
    await storage.create_schema()
    saga_id = await kill_mid_saga(url, "orders", tmp_path / "journal.txt")
    await until_interrupted(storage, saga_id)
    refused = recover("--storage", url)
    try:
        assert refused.returncode != 0
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1, refused.stderr
        assert lines[0].startswith("cqrs saga recover: ")
        assert "--broker" in lines[0]
        assert "?outbox=TABLE" in lines[0]
        state = await storage.load_saga_state(saga_id)
        assert state is not None
        assert (state.status, len(state.history)) == (SagaStatus.RUNNING, 1), "nothing ran"
    finally:
        await storage.close()
