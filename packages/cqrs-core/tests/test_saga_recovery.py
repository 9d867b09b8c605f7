"""Recovering interrupted sagas: resuming, finishing compensation, leases, recovery workers."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime
import logging
import uuid
from typing import Any

import pytest

import cqrs
from cqrs.errors import SagaNotFoundError
from cqrs.saga.bootstrap import bootstrap
from cqrs.saga.execution import CompensationPolicy
from cqrs.saga.map import SagaMap
from cqrs.saga.mediator import SagaMediator
from cqrs.saga.models import SagaContext, SagaLogEntry, SagaStatus, SagaStepStatus
from cqrs.saga.recovery import (
    SagaRecoveryOutcome,
    SagaRecoveryResult,
    SagaRecoveryWorker,
    recover_saga,
)
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage


class Clock:
    """A clock the tests move forward, so leases expire without waiting."""

    def __init__(self) -> None:
        self.now = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


class Crash(BaseException):
    """Stands for the process dying: the engine does not catch it."""


class Ledger:
    """Every act and compensate, per order, and the failures a test asks for."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.act_errors: dict[str, BaseException] = {}
        self.compensate_errors: dict[str, BaseException] = {}

    def count(self, order_id: str) -> collections.Counter[tuple[str, str]]:
        return collections.Counter(
            (name, action) for o, name, action in self.calls if o == order_id
        )


@dataclasses.dataclass
class ShopContext(SagaContext):
    order_id: str
    done: list[str] = dataclasses.field(default_factory=list)


class Done(cqrs.Response):
    step: str


class LedgerStep(SagaStepHandler[ShopContext, Done]):
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def act(self, context: ShopContext) -> SagaStepResult[ShopContext, Done]:
        name = type(self).__name__
        self.ledger.calls.append((context.order_id, name, "act"))
        await asyncio.sleep(0)
        error = self.ledger.act_errors.pop(name, None)
        if error is not None:
            raise error
        context.done.append(name)
        return self._generate_step_result(Done(step=name))

    async def compensate(self, context: ShopContext) -> None:
        name = type(self).__name__
        self.ledger.calls.append((context.order_id, name, "compensate"))
        await asyncio.sleep(0)
        error = self.ledger.compensate_errors.pop(name, None)
        if error is not None:
            raise error


class StepA(LedgerStep):
    pass


class StepB(LedgerStep):
    async def act(self, context: ShopContext) -> SagaStepResult[ShopContext, Done]:
        assert context.done == ["StepA"], "the context must come back from storage"
        return await super().act(context)


class StepC(LedgerStep):
    pass


class ThreeSteps(Saga[ShopContext]):
    steps = (StepA, StepB, StepC)


class World:
    """One storage on a test clock, the container and ledger the steps use, and a mediator."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.storage = MemorySagaStorage(clock=self.clock)
        self.ledger = Ledger()
        self.container = cqrs.BuiltinContainer()
        self.container.register_instance(Ledger, self.ledger)
        self.mediator: SagaMediator = bootstrap(
            di_container=self.container,
            sagas_mapper=lambda sagas: sagas.bind(ShopContext, ThreeSteps),
            saga_storage=self.storage,
            compensation_retry_count=0,
        )

    async def interrupt_after(self, steps: int, order_id: str = "o") -> uuid.UUID:
        """Run a saga and stop consuming it after `steps` results (its lease is released)."""
        saga_id = uuid.uuid4()
        stream = self.mediator.stream(ShopContext(order_id=order_id), saga_id=saga_id)
        for _ in range(steps):
            await anext(stream)
        await stream.aclose()
        return saga_id

    async def recover(self, saga_id: uuid.UUID, **options: Any) -> SagaRecoveryResult:
        return await recover_saga(
            saga=ThreeSteps(),
            saga_id=saga_id,
            context_builder=ShopContext,
            container=self.container,
            storage=self.storage,
            **options,
        )

    async def status(self, saga_id: uuid.UUID) -> SagaStatus:
        state = await self.storage.load_saga_state(saga_id)
        assert state is not None
        return state.status

    def saga_map(self) -> SagaMap:
        saga_map = SagaMap()
        saga_map.bind(ShopContext, ThreeSteps)
        return saga_map


@pytest.fixture
def world() -> World:
    return World()


async def test_an_interrupted_saga_is_running_with_its_progress_stored(world: World) -> None:
    saga_id = await world.interrupt_after(1)
    state = await world.storage.load_saga_state(saga_id)
    assert state is not None
    assert state.status is SagaStatus.RUNNING
    assert state.context["done"] == ["StepA"]
    assert state.lease_owner is None, "a stream closed early releases its lease"


async def test_recovery_resumes_a_running_saga_without_repeating_completed_steps(
    world: World,
) -> None:
    saga_id = await world.interrupt_after(1)
    world.clock.advance(120)
    assert (await world.recover(saga_id)).status is SagaStatus.COMPLETED
    assert world.ledger.count("o") == {
        ("StepA", "act"): 1,
        ("StepB", "act"): 1,
        ("StepC", "act"): 1,
    }
    state = await world.storage.load_saga_state(saga_id)
    assert state is not None
    assert state.status is SagaStatus.COMPLETED
    assert state.context["done"] == ["StepA", "StepB", "StepC"]
    assert state.lease_owner is None
    assert [(e.step_index, e.step_name) for e in state.history] == [
        (0, "StepA"),
        (1, "StepB"),
        (2, "StepC"),
    ]


async def test_recovery_of_a_saga_whose_last_act_completed_only_marks_it_done(
    world: World,
) -> None:
    """The crash hit after the last act was stored but before the saga was marked COMPLETED."""
    saga_id = uuid.uuid4()
    state = await world.storage.create_saga(
        saga_id, "ThreeSteps", {"order_id": "o", "done": []}, owner="dead", lease_seconds=1
    )
    version = state.version
    for index, name in enumerate(("StepA", "StepB", "StepC")):
        version = await world.storage.transition(
            saga_id,
            version=version,
            owner="dead",
            lease_seconds=1,
            context={"order_id": "o", "done": ["StepA", "StepB", "StepC"][: index + 1]},
            entry=entry(saga_id, index, name, "act", SagaStepStatus.COMPLETED),
        )
    world.clock.advance(5)
    assert (await world.recover(saga_id)).status is SagaStatus.COMPLETED
    assert world.ledger.calls == []


async def test_recovery_reruns_the_step_that_was_in_flight(world: World) -> None:
    world.ledger.act_errors["StepB"] = Crash()
    saga_id = uuid.uuid4()
    with pytest.raises(Crash):
        await world.mediator.execute(ShopContext(order_id="o"), saga_id)
    assert await world.status(saga_id) is SagaStatus.RUNNING
    world.clock.advance(120)
    assert (await world.recover(saga_id)).status is SagaStatus.COMPLETED
    assert world.ledger.count("o") == {
        ("StepA", "act"): 1,
        ("StepB", "act"): 2,
        ("StepC", "act"): 1,
    }


async def test_recovery_reruns_a_first_step_that_never_completed(world: World) -> None:
    world.ledger.act_errors["StepA"] = Crash()
    saga_id = uuid.uuid4()
    with pytest.raises(Crash):
        await world.mediator.execute(ShopContext(order_id="o"), saga_id)
    world.clock.advance(120)
    assert (await world.recover(saga_id)).status is SagaStatus.COMPLETED
    assert world.ledger.count("o") == {
        ("StepA", "act"): 2,
        ("StepB", "act"): 1,
        ("StepC", "act"): 1,
    }


async def test_recovery_skips_a_saga_leased_by_a_live_driver(world: World) -> None:
    """A driver is inside StepB: recovery says who holds the saga and until when, and runs
    nothing."""
    world.ledger.act_errors["StepB"] = Crash()
    saga_id = uuid.uuid4()
    with pytest.raises(Crash):
        await world.mediator.execute(ShopContext(order_id="o"), saga_id)
    # The run "died" inside StepB; give the saga back to a live driver's lease by hand.
    live = await world.storage.acquire(saga_id, owner="live-driver", lease_seconds=60)
    assert live is not None
    world.clock.advance(30)
    before = await world.storage.load_saga_state(saga_id)
    result = await world.recover(saga_id)
    assert result.outcome is SagaRecoveryOutcome.LEASED
    assert result.lease_owner == "live-driver"
    assert result.lease_until == world.clock.now + datetime.timedelta(seconds=30)
    assert f"leased by live-driver until {result.lease_until.isoformat()}" in str(result)
    assert world.ledger.count("o") == {("StepA", "act"): 1, ("StepB", "act"): 1}
    assert await world.storage.load_saga_state(saga_id) == before


async def test_recover_saga_says_what_happened(world: World) -> None:
    ghost = uuid.uuid4()
    with pytest.raises(SagaNotFoundError, match=f"Saga {ghost} not found"):
        await world.recover(ghost)
    missing = SagaRecoveryResult(saga_id=ghost, outcome=SagaRecoveryOutcome.NOT_FOUND)
    assert str(missing) == f"saga {ghost} not found"

    saga_id = uuid.uuid4()
    await world.mediator.execute(ShopContext(order_id="o"), saga_id)
    done = await world.recover(saga_id)
    assert (done.outcome, done.status) == (SagaRecoveryOutcome.TERMINAL, SagaStatus.COMPLETED)
    assert str(done) == f"saga {saga_id} had already ended: completed"

    interrupted = await world.interrupt_after(1, order_id="p")
    resumed = await world.recover(interrupted)
    assert (resumed.outcome, resumed.status) == (
        SagaRecoveryOutcome.RESUMED,
        SagaStatus.COMPLETED,
    )
    assert str(resumed) == f"saga {interrupted} resumed to completed"


async def test_recovery_finishes_an_interrupted_compensation(world: World) -> None:
    """Crash while compensating StepB: recovery compensates StepB and StepA, not StepC."""
    world.ledger.act_errors["StepC"] = LookupError("out of stock")
    world.ledger.compensate_errors["StepB"] = Crash()
    saga_id = uuid.uuid4()
    with pytest.raises(Crash):
        await world.mediator.execute(ShopContext(order_id="o"), saga_id)
    assert await world.status(saga_id) is SagaStatus.COMPENSATING
    world.clock.advance(120)
    assert (await world.recover(saga_id)).status is SagaStatus.COMPENSATED
    assert [(name, action) for _, name, action in world.ledger.calls] == [
        ("StepA", "act"),
        ("StepB", "act"),
        ("StepC", "act"),
        ("StepB", "compensate"),
        ("StepB", "compensate"),
        ("StepA", "compensate"),
    ]


async def test_recovery_does_not_compensate_a_step_twice(world: World) -> None:
    """The log says StepB is compensated already: only StepA is left."""
    saga_id = uuid.uuid4()
    state = await world.storage.create_saga(
        saga_id, "ThreeSteps", {"order_id": "o", "done": []}, owner="dead", lease_seconds=1
    )
    version = state.version
    log = [
        (None, entry(saga_id, 0, "StepA", "act", SagaStepStatus.COMPLETED)),
        (None, entry(saga_id, 1, "StepB", "act", SagaStepStatus.COMPLETED)),
        (
            SagaStatus.COMPENSATING,
            entry(saga_id, 2, "StepC", "act", SagaStepStatus.FAILED),
        ),
        (None, entry(saga_id, 1, "StepB", "compensate", SagaStepStatus.COMPENSATED)),
    ]
    for status, line in log:
        version = await world.storage.transition(
            saga_id, version=version, owner="dead", lease_seconds=1, status=status, entry=line
        )
    world.clock.advance(5)
    assert (await world.recover(saga_id)).status is SagaStatus.COMPENSATED
    assert world.ledger.calls == [("o", "StepA", "compensate")]


async def test_recovery_compensates_when_a_resumed_step_fails(world: World) -> None:
    saga_id = await world.interrupt_after(2)
    world.ledger.act_errors["StepC"] = LookupError("out of stock")
    world.clock.advance(120)
    assert (await world.recover(saga_id)).status is SagaStatus.COMPENSATED
    assert [(name, action) for _, name, action in world.ledger.calls][2:] == [
        ("StepC", "act"),
        ("StepB", "compensate"),
        ("StepA", "compensate"),
    ]


async def test_recovery_reports_failed_when_compensation_keeps_failing(world: World) -> None:
    saga_id = await world.interrupt_after(2)
    world.ledger.act_errors["StepC"] = LookupError("out of stock")
    world.ledger.compensate_errors["StepB"] = ConnectionError("cannot undo")
    world.clock.advance(120)
    result = await world.recover(saga_id, compensation=CompensationPolicy(retries=0))
    assert (result.outcome, result.status) == (SagaRecoveryOutcome.RESUMED, SagaStatus.FAILED)
    assert result.error is not None
    assert "cannot undo" in result.error
    assert await world.status(saga_id) is SagaStatus.FAILED


@pytest.mark.parametrize("failing", [False, True])
async def test_recovering_a_finished_saga_does_nothing(world: World, failing: bool) -> None:
    if failing:
        world.ledger.act_errors["StepB"] = ValueError("bad")
    saga_id = uuid.uuid4()
    try:
        await world.mediator.execute(ShopContext(order_id="o"), saga_id)
    except ValueError:
        assert failing
    calls = list(world.ledger.calls)
    expected = SagaStatus.COMPENSATED if failing else SagaStatus.COMPLETED
    result = await world.recover(saga_id)
    assert (result.outcome, result.status) == (SagaRecoveryOutcome.TERMINAL, expected)
    assert world.ledger.calls == calls
    state = await world.storage.load_saga_state(saga_id)
    assert state is not None
    assert state.status is expected
    assert state.lease_owner is None
    assert len(state.history) == 3


async def test_recover_saga_needs_the_storage(world: World) -> None:
    with pytest.raises(TypeError, match="storage"):
        await recover_saga(ThreeSteps, uuid.uuid4(), ShopContext, world.container)


def entry(
    saga_id: uuid.UUID, index: int, name: str, action: Any, status: SagaStepStatus
) -> SagaLogEntry:
    return SagaLogEntry(
        saga_id=saga_id,
        step_index=index,
        step_name=name,
        action=action,
        status=status,
        timestamp=datetime.datetime.now(datetime.UTC),
    )


# --- recovery workers ------------------------------------------------------------------------


def worker(world: World, **options: Any) -> SagaRecoveryWorker:
    return SagaRecoveryWorker(
        world.saga_map(),
        world.storage,
        world.container,
        stale_after=options.pop("stale_after", 30),
        lease_seconds=options.pop("lease_seconds", 60),
        message_broker=options.pop("message_broker", cqrs.MemoryMessageBroker()),
        **options,
    )


async def test_worker_recovers_sagas_once_they_are_stale_and_unleased(world: World) -> None:
    ids = [await world.interrupt_after(1 + n % 2, order_id=f"o{n}") for n in range(6)]
    recovery = worker(world)
    assert await recovery.run_once() == 0, "the sagas are not stale yet"
    world.clock.advance(61)
    assert await recovery.run_once() == 6
    assert recovery.recovered == {SagaStatus.COMPLETED: 6}
    for n, saga_id in enumerate(ids):
        assert await world.status(saga_id) is SagaStatus.COMPLETED
        assert all(count == 1 for count in world.ledger.count(f"o{n}").values())
        assert sum(world.ledger.count(f"o{n}").values()) == 3
    assert await recovery.run_once() == 0


async def test_worker_waits_until_a_saga_is_stale(world: World) -> None:
    saga_id = await world.interrupt_after(1)
    await world.storage.release(saga_id, owner=world.mediator.owner)
    recovery = worker(world, stale_after=300)
    world.clock.advance(100)
    assert await recovery.run_once() == 0
    world.clock.advance(201)
    assert await recovery.run_once() == 1
    assert await world.status(saga_id) is SagaStatus.COMPLETED


async def test_two_workers_never_run_a_step_twice(world: World) -> None:
    ids = [await world.interrupt_after(1 + n % 2, order_id=f"o{n}") for n in range(20)]
    world.clock.advance(61)
    first, second = worker(world), worker(world)
    await asyncio.gather(first.run_once(), second.run_once())
    for n, saga_id in enumerate(ids):
        assert await world.status(saga_id) is SagaStatus.COMPLETED
        assert world.ledger.count(f"o{n}") == {
            ("StepA", "act"): 1,
            ("StepB", "act"): 1,
            ("StepC", "act"): 1,
        }
    # Both took part (the steps yield to the loop, so their rounds interleaved); whoever came
    # second to a saga found it leased (skipped) or already finished (counted, not re-run).
    assert first.recovered
    assert second.recovered
    assert sum(first.recovered.values()) + sum(second.recovered.values()) >= 20


async def test_worker_skips_a_saga_with_an_unknown_name(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    ghost = uuid.uuid4()
    await world.storage.create_saga(
        ghost, "RetiredSaga", {"order_id": "g", "done": []}, owner="dead", lease_seconds=1
    )
    known = await world.interrupt_after(1, order_id="k")
    world.clock.advance(61)
    recovery = worker(world)
    with caplog.at_level(logging.ERROR, logger="cqrs.saga.recovery"):
        assert await recovery.run_once() == 1
    assert any(
        "RetiredSaga" in record.getMessage() and str(ghost) in record.getMessage()
        for record in caplog.records
    )
    assert await world.status(known) is SagaStatus.COMPLETED
    state = await world.storage.load_saga_state(ghost)
    assert state is not None
    assert (state.status, state.version, state.lease_owner) == (SagaStatus.RUNNING, 1, "dead")


async def test_worker_finishes_compensations_too(world: World) -> None:
    world.ledger.act_errors["StepC"] = LookupError("out of stock")
    world.ledger.compensate_errors["StepB"] = Crash()
    saga_id = uuid.uuid4()
    with pytest.raises(Crash):
        await world.mediator.execute(ShopContext(order_id="o"), saga_id)
    world.clock.advance(61)
    recovery = worker(world)
    assert await recovery.run_once() == 1
    assert recovery.recovered == {SagaStatus.COMPENSATED: 1}
    assert world.ledger.count("o")[("StepA", "compensate")] == 1


async def test_worker_run_recovers_until_stopped(world: World) -> None:
    saga_id = await world.interrupt_after(1)
    world.clock.advance(61)
    recovery = worker(world, poll_interval=0.01)
    task = asyncio.create_task(recovery.run())
    for _ in range(500):
        if await world.status(saga_id) is SagaStatus.COMPLETED:
            break
        await asyncio.sleep(0.01)
    recovery.stop()
    assert await asyncio.wait_for(task, 10) == {SagaStatus.COMPLETED: 1}
    assert await world.status(saga_id) is SagaStatus.COMPLETED
