"""Sagas on SQL storage: recovery workers that never overlap (even on a step longer than the
lease), cancelled sagas recovered at once, and steps writing to the outbox atomically with their
transition."""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

import cqrs
from cqrs.saga import (
    Saga,
    SagaContext,
    SagaRecoveryOutcome,
    SagaRecoveryWorker,
    SagaStatus,
    SagaStepHandler,
)
from cqrs.saga.bootstrap import bootstrap
from cqrs.saga.map import SagaMap
from cqrs.testing._support.services import require_service
from cqrs.testing.proxy import TcpProxy
from cqrs_sqla import SqlAlchemyOutboxedEventRepository, SqlAlchemySagaStorage

ACTS: collections.Counter[tuple[str, str]] = collections.Counter()
RUNNING: set[str] = set()
OVERLAPS: list[str] = []


class Transfer(SagaContext):
    transfer_id: str
    amount: int


class Debited(cqrs.Response):
    transfer_id: str


class _Step(SagaStepHandler[Transfer, None]):
    async def act(self, context: Transfer) -> Any:
        if context.transfer_id in RUNNING:
            OVERLAPS.append(context.transfer_id)
        RUNNING.add(context.transfer_id)
        try:
            await asyncio.sleep(0.01)
            ACTS[context.transfer_id, type(self).__name__] += 1
        finally:
            RUNNING.discard(context.transfer_id)
        return self._generate_step_result(None)


class Debit(_Step):
    async def act(self, context: Transfer) -> Any:
        result = await super().act(context)
        self._events = [
            cqrs.NotificationEvent[Debited](
                event_name="Debited",
                topic="transfers",
                payload=Debited(transfer_id=context.transfer_id),
                partition_key=context.transfer_id,
            )
        ]
        return result


class Credit(_Step):
    pass


class Notify(_Step):
    pass


class TransferSaga(Saga[Transfer]):
    steps = (Debit, Credit, Notify)


class Crash(BaseException):
    """Stands in for the process dying in the middle of a step."""


class CrashingCredit(Credit):
    async def act(self, context: Transfer) -> Any:
        raise Crash


class CrashingSaga(Saga[Transfer]):
    steps = (Debit, CrashingCredit, Notify)

    @classmethod
    def saga_name(cls) -> str:
        return TransferSaga.saga_name()


@pytest.fixture(autouse=True)
def _reset() -> None:
    ACTS.clear()
    RUNNING.clear()
    OVERLAPS.clear()


@pytest.fixture
async def postgres_saga_storage() -> AsyncIterator[SqlAlchemySagaStorage]:
    """A saga storage with its outbox on PostgreSQL, the production database these guarantees
    are checked on."""
    engine = create_async_engine(require_service("postgres").url)
    suffix = uuid.uuid4().hex[:10]
    outbox = SqlAlchemyOutboxedEventRepository(engine, table=f"ob_{suffix}")
    storage = SqlAlchemySagaStorage(engine, table=f"saga_{suffix}", outbox=outbox)
    await outbox.create_schema()
    await storage.create_schema()
    try:
        yield storage
    finally:
        await storage.drop_schema()
        await outbox.drop_schema()
        await engine.dispose()


def _sibling(storage: SqlAlchemySagaStorage, engine: Any) -> SqlAlchemySagaStorage:
    """The same tables (saga and outbox) through another engine, as another process sees them."""
    outbox = None
    if storage.outbox is not None:
        outbox = SqlAlchemyOutboxedEventRepository(engine, table=storage.outbox.table.name)
    return SqlAlchemySagaStorage(engine, table=storage.table.name, outbox=outbox)


async def test_two_recovery_workers_on_postgres_never_drive_one_saga_at_once(
    postgres_saga_storage: SqlAlchemySagaStorage,
) -> None:
    saga_storage_on = postgres_saga_storage
    crashing = bootstrap(
        sagas_mapper=lambda m: m.bind(Transfer, CrashingSaga), saga_storage=saga_storage_on
    )
    crashing.lease_seconds = 0.2
    ids = []
    for n in range(16):
        saga_id = uuid.uuid4()
        ids.append(saga_id)
        with pytest.raises(Crash):
            await crashing.execute(Transfer(transfer_id=str(n), amount=n), saga_id)
    await asyncio.sleep(0.4)
    saga_map = SagaMap()
    saga_map.bind(Transfer, TransferSaga)
    engines = [create_async_engine(saga_storage_on.engine.url) for _ in range(2)]
    workers = [
        SagaRecoveryWorker(
            saga_map, _sibling(saga_storage_on, engine), stale_after=0, lease_seconds=30
        )
        for engine in engines
    ]
    try:
        await asyncio.gather(*(worker.run_once() for worker in workers))
    finally:
        for engine in engines:
            await engine.dispose()
    assert OVERLAPS == []
    for n in range(16):
        assert ACTS[str(n), "Debit"] == 1, "a completed step never runs again"
        assert ACTS[str(n), "Credit"] == 1
        assert ACTS[str(n), "Notify"] == 1
    for saga_id in ids:
        state = await saga_storage_on.load_saga_state(saga_id)
        assert state is not None
        assert state.status is SagaStatus.COMPLETED
    assert sum(sum(w.recovered.values()) for w in workers) >= 16


async def test_step_events_commit_with_the_transition_into_the_outbox(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from .conftest import database_url

    engine = create_async_engine(database_url(backend, tmp_path_factory))
    suffix = uuid.uuid4().hex[:8]
    outbox = SqlAlchemyOutboxedEventRepository(engine, table=f"ob_{suffix}")
    storage = SqlAlchemySagaStorage(engine, table=f"saga_{suffix}", outbox=outbox)
    await outbox.create_schema()
    await storage.create_schema()
    broker = cqrs.MemoryMessageBroker()
    try:
        mediator = bootstrap(
            sagas_mapper=lambda m: m.bind(Transfer, TransferSaga),
            saga_storage=storage,
            message_broker=broker,
        )
        await mediator.execute(Transfer(transfer_id="t-1", amount=5))
        crashing = bootstrap(
            sagas_mapper=lambda m: m.bind(Transfer, CrashingSaga),
            saga_storage=storage,
            message_broker=broker,
        )
        with pytest.raises(Crash):
            await crashing.execute(Transfer(transfer_id="t-2", amount=5))
        rows = await outbox.claim(worker_id="w", batch_size=10, lease_seconds=5)
        assert broker.messages == {}, "notification events go through the outbox, not the broker"
        assert [json.loads(r.payload)["payload"]["transfer_id"] for r in rows] == ["t-1", "t-2"]
    finally:
        await storage.drop_schema()
        await outbox.drop_schema()
        await engine.dispose()


LEASE = 0.5
"""A lease that a step sleeping `3 * LEASE` outlives several times over."""


class SlowCredit(Credit):
    gate: asyncio.Event | None = None
    waiting = 0

    async def act(self, context: Transfer) -> Any:
        if SlowCredit.gate is not None:
            SlowCredit.waiting += 1
            await SlowCredit.gate.wait()
            return await super().act(context)
        if context.transfer_id in RUNNING:
            OVERLAPS.append(context.transfer_id)
        RUNNING.add(context.transfer_id)
        try:
            await asyncio.sleep(3 * LEASE)
            ACTS[context.transfer_id, "SlowCredit"] += 1
        finally:
            RUNNING.discard(context.transfer_id)
        return self._generate_step_result(None)


class SlowSaga(Saga[Transfer]):
    steps = (Debit, SlowCredit, Notify)

    @classmethod
    def saga_name(cls) -> str:
        return TransferSaga.saga_name()


async def test_a_step_outliving_its_lease_runs_once_with_two_workers_on_postgres(
    postgres_saga_storage: SqlAlchemySagaStorage,
) -> None:
    """The workers' heartbeats renew the lease while SlowCredit sleeps three leases, so the
    other worker never takes the saga and runs the step a second time."""
    storage = postgres_saga_storage
    crashing = bootstrap(
        sagas_mapper=lambda m: m.bind(Transfer, CrashingSaga), saga_storage=storage
    )
    crashing.lease_seconds = LEASE
    saga_id = uuid.uuid4()
    with pytest.raises(Crash):
        await crashing.execute(Transfer(transfer_id="slow", amount=1), saga_id)
    saga_map = SagaMap()
    saga_map.bind(Transfer, SlowSaga)
    engines = [create_async_engine(storage.engine.url) for _ in range(2)]
    workers = [
        SagaRecoveryWorker(
            saga_map,
            _sibling(storage, engine),
            stale_after=0,
            lease_seconds=LEASE,
            poll_interval=0.02,
        )
        for engine in engines
    ]
    runs = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        async with asyncio.timeout(60):
            while True:
                state = await storage.load_saga_state(saga_id)
                assert state is not None
                if state.status is SagaStatus.COMPLETED:
                    break
                await asyncio.sleep(0.05)
    finally:
        for worker in workers:
            worker.stop()
        await asyncio.wait_for(asyncio.gather(*runs), 60)
        for engine in engines:
            await engine.dispose()
    assert OVERLAPS == [], "two workers ran the long step at the same time"
    assert ACTS["slow", "SlowCredit"] == 1
    assert ACTS["slow", "Notify"] == 1
    assert sum(sum(w.recovered.values()) for w in workers) == 1


async def test_a_cancelled_saga_on_postgres_is_recoverable_at_once(
    postgres_saga_storage: SqlAlchemySagaStorage,
) -> None:
    storage = postgres_saga_storage
    mediator = bootstrap(sagas_mapper=lambda m: m.bind(Transfer, SlowSaga), saga_storage=storage)
    SlowCredit.gate = asyncio.Event()
    SlowCredit.waiting = 0
    try:
        saga_id = uuid.uuid4()
        run = asyncio.create_task(mediator.execute(Transfer(transfer_id="c", amount=1), saga_id))
        async with asyncio.timeout(30):
            while not SlowCredit.waiting:
                await asyncio.sleep(0.01)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        state = await storage.load_saga_state(saga_id)
        assert state is not None
        assert (state.status, state.lease_owner) == (SagaStatus.RUNNING, None)
        SlowCredit.gate.set()
        result = await mediator.recover(saga_id)
    finally:
        SlowCredit.gate = None
    assert (result.outcome, result.status) == (SagaRecoveryOutcome.RESUMED, SagaStatus.COMPLETED)
    assert ACTS["c", "Debit"] == 1, "the recorded step did not run again"
    assert ACTS["c", "SlowCredit"] == 1


@pytest.fixture
async def proxied_storage(
    postgres_saga_storage: SqlAlchemySagaStorage,
) -> AsyncIterator[tuple[SqlAlchemySagaStorage, TcpProxy]]:
    """The same tables reached through a cuttable proxy (connections checked before use)."""
    service = require_service("postgres")
    async with TcpProxy(service.host, service.port) as proxy:
        engine = create_async_engine(proxy.url_for(service.url), pool_pre_ping=True)
        try:
            yield _sibling(postgres_saga_storage, engine), proxy
        finally:
            proxy.up()
            await engine.dispose()


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> None:
    async with asyncio.timeout(30):
        while not any(text in record.getMessage() for record in caplog.records):
            await asyncio.sleep(0.02)


async def test_a_database_outage_during_a_long_step_is_ridden_out(
    proxied_storage: tuple[SqlAlchemySagaStorage, TcpProxy], caplog: pytest.LogCaptureFixture
) -> None:
    """Renewals fail while PostgreSQL is unreachable (logged, retried at the next beat); once
    it is back the step is recorded and the saga completes, the step having run once."""
    storage, proxy = proxied_storage
    mediator = bootstrap(sagas_mapper=lambda m: m.bind(Transfer, SlowSaga), saga_storage=storage)
    mediator.lease_seconds = LEASE
    SlowCredit.gate = asyncio.Event()
    SlowCredit.waiting = 0
    saga_id = uuid.uuid4()
    try:
        with caplog.at_level(logging.WARNING, logger="cqrs.saga"):
            run = asyncio.create_task(
                mediator.execute(Transfer(transfer_id="o", amount=1), saga_id)
            )
            async with asyncio.timeout(30):
                while not SlowCredit.waiting:
                    await asyncio.sleep(0.01)
            proxy.down()
            await _logged(caplog, "renewing the lease")
            proxy.up()
            SlowCredit.gate.set()
            await asyncio.wait_for(run, 30)
    finally:
        SlowCredit.gate = None
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert state.status is SagaStatus.COMPLETED
    assert ACTS["o", "SlowCredit"] == 1
    assert ACTS["o", "Notify"] == 1


async def test_a_recovery_worker_rides_out_a_database_outage(
    proxied_storage: tuple[SqlAlchemySagaStorage, TcpProxy], caplog: pytest.LogCaptureFixture
) -> None:
    storage, proxy = proxied_storage
    crashing = bootstrap(
        sagas_mapper=lambda m: m.bind(Transfer, CrashingSaga), saga_storage=storage
    )
    saga_id = uuid.uuid4()
    with pytest.raises(Crash):
        await crashing.execute(Transfer(transfer_id="w", amount=1), saga_id)
    saga_map = SagaMap()
    saga_map.bind(Transfer, TransferSaga)
    worker = SagaRecoveryWorker(saga_map, storage, stale_after=0, poll_interval=0.05)
    proxy.down()
    with caplog.at_level(logging.ERROR, logger="cqrs.saga.recovery"):
        running = asyncio.create_task(worker.run())
        try:
            await _logged(caplog, "recovery round failed")
            proxy.up()
            async with asyncio.timeout(30):
                while worker.recovered != {SagaStatus.COMPLETED: 1}:
                    await asyncio.sleep(0.02)
        finally:
            worker.stop()
            await asyncio.wait_for(running, 30)
    assert ACTS["w", "Debit"] == 1
    assert ACTS["w", "Credit"] == 1
