"""Running sagas through the mediator: streaming, persistence, compensation, events, fallbacks."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

import cqrs
from cqrs.saga.bootstrap import bootstrap
from cqrs.saga.fallback import Fallback
from cqrs.saga.mediator import SagaMediator
from cqrs.saga.models import SagaContext, SagaStatus, SagaStepStatus
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage

# --- the seed's order saga -------------------------------------------------------------------


@dataclasses.dataclass
class OrderContext(SagaContext):
    order_id: str
    user_id: str
    items: list[str]
    total_amount: float
    inventory_reservation_id: str | None = None
    payment_id: str | None = None


class ReserveInventoryResponse(cqrs.Response):
    reservation_id: str


class ProcessPaymentResponse(cqrs.Response):
    payment_id: str
    amount: float


class ReserveInventoryStep(SagaStepHandler[OrderContext, ReserveInventoryResponse]):
    async def act(
        self, context: OrderContext
    ) -> SagaStepResult[OrderContext, ReserveInventoryResponse]:
        context.inventory_reservation_id = f"reservation_{context.order_id}"
        return self._generate_step_result(
            ReserveInventoryResponse(reservation_id=context.inventory_reservation_id)
        )

    async def compensate(self, context: OrderContext) -> None:
        context.inventory_reservation_id = None


class ProcessPaymentStep(SagaStepHandler[OrderContext, ProcessPaymentResponse]):
    async def act(
        self, context: OrderContext
    ) -> SagaStepResult[OrderContext, ProcessPaymentResponse]:
        assert context.inventory_reservation_id is not None, "runs after the reservation"
        context.payment_id = f"payment_{context.order_id}"
        return self._generate_step_result(
            ProcessPaymentResponse(payment_id=context.payment_id, amount=context.total_amount)
        )


class OrderSaga(Saga[OrderContext]):
    steps = [  # noqa: RUF012 - written as the seed documents it
        ReserveInventoryStep,
        ProcessPaymentStep,
    ]


class PrimaryStep(SagaStepHandler[OrderContext, ReserveInventoryResponse]):
    calls = 0

    async def act(
        self, context: OrderContext
    ) -> SagaStepResult[OrderContext, ReserveInventoryResponse]:
        type(self).calls += 1
        raise RuntimeError("Service unavailable")


class FallbackStep(SagaStepHandler[OrderContext, ReserveInventoryResponse]):
    calls = 0

    async def act(
        self, context: OrderContext
    ) -> SagaStepResult[OrderContext, ReserveInventoryResponse]:
        type(self).calls += 1
        reservation_id = f"fallback_reservation_{context.order_id}"
        context.inventory_reservation_id = reservation_id
        return self._generate_step_result(ReserveInventoryResponse(reservation_id=reservation_id))


def order(order_id: str = "123") -> OrderContext:
    return OrderContext(order_id=order_id, user_id="user_1", items=["item_1"], total_amount=100.0)


async def test_seed_order_saga_streams_each_step_with_the_saga_id() -> None:
    storage = MemorySagaStorage()
    mediator = bootstrap(
        sagas_mapper=lambda sagas: sagas.bind(OrderContext, OrderSaga), saga_storage=storage
    )
    context = order()
    saga_id = uuid.uuid4()
    names = []
    async for step_result in mediator.stream(context, saga_id=saga_id):
        names.append(step_result.step_type.__name__)
        assert step_result.saga_id == saga_id
        assert not step_result.with_error
    assert names == ["ReserveInventoryStep", "ProcessPaymentStep"]
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert state.status is SagaStatus.COMPLETED
    assert state.saga_name == "OrderSaga"
    assert OrderContext.from_dict(state.context) == context
    assert context.payment_id == "payment_123"
    assert [(e.step_name, e.action, e.status) for e in state.history] == [
        ("ReserveInventoryStep", "act", SagaStepStatus.COMPLETED),
        ("ProcessPaymentStep", "act", SagaStepStatus.COMPLETED),
    ]
    history = await storage.get_step_history(saga_id)
    assert [entry.step_index for entry in history] == [0, 1]


async def test_step_results_carry_the_responses() -> None:
    mediator = bootstrap(sagas_mapper=lambda sagas: sagas.bind(OrderContext, OrderSaga))
    results = await mediator.execute(order("7"))
    assert [result.response for result in results] == [
        ReserveInventoryResponse(reservation_id="reservation_7"),
        ProcessPaymentResponse(payment_id="payment_7", amount=100.0),
    ]
    assert results[0].saga_id is not None
    assert results[0].saga_id == results[1].saga_id


async def test_seed_fallback_with_circuit_breaker_stops_calling_the_primary() -> None:
    class OrderSagaWithFallback(Saga[OrderContext]):
        steps = (
            Fallback(
                step=PrimaryStep,
                fallback=FallbackStep,
                circuit_breaker=cqrs.MemoryCircuitBreaker(failure_threshold=2),
            ),
        )

    PrimaryStep.calls = FallbackStep.calls = 0
    storage = MemorySagaStorage()
    mediator = bootstrap(
        sagas_mapper=lambda sagas: sagas.bind(OrderContext, OrderSagaWithFallback),
        saga_storage=storage,
    )
    for run in range(4):
        context = order(f"o{run}")
        saga_id = uuid.uuid4()
        results = await mediator.execute(context, saga_id)
        assert [result.step_type for result in results] == [FallbackStep]
        assert context.inventory_reservation_id == f"fallback_reservation_o{run}"
        state = await storage.load_saga_state(saga_id)
        assert state is not None
        assert state.status is SagaStatus.COMPLETED
        assert [entry.step_name for entry in state.history] == ["FallbackStep"]
    # The circuit opened after two failures: the last two runs went straight to the fallback.
    assert PrimaryStep.calls == 2
    assert FallbackStep.calls == 4


# --- steps that record what they do ----------------------------------------------------------


class Ledger:
    """What the steps did, and the failures a test asks them to have."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.act_errors: dict[str, BaseException] = {}
        self.compensation_failures: dict[str, int] = {}
        self.act_delay: dict[str, float] = {}
        self.events: list[Any] = []


@dataclasses.dataclass
class ShopContext(SagaContext):
    order_id: str
    done: list[str] = dataclasses.field(default_factory=list)
    undone: list[str] = dataclasses.field(default_factory=list)


class Done(cqrs.Response):
    step: str


class LedgerStep(SagaStepHandler[ShopContext, Done]):
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def act(self, context: ShopContext) -> SagaStepResult[ShopContext, Done]:
        name = type(self).__name__
        self.ledger.calls.append((name, "act"))
        await asyncio.sleep(self.ledger.act_delay.get(name, 0))
        error = self.ledger.act_errors.get(name)
        if error is not None:
            raise error
        context.done.append(name)
        return self._generate_step_result(Done(step=name))

    async def compensate(self, context: ShopContext) -> None:
        name = type(self).__name__
        self.ledger.calls.append((name, "compensate"))
        left = self.ledger.compensation_failures.get(name, 0)
        if left:
            self.ledger.compensation_failures[name] = left - 1
            raise ConnectionError(f"cannot undo {name}")
        context.undone.append(name)


class StepA(LedgerStep):
    pass


class StepB(LedgerStep):
    pass


class StepC(LedgerStep):
    pass


class ThreeSteps(Saga[ShopContext]):
    steps = (StepA, StepB, StepC)


def shop_mediator(
    ledger: Ledger,
    saga: type[Saga[Any]],
    *,
    storage: MemorySagaStorage | None = None,
    retries: int = 3,
    delay: float = 0.001,
    backoff: float = 2.0,
    **options: Any,
) -> SagaMediator:
    container = cqrs.BuiltinContainer()
    container.register_instance(Ledger, ledger)
    return bootstrap(
        di_container=container,
        sagas_mapper=lambda sagas: sagas.bind(ShopContext, saga),
        saga_storage=storage or MemorySagaStorage(),
        compensation_retry_count=retries,
        compensation_retry_delay=delay,
        compensation_retry_backoff=backoff,
        **options,
    )


async def drain(stream: AsyncIterator[SagaStepResult[Any, Any]], into: list[type]) -> None:
    """Collect the step types a stream yields (into a list that survives its exception)."""
    async for result in stream:
        into.append(result.step_type)


def actions(ledger: Ledger) -> list[str]:
    return [f"{action} {name}" for name, action in ledger.calls]


async def test_context_is_persisted_before_each_result_is_yielded() -> None:
    storage = MemorySagaStorage()
    mediator = shop_mediator(Ledger(), ThreeSteps, storage=storage)
    saga_id = uuid.uuid4()
    seen = []
    async for result in mediator.stream(ShopContext(order_id="o1"), saga_id=saga_id):
        state = await storage.load_saga_state(saga_id)
        assert state is not None
        seen.append(
            (
                result.step_type.__name__,
                state.status,
                state.context["done"],
                state.version,
                len(state.history),
            )
        )
    assert seen == [
        ("StepA", SagaStatus.RUNNING, ["StepA"], 2, 1),
        ("StepB", SagaStatus.RUNNING, ["StepA", "StepB"], 3, 2),
        ("StepC", SagaStatus.COMPLETED, ["StepA", "StepB", "StepC"], 4, 3),
    ]


async def test_a_three_step_saga_costs_four_storage_calls() -> None:
    storage = MemorySagaStorage()
    await shop_mediator(Ledger(), ThreeSteps, storage=storage).execute(ShopContext(order_id="o"))
    assert storage.transitions == 4


async def test_a_failed_step_compensates_completed_steps_in_reverse_and_reraises() -> None:
    ledger = Ledger()
    ledger.act_errors["StepC"] = LookupError("out of stock")
    storage = MemorySagaStorage()
    mediator = shop_mediator(ledger, ThreeSteps, storage=storage)
    saga_id = uuid.uuid4()
    context = ShopContext(order_id="o1")
    yielded: list[type] = []
    with pytest.raises(LookupError, match="out of stock"):
        await drain(mediator.stream(context, saga_id=saga_id), yielded)
    assert yielded == [StepA, StepB]
    assert actions(ledger) == [
        "act StepA",
        "act StepB",
        "act StepC",
        "compensate StepB",
        "compensate StepA",
    ]
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert state.status is SagaStatus.COMPENSATED
    assert state.lease_owner is None
    assert state.context["undone"] == ["StepB", "StepA"]
    log = [(e.step_index, e.step_name, e.action, e.status) for e in state.history]
    assert log == [
        (0, "StepA", "act", SagaStepStatus.COMPLETED),
        (1, "StepB", "act", SagaStepStatus.COMPLETED),
        (2, "StepC", "act", SagaStepStatus.FAILED),
        (1, "StepB", "compensate", SagaStepStatus.COMPENSATED),
        (0, "StepA", "compensate", SagaStepStatus.COMPENSATED),
    ]
    assert state.history[2].details is not None
    assert "LookupError" in state.history[2].details
    assert "out of stock" in state.history[2].details
    # create, two acts, the failure, two compensations
    assert storage.transitions == 6


async def test_a_failing_first_step_has_nothing_to_compensate() -> None:
    ledger = Ledger()
    ledger.act_errors["StepA"] = ValueError("bad order")
    storage = MemorySagaStorage()
    saga_id = uuid.uuid4()
    with pytest.raises(ValueError, match="bad order"):
        await shop_mediator(ledger, ThreeSteps, storage=storage).execute(
            ShopContext(order_id="o"), saga_id
        )
    assert actions(ledger) == ["act StepA"]
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert state.status is SagaStatus.COMPENSATED
    assert [(e.step_name, e.status) for e in state.history] == [("StepA", SagaStepStatus.FAILED)]
    assert storage.transitions == 2


async def test_compensation_is_retried_with_backoff_until_it_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    delays = spy_on_sleep(monkeypatch)
    ledger = Ledger()
    ledger.act_errors["StepC"] = LookupError("out of stock")
    ledger.compensation_failures["StepB"] = 2
    storage = MemorySagaStorage()
    saga_id = uuid.uuid4()
    mediator = shop_mediator(ledger, ThreeSteps, storage=storage, retries=3, delay=0.001)
    with pytest.raises(LookupError):
        await mediator.execute(ShopContext(order_id="o"), saga_id)
    assert actions(ledger)[3:] == [
        "compensate StepB",
        "compensate StepB",
        "compensate StepB",
        "compensate StepA",
    ]
    assert delays == [0.001, 0.002]
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert state.status is SagaStatus.COMPENSATED
    # Failed attempts that were retried successfully leave no failure in the log.
    assert [e.status for e in state.history if e.action == "compensate"] == [
        SagaStepStatus.COMPENSATED,
        SagaStepStatus.COMPENSATED,
    ]


async def test_compensation_failing_every_retry_fails_the_saga(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    delays = spy_on_sleep(monkeypatch)
    ledger = Ledger()
    ledger.act_errors["StepC"] = LookupError("out of stock")
    ledger.compensation_failures["StepB"] = 100
    storage = MemorySagaStorage()
    saga_id = uuid.uuid4()
    mediator = shop_mediator(ledger, ThreeSteps, storage=storage, retries=2, delay=0.01)
    with pytest.raises(cqrs.saga.SagaCompensationError, match="StepB"):
        await mediator.execute(ShopContext(order_id="o"), saga_id)
    assert actions(ledger).count("compensate StepB") == 3
    assert delays == [0.01, 0.02]
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert state.status is SagaStatus.FAILED
    assert state.lease_owner is None
    last = state.history[-1]
    assert (last.step_name, last.action, last.status) == (
        "StepB",
        "compensate",
        SagaStepStatus.FAILED,
    )
    assert last.details is not None
    assert "ConnectionError" in last.details
    assert "cannot undo StepB" in last.details
    assert await storage.find_interrupted(stale_after=0) == [], "FAILED is terminal"


def spy_on_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the delays the saga engine sleeps for, without sleeping them."""
    delays: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(delay: float, result: Any = None) -> Any:
        if delay:
            delays.append(delay)
        return await real_sleep(0, result)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    return delays


class SlowStep(LedgerStep):
    timeout = 0.05


class TimeoutSaga(Saga[ShopContext]):
    steps = (StepA, SlowStep, StepC)


async def test_a_step_exceeding_its_timeout_fails_and_compensates() -> None:
    ledger = Ledger()
    ledger.act_delay["SlowStep"] = 30
    storage = MemorySagaStorage()
    saga_id = uuid.uuid4()
    with pytest.raises(TimeoutError):
        await shop_mediator(ledger, TimeoutSaga, storage=storage).execute(
            ShopContext(order_id="o"), saga_id
        )
    assert actions(ledger) == ["act StepA", "act SlowStep", "compensate StepA"]
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert state.status is SagaStatus.COMPENSATED
    assert [(e.step_name, e.status) for e in state.history][1] == (
        "SlowStep",
        SagaStepStatus.FAILED,
    )


async def test_a_step_within_its_timeout_completes() -> None:
    ledger = Ledger()
    results = await shop_mediator(ledger, TimeoutSaga).execute(ShopContext(order_id="o"))
    assert [result.step_type for result in results] == [StepA, SlowStep, StepC]


# --- fallbacks -------------------------------------------------------------------------------


class CardStep(LedgerStep):
    pass


class InvoiceStep(LedgerStep):
    pass


async def test_the_fallback_that_ran_is_the_one_compensated() -> None:
    class PaySaga(Saga[ShopContext]):
        steps = (StepA, Fallback(step=CardStep, fallback=InvoiceStep), StepC)

    ledger = Ledger()
    ledger.act_errors["CardStep"] = ConnectionError("card gateway down")
    ledger.act_errors["StepC"] = LookupError("out of stock")
    storage = MemorySagaStorage()
    saga_id = uuid.uuid4()
    yielded: list[type] = []
    mediator = shop_mediator(ledger, PaySaga, storage=storage)
    with pytest.raises(LookupError):
        await drain(mediator.stream(ShopContext(order_id="o"), saga_id=saga_id), yielded)
    assert yielded == [StepA, InvoiceStep]
    assert actions(ledger) == [
        "act StepA",
        "act CardStep",
        "act InvoiceStep",
        "act StepC",
        "compensate InvoiceStep",
        "compensate StepA",
    ]
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert [(e.step_index, e.step_name, e.action) for e in state.history] == [
        (0, "StepA", "act"),
        (1, "InvoiceStep", "act"),
        (2, "StepC", "act"),
        (1, "InvoiceStep", "compensate"),
        (0, "StepA", "compensate"),
    ]


async def test_a_primary_that_succeeds_is_compensated_itself() -> None:
    class PaySaga(Saga[ShopContext]):
        steps = (Fallback(step=CardStep, fallback=InvoiceStep), StepC)

    ledger = Ledger()
    ledger.act_errors["StepC"] = LookupError("out of stock")
    with pytest.raises(LookupError):
        await shop_mediator(ledger, PaySaga).execute(ShopContext(order_id="o"))
    assert actions(ledger) == ["act CardStep", "act StepC", "compensate CardStep"]


async def test_a_failing_fallback_fails_the_step() -> None:
    class PaySaga(Saga[ShopContext]):
        steps = (StepA, Fallback(step=CardStep, fallback=InvoiceStep))

    ledger = Ledger()
    ledger.act_errors["CardStep"] = ConnectionError("card gateway down")
    ledger.act_errors["InvoiceStep"] = PermissionError("no invoices")
    storage = MemorySagaStorage()
    saga_id = uuid.uuid4()
    with pytest.raises(PermissionError):
        await shop_mediator(ledger, PaySaga, storage=storage).execute(
            ShopContext(order_id="o"), saga_id
        )
    assert actions(ledger)[-1] == "compensate StepA"
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert state.status is SagaStatus.COMPENSATED


async def test_fallback_only_for_listed_exceptions() -> None:
    class PaySaga(Saga[ShopContext]):
        steps = (
            StepA,
            Fallback(step=CardStep, fallback=InvoiceStep, failure_exceptions=(ConnectionError,)),
        )

    ledger = Ledger()
    ledger.act_errors["CardStep"] = ValueError("card refused")
    with pytest.raises(ValueError, match="card refused"):
        await shop_mediator(ledger, PaySaga).execute(ShopContext(order_id="o"))
    assert actions(ledger) == ["act StepA", "act CardStep", "compensate StepA"]


async def test_an_open_circuit_goes_to_the_fallback_without_calling_the_primary() -> None:
    breaker = cqrs.MemoryCircuitBreaker(failure_threshold=2, reset_timeout=3600)

    class PaySaga(Saga[ShopContext]):
        steps = (Fallback(step=CardStep, fallback=InvoiceStep, circuit_breaker=breaker),)

    ledger = Ledger()
    ledger.act_errors["CardStep"] = ConnectionError("card gateway down")
    mediator = shop_mediator(ledger, PaySaga)
    for _ in range(2):
        await mediator.execute(ShopContext(order_id="o"))
    assert actions(ledger) == ["act CardStep", "act InvoiceStep"] * 2
    ledger.calls.clear()
    del ledger.act_errors["CardStep"]  # the gateway is back, but the circuit is still open
    results = await mediator.execute(ShopContext(order_id="o"))
    assert [result.step_type for result in results] == [InvoiceStep]
    assert actions(ledger) == ["act InvoiceStep"]


# --- events ----------------------------------------------------------------------------------


class ItemReserved(cqrs.DomainEvent):
    order_id: str


class OrderPaidPayload(cqrs.Response):
    order_id: str


class ItemReservedHandler(cqrs.EventHandler[ItemReserved]):
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def handle(self, event: ItemReserved) -> None:
        self.ledger.events.append(event)


class ReserveAndAnnounce(LedgerStep):
    async def act(self, context: ShopContext) -> SagaStepResult[ShopContext, Done]:
        self._events: list[Any] = [ItemReserved(order_id=context.order_id)]
        return await super().act(context)


class PayAndNotify(LedgerStep):
    async def act(self, context: ShopContext) -> SagaStepResult[ShopContext, Done]:
        self._events = [
            cqrs.NotificationEvent[OrderPaidPayload](
                event_name="OrderPaid",
                topic="orders",
                payload=OrderPaidPayload(order_id=context.order_id),
            )
        ]
        return await super().act(context)


class EventSaga(Saga[ShopContext]):
    steps = (ReserveAndAnnounce, PayAndNotify, StepC)


def event_mediator(ledger: Ledger, broker: cqrs.MemoryMessageBroker) -> SagaMediator:
    return shop_mediator(
        ledger,
        EventSaga,
        message_broker=broker,
        domain_events_mapper=lambda events: events.bind(ItemReserved, ItemReservedHandler),
    )


def published(broker: cqrs.MemoryMessageBroker) -> list[dict[str, Any]]:
    return [json.loads(message.payload) for message in broker.messages.get("orders", [])]


async def test_step_events_go_to_handlers_and_notifications_to_the_broker() -> None:
    ledger = Ledger()
    broker = cqrs.MemoryMessageBroker()
    mediator = event_mediator(ledger, broker)
    stream = mediator.stream(ShopContext(order_id="o-42"))
    first = await anext(stream)
    assert first.step_type is ReserveAndAnnounce
    # A step's events are dispatched before its result is yielded.
    assert ledger.events == [ItemReserved(order_id="o-42")]
    assert published(broker) == []
    second = await anext(stream)
    assert second.step_type is PayAndNotify
    messages = broker.messages["orders"]
    assert [message.message_name for message in messages] == ["OrderPaid"]
    assert published(broker)[0]["payload"] == {"order_id": "o-42"}
    assert [result.step_type async for result in stream] == [StepC]
    assert len(ledger.events) == 1


async def test_a_failing_step_dispatches_no_events() -> None:
    ledger = Ledger()
    ledger.act_errors["PayAndNotify"] = ConnectionError("gateway down")
    broker = cqrs.MemoryMessageBroker()
    with pytest.raises(ConnectionError):
        await event_mediator(ledger, broker).execute(ShopContext(order_id="o"))
    assert ledger.events == [ItemReserved(order_id="o")]
    assert published(broker) == []


# --- the mediator's edges --------------------------------------------------------------------


async def test_an_unbound_context_is_rejected() -> None:
    mediator = shop_mediator(Ledger(), ThreeSteps)
    with pytest.raises(cqrs.HandlerNotBoundError, match="OrderContext"):
        await mediator.execute(order())


async def test_reusing_a_saga_id_is_refused_and_leaves_the_saga_alone() -> None:
    ledger = Ledger()
    storage = MemorySagaStorage()
    mediator = shop_mediator(ledger, ThreeSteps, storage=storage)
    saga_id = uuid.uuid4()
    await mediator.execute(ShopContext(order_id="first"), saga_id)
    ledger.calls.clear()
    with pytest.raises(cqrs.saga.SagaConcurrencyError):
        await mediator.execute(ShopContext(order_id="second"), saga_id)
    assert ledger.calls == []
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert state.context["order_id"] == "first"
    assert state.status is SagaStatus.COMPLETED


async def test_each_run_gets_its_own_saga_id() -> None:
    storage = MemorySagaStorage()
    mediator = shop_mediator(Ledger(), ThreeSteps, storage=storage)
    first = await mediator.execute(ShopContext(order_id="a"))
    second = await mediator.execute(ShopContext(order_id="b"))
    ids = {result.saga_id for result in first} | {result.saga_id for result in second}
    assert len(ids) == 2
    for saga_id in ids:
        assert saga_id is not None
        state = await storage.load_saga_state(saga_id)
        assert state is not None
        assert state.status is SagaStatus.COMPLETED


async def test_concurrent_sagas_keep_their_own_context_and_log() -> None:
    storage = MemorySagaStorage()
    mediator = shop_mediator(Ledger(), ThreeSteps, storage=storage)
    runs: Sequence[list[SagaStepResult[Any, Any]]] = await asyncio.gather(
        *(mediator.execute(ShopContext(order_id=f"o{n}")) for n in range(10))
    )
    for n, results in enumerate(runs):
        saga_id = results[0].saga_id
        assert saga_id is not None
        state = await storage.load_saga_state(saga_id)
        assert state is not None
        assert state.context == {
            "order_id": f"o{n}",
            "done": ["StepA", "StepB", "StepC"],
            "undone": [],
        }
        assert len(state.history) == 3
    assert storage.transitions == 40
