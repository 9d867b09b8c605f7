"""Saga leases on the real clock: heartbeats during long steps, lost leases, cancelled sagas,
storages without `renew`, and resumed steps' events (memory storage)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest

import cqrs
from cqrs.events.map import EventMap
from cqrs.outbox.memory import MemoryOutboxedEventRepository
from cqrs.protocols.models import INotificationEvent
from cqrs.saga.bootstrap import bootstrap
from cqrs.saga.map import SagaMap
from cqrs.saga.models import SagaContext, SagaLogEntry, SagaState, SagaStatus, SagaStepStatus
from cqrs.saga.recovery import (
    SagaRecoveryConfigError,
    SagaRecoveryOutcome,
    SagaRecoveryWorker,
    recover_saga,
)
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.saga.storage.protocol import SagaLeaseLostError, SagaStorage

LEASE = 0.3
"""A lease short enough that a step sleeping `3 * LEASE` outlives it several times over."""

SAFETY = 30.0
"""Generous bound on every wait: the tests never assert how long anything took."""


class Crash(BaseException):
    """Stands in for the process dying inside a step."""


@dataclasses.dataclass
class Order(SagaContext):
    order_id: str


_SLOW = frozenset({"pack", "undo"})
"""The steps that wait on `Probe.gate` or sleep `Probe.sleep`."""


class Probe:
    """Counts each step's calls and how many ran at once, per step."""

    calls: ClassVar[dict[str, int]] = {}
    running: ClassVar[dict[str, int]] = {}
    most: ClassVar[dict[str, int]] = {}
    crash_next: ClassVar[set[str]] = set()
    gate: ClassVar[asyncio.Event | None] = None
    sleep: ClassVar[float] = 0.0

    @classmethod
    def reset(cls) -> None:
        cls.calls, cls.running, cls.most = {}, {}, {}
        cls.crash_next, cls.gate, cls.sleep = set(), None, 0.0

    @classmethod
    async def enter(cls, name: str) -> None:
        cls.calls[name] = cls.calls.get(name, 0) + 1
        cls.running[name] = cls.running.get(name, 0) + 1
        cls.most[name] = max(cls.most.get(name, 0), cls.running[name])
        try:
            if name in cls.crash_next:
                cls.crash_next.discard(name)
                raise Crash
            if name in _SLOW and cls.gate is not None:
                await cls.gate.wait()
            if name in _SLOW and cls.sleep:
                await asyncio.sleep(cls.sleep)
        finally:
            cls.running[name] -= 1


@pytest.fixture(autouse=True)
def _probe() -> None:
    Probe.reset()


class Shipped(cqrs.Response):
    order_id: str


class Packed(cqrs.DomainEvent):
    order_id: str


class Reserve(SagaStepHandler[Order, None]):
    async def act(self, context: Order) -> SagaStepResult[Order, None]:
        await Probe.enter("reserve")
        return self._generate_step_result(None)


class Pack(SagaStepHandler[Order, None]):
    """The long step: tests make it sleep, wait on a gate or crash."""

    async def act(self, context: Order) -> SagaStepResult[Order, None]:
        await Probe.enter("pack")
        self._events = [Packed(order_id=context.order_id)]
        return self._generate_step_result(None)


class Ship(SagaStepHandler[Order, None]):
    async def act(self, context: Order) -> SagaStepResult[Order, None]:
        await Probe.enter("ship")
        self._events = [
            cqrs.NotificationEvent[Shipped](
                event_name="Shipped",
                topic="orders",
                payload=Shipped(order_id=context.order_id),
                partition_key=context.order_id,
            )
        ]
        return self._generate_step_result(None)


class OrderSaga(Saga[Order]):
    steps = (Reserve, Pack, Ship)


class SlowUndo(SagaStepHandler[Order, None]):
    async def act(self, context: Order) -> SagaStepResult[Order, None]:
        return self._generate_step_result(None)

    async def compensate(self, context: Order) -> None:
        await Probe.enter("undo")


class Refuse(SagaStepHandler[Order, None]):
    async def act(self, context: Order) -> SagaStepResult[Order, None]:
        raise LookupError("out of stock")


class UndoSaga(Saga[Order]):
    steps = (SlowUndo, Refuse)


PACKED: list[str] = []


class OnPacked(cqrs.EventHandler[Packed]):
    async def handle(self, event: Packed) -> None:
        PACKED.append(event.order_id)


def saga_map(saga: type[Saga[Any]] = OrderSaga) -> SagaMap:
    sagas = SagaMap()
    sagas.bind(Order, saga)
    return sagas


def events_mapper(events: EventMap) -> None:
    events.bind(Packed, OnPacked)


async def until(condition: Any, what: str) -> None:
    """Poll `condition()` (sync or async) until true, failing after `SAFETY` seconds."""
    async with asyncio.timeout(SAFETY):
        while True:
            value = condition()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return
            await asyncio.sleep(0.01)
    raise AssertionError(what)  # pragma: no cover - the timeout raises first


async def status(storage: SagaStorage, saga_id: uuid.UUID) -> SagaStatus | None:
    state = await storage.load_saga_state(saga_id)
    return None if state is None else state.status


async def completed(storage: SagaStorage, saga_id: uuid.UUID) -> bool:
    return await status(storage, saga_id) is SagaStatus.COMPLETED


async def crashed_in_pack(storage: SagaStorage, saga: type[Saga[Any]] = OrderSaga) -> uuid.UUID:
    """Run a saga whose driver "dies" inside Pack (its lease is released as it unwinds)."""
    Probe.crash_next.add("pack")
    mediator = bootstrap(sagas_mapper=lambda m: m.bind(Order, saga), saga_storage=storage)
    mediator.lease_seconds = LEASE
    saga_id = uuid.uuid4()
    with pytest.raises(Crash):
        await mediator.execute(Order(order_id="o-1"), saga_id)
    return saga_id


# --- heartbeats ------------------------------------------------------------------------------


async def test_a_step_outliving_its_lease_is_never_run_twice_at_once() -> None:
    """Two recovery workers race for a saga whose Pack step sleeps three leases: the heartbeat
    keeps the winner's lease alive, so the other never starts Pack while it runs."""
    storage = MemorySagaStorage()
    saga_id = await crashed_in_pack(storage)
    Probe.sleep = 3 * LEASE
    workers = [
        SagaRecoveryWorker(
            saga_map(),
            storage,
            stale_after=0,
            lease_seconds=LEASE,
            poll_interval=0.01,
            message_broker=cqrs.MemoryMessageBroker(),
        )
        for _ in range(2)
    ]
    runs = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        await until(lambda: completed(storage, saga_id), "the saga was never completed")
    finally:
        for worker in workers:
            worker.stop()
        await asyncio.wait_for(asyncio.gather(*runs), SAFETY)
    assert Probe.most["pack"] == 1, "two workers ran the long step at the same time"
    assert Probe.calls == {"reserve": 1, "pack": 2, "ship": 1}, "crashed run + one recovery"
    assert sum(sum(w.recovered.values()) for w in workers) == 1


async def test_a_live_driver_in_a_long_step_keeps_recovery_out() -> None:
    storage = MemorySagaStorage()
    mediator = bootstrap(
        sagas_mapper=lambda m: m.bind(Order, OrderSaga),
        saga_storage=storage,
        message_broker=cqrs.MemoryMessageBroker(),
    )
    mediator.lease_seconds = LEASE
    Probe.gate = asyncio.Event()
    saga_id = uuid.uuid4()
    run = asyncio.create_task(mediator.execute(Order(order_id="o-1"), saga_id))
    await until(lambda: Probe.running.get("pack") == 1, "Pack never started")
    attempts = 0
    deadline = asyncio.get_running_loop().time() + 4 * LEASE
    while asyncio.get_running_loop().time() < deadline:
        result = await recover_saga(OrderSaga, saga_id, Order, storage=storage, lease_seconds=LEASE)
        assert result.outcome is SagaRecoveryOutcome.LEASED, str(result)
        assert result.lease_owner == mediator.owner
        attempts += 1
        await asyncio.sleep(LEASE / 3)
    Probe.gate.set()
    await asyncio.wait_for(run, SAFETY)
    assert attempts >= 4
    assert Probe.calls == {"reserve": 1, "pack": 1, "ship": 1}
    assert await status(storage, saga_id) is SagaStatus.COMPLETED


async def test_a_long_compensation_keeps_its_lease() -> None:
    storage = MemorySagaStorage()
    mediator = bootstrap(
        sagas_mapper=lambda m: m.bind(Order, UndoSaga),
        saga_storage=storage,
        compensation_retry_count=0,
    )
    mediator.lease_seconds = LEASE
    Probe.sleep = 3 * LEASE
    saga_id = uuid.uuid4()
    run = asyncio.create_task(mediator.execute(Order(order_id="o-1"), saga_id))
    worker = SagaRecoveryWorker(
        saga_map(UndoSaga),
        storage,
        stale_after=0,
        lease_seconds=LEASE,
        message_broker=cqrs.MemoryMessageBroker(),
    )
    while not run.done():
        await worker.run_once()
        await asyncio.sleep(0.01)
    with pytest.raises(LookupError):
        await run
    assert Probe.calls == {"undo": 1}
    assert worker.recovered == {}
    assert await status(storage, saga_id) is SagaStatus.COMPENSATED


async def test_a_lost_lease_is_logged_and_the_step_is_not_recorded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another worker takes the saga while Pack runs (a partition, a long pause): the driver's
    next heartbeat is refused, and Pack's result is not written over the new owner's work."""
    storage = MemorySagaStorage()
    mediator = bootstrap(sagas_mapper=lambda m: m.bind(Order, OrderSaga), saga_storage=storage)
    mediator.lease_seconds = LEASE
    Probe.gate = asyncio.Event()
    saga_id = uuid.uuid4()
    run = asyncio.create_task(mediator.execute(Order(order_id="o-1"), saga_id))
    await until(lambda: Probe.running.get("pack") == 1, "Pack never started")
    await storage.release(saga_id, owner=mediator.owner)
    taken = await storage.acquire(saga_id, owner="usurper", lease_seconds=SAFETY)
    assert taken is not None
    with caplog.at_level(logging.WARNING, logger="cqrs.saga"):
        await until(
            lambda: any("lost its lease" in r.getMessage() for r in caplog.records),
            "the lost lease was never noticed",
        )
        Probe.gate.set()
        with pytest.raises(SagaLeaseLostError, match="Pack"):
            await asyncio.wait_for(run, SAFETY)
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert (state.version, state.lease_owner) == (taken.version, "usurper")
    assert [(e.step_name, e.action) for e in state.history] == [("Reserve", "act")]
    assert "ship" not in Probe.calls


async def test_a_recovery_that_loses_its_lease_says_so() -> None:
    storage = MemorySagaStorage()
    saga_id = await crashed_in_pack(storage)
    Probe.gate = asyncio.Event()
    recovery = asyncio.create_task(
        recover_saga(
            OrderSaga,
            saga_id,
            Order,
            storage=storage,
            owner="recovery-a",
            lease_seconds=LEASE,
            message_broker=cqrs.MemoryMessageBroker(),
        )
    )
    await until(lambda: Probe.running.get("pack") == 1, "Pack never started again")
    await storage.release(saga_id, owner="recovery-a")
    assert await storage.acquire(saga_id, owner="usurper", lease_seconds=SAFETY) is not None
    await asyncio.sleep(LEASE)
    Probe.gate.set()
    result = await asyncio.wait_for(recovery, SAFETY)
    assert result.outcome is SagaRecoveryOutcome.LEASE_LOST
    assert "lost its lease" in str(result)
    assert "ship" not in Probe.calls


# --- stopping ------------------------------------------------------------------------------


async def test_a_cancelled_saga_is_recoverable_at_once() -> None:
    storage = MemorySagaStorage()
    mediator = bootstrap(
        sagas_mapper=lambda m: m.bind(Order, OrderSaga),
        saga_storage=storage,
        message_broker=cqrs.MemoryMessageBroker(),
    )
    Probe.gate = asyncio.Event()
    saga_id = uuid.uuid4()
    run = asyncio.create_task(mediator.execute(Order(order_id="o-1"), saga_id))
    await until(lambda: Probe.running.get("pack") == 1, "Pack never started")
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert (state.status, state.lease_owner) == (SagaStatus.RUNNING, None)
    Probe.gate.set()
    result = await mediator.recover(saga_id)
    assert (result.outcome, result.status) == (SagaRecoveryOutcome.RESUMED, SagaStatus.COMPLETED)
    assert Probe.calls == {"reserve": 1, "pack": 2, "ship": 1}


async def test_a_stopped_worker_cancelled_mid_step_releases_the_saga() -> None:
    storage = MemorySagaStorage()
    saga_id = await crashed_in_pack(storage)
    Probe.gate = asyncio.Event()
    worker = SagaRecoveryWorker(
        saga_map(), storage, stale_after=0, message_broker=cqrs.MemoryMessageBroker()
    )
    running = asyncio.create_task(worker.run())
    await until(lambda: Probe.running.get("pack") == 1, "the worker never resumed Pack")
    worker.stop()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert state.lease_owner is None
    Probe.gate.set()
    result = await recover_saga(
        OrderSaga, saga_id, Order, storage=storage, message_broker=cqrs.MemoryMessageBroker()
    )
    assert result.status is SagaStatus.COMPLETED


# --- storages without renew ------------------------------------------------------------------


class NoRenewStorage:
    """A third-party storage written before `renew` existed (delegates to memory)."""

    def __init__(self) -> None:
        self.inner = MemorySagaStorage()
        self.writes_outbox = False

    async def create_saga(
        self,
        saga_id: uuid.UUID,
        saga_name: str,
        context: dict[str, Any],
        *,
        owner: str,
        lease_seconds: float,
        trace: Mapping[str, str] | None = None,
    ) -> SagaState:
        return await self.inner.create_saga(
            saga_id, saga_name, context, owner=owner, lease_seconds=lease_seconds, trace=trace
        )

    async def transition(
        self,
        saga_id: uuid.UUID,
        *,
        version: int,
        owner: str,
        lease_seconds: float,
        status: SagaStatus | None = None,
        context: dict[str, Any] | None = None,
        entry: SagaLogEntry | None = None,
        outbox_events: Sequence[INotificationEvent] = (),
    ) -> int:
        return await self.inner.transition(
            saga_id,
            version=version,
            owner=owner,
            lease_seconds=lease_seconds,
            status=status,
            context=context,
            entry=entry,
            outbox_events=outbox_events,
        )

    async def load_saga_state(self, saga_id: uuid.UUID) -> SagaState | None:
        return await self.inner.load_saga_state(saga_id)

    async def get_step_history(self, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        return await self.inner.get_step_history(saga_id)

    async def find_interrupted(self, *, stale_after: float, limit: int = 100) -> list[uuid.UUID]:
        return await self.inner.find_interrupted(stale_after=stale_after, limit=limit)

    async def acquire(
        self, saga_id: uuid.UUID, *, owner: str, lease_seconds: float
    ) -> SagaState | None:
        return await self.inner.acquire(saga_id, owner=owner, lease_seconds=lease_seconds)

    async def release(self, saga_id: uuid.UUID, *, owner: str) -> None:
        await self.inner.release(saga_id, owner=owner)


async def test_a_storage_without_renew_warns_once_and_runs_without_heartbeat(
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage: Any = NoRenewStorage()
    with caplog.at_level(logging.WARNING, logger="cqrs.saga"):
        mediators = [
            bootstrap(
                sagas_mapper=lambda m: m.bind(Order, OrderSaga),
                saga_storage=storage,
                message_broker=cqrs.MemoryMessageBroker(),
            )
            for _ in range(3)
        ]
        for mediator in mediators:
            await mediator.execute(Order(order_id="o"))
    warnings = [r for r in caplog.records if "has no renew" in r.getMessage()]
    assert len(warnings) == 1
    assert "NoRenewStorage" in warnings[0].getMessage()
    assert Probe.calls == {"reserve": 3, "pack": 3, "ship": 3}


# --- resumed steps' events -------------------------------------------------------------------


async def test_a_worker_that_would_drop_notification_events_refuses_to_start() -> None:
    with pytest.raises(SagaRecoveryConfigError, match="message_broker"):
        SagaRecoveryWorker(saga_map(), MemorySagaStorage())
    mediator = bootstrap(sagas_mapper=lambda m: m.bind(Order, OrderSaga))
    with pytest.raises(SagaRecoveryConfigError, match="writes no outbox"):
        mediator.recovery_worker()
    SagaRecoveryWorker(saga_map(), MemorySagaStorage(outbox=MemoryOutboxedEventRepository()))
    SagaRecoveryWorker(saga_map(), MemorySagaStorage(), message_broker=cqrs.DevnullMessageBroker())


async def test_recovery_writes_a_resumed_steps_events_to_the_outbox_with_its_step() -> None:
    outbox = MemoryOutboxedEventRepository()
    storage = MemorySagaStorage(outbox=outbox)
    saga_id = await crashed_in_pack(storage)
    PACKED.clear()
    worker = SagaRecoveryWorker(
        saga_map(), storage, stale_after=0, event_map=_event_map(), poll_interval=0.01
    )
    assert await worker.run_once() == 1
    assert await status(storage, saga_id) is SagaStatus.COMPLETED
    rows = await outbox.claim(worker_id="relay", batch_size=10, lease_seconds=5)
    assert [(row.event_name, row.topic) for row in rows] == [("Shipped", "orders")]
    assert PACKED == ["o-1"], "the resumed step's domain event reached its handler"


async def test_recovery_publishes_to_the_broker_when_the_storage_has_no_outbox() -> None:
    broker = cqrs.MemoryMessageBroker()
    storage = MemorySagaStorage()
    saga_id = await crashed_in_pack(storage)
    mediator = bootstrap(
        sagas_mapper=lambda m: m.bind(Order, OrderSaga),
        domain_events_mapper=events_mapper,
        saga_storage=storage,
        message_broker=broker,
    )
    PACKED.clear()
    worker = mediator.recovery_worker(stale_after=0)
    assert await worker.run_once() == 1
    assert await status(storage, saga_id) is SagaStatus.COMPLETED
    assert [m.message_name for m in broker.messages["orders"]] == ["Shipped"]
    assert PACKED == ["o-1"]


async def test_recovery_warns_about_a_domain_event_no_handler_takes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage = MemorySagaStorage(outbox=MemoryOutboxedEventRepository())
    saga_id = await crashed_in_pack(storage)
    with caplog.at_level(logging.WARNING, logger="cqrs.saga"):
        result = await recover_saga(OrderSaga, saga_id, Order, storage=storage)
    assert result.status is SagaStatus.COMPLETED
    assert any("Packed" in r.getMessage() and "--events" in r.getMessage() for r in caplog.records)


def _event_map() -> EventMap:
    events = EventMap()
    events_mapper(events)
    return events


async def test_step_log_after_recovery_has_each_step_once() -> None:
    storage = MemorySagaStorage(outbox=MemoryOutboxedEventRepository())
    saga_id = await crashed_in_pack(storage)
    await recover_saga(OrderSaga, saga_id, Order, storage=storage, event_map=_event_map())
    history = await storage.get_step_history(saga_id)
    assert [(e.step_name, e.status) for e in history] == [
        ("Reserve", SagaStepStatus.COMPLETED),
        ("Pack", SagaStepStatus.COMPLETED),
        ("Ship", SagaStepStatus.COMPLETED),
    ]
