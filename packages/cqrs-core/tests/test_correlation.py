"""Correlation and causation ids made and carried automatically (`cqrs.correlation`)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

import cqrs
from cqrs import correlation
from cqrs.brokers.memory import MemoryMessageBroker
from cqrs.consumers.dispatcher import MessageDispatcher, Verdict
from cqrs.events.bootstrap import bootstrap as event_bootstrap
from cqrs.interception import Interceptor, register, unregister
from cqrs.outbox import OutboxRelay
from cqrs.outbox.memory import MemoryOutboxedEventRepository
from cqrs.requests.bootstrap import bootstrap, bootstrap_streaming
from cqrs.saga.bootstrap import bootstrap as saga_bootstrap
from cqrs.saga.models import SagaContext
from cqrs.saga.recovery import recover_saga
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage


class Shipped(cqrs.NotificationEvent[dict[str, Any]]):
    pass


def shipped(n: int, **ids: str) -> Shipped:
    return Shipped(event_name="Shipped", topic="orders", payload={"n": n}, **ids)


class Ship(cqrs.Request):
    n: int


class ShipTwice(cqrs.Request):
    n: int


class ShipHandler(cqrs.RequestHandler[Ship, None]):
    def __init__(self) -> None:
        self._events: list[Any] = []

    @property
    def events(self) -> list[Any]:
        return self._events

    async def handle(self, request: Ship) -> None:
        self._events.append(shipped(request.n))
        self._events.append(shipped(request.n + 1))


class Nested:
    """Holds the mediator, so a handler can send a follow-up request through it."""

    mediator: Any = None


class ShipTwiceHandler(cqrs.RequestHandler[ShipTwice, None]):
    def __init__(self) -> None:
        self._events: list[Any] = []

    @property
    def events(self) -> list[Any]:
        return self._events

    async def handle(self, request: ShipTwice) -> None:
        self._events.append(shipped(0))
        await Nested.mediator.send(Ship(n=request.n))


def mediator(broker: MemoryMessageBroker) -> Any:
    made = bootstrap(
        commands_mapper=lambda m: (m.bind(Ship, ShipHandler), m.bind(ShipTwice, ShipTwiceHandler)),
        message_broker=broker,
    )
    Nested.mediator = made
    return made


async def test_the_events_of_one_send_share_its_correlation_and_are_caused_by_it() -> None:
    broker = MemoryMessageBroker()
    await mediator(broker).send(Ship(n=1))
    await mediator(broker).send(Ship(n=5))
    first, second, third, fourth = broker.messages["orders"]
    assert first.correlation_id is not None
    assert first.causation_id is not None
    assert (first.correlation_id, first.causation_id) == (
        second.correlation_id,
        second.causation_id,
    )
    assert third.correlation_id == fourth.correlation_id != first.correlation_id
    assert third.causation_id == fourth.causation_id != first.causation_id
    uuid.UUID(first.correlation_id)
    uuid.UUID(first.causation_id)


async def test_a_nested_send_keeps_the_correlation_and_is_its_own_cause() -> None:
    broker = MemoryMessageBroker()
    await mediator(broker).send(ShipTwice(n=1))
    inner, inner_too, outer = broker.messages["orders"]
    assert outer.correlation_id == inner.correlation_id == inner_too.correlation_id
    assert inner.causation_id == inner_too.causation_id != outer.causation_id


async def test_a_scope_gives_its_correlation_id_to_what_is_sent_inside_it() -> None:
    broker = MemoryMessageBroker()
    with correlation.scope(correlation_id="http-abc", message_id="req-1"):
        assert correlation.current_correlation_id() == "http-abc"
        assert correlation.current_message_id() == "req-1"
        await mediator(broker).send(Ship(n=1))
    message = broker.messages["orders"][0]
    assert message.correlation_id == "http-abc"
    assert message.causation_id not in (None, "req-1")


async def test_ids_an_event_already_has_are_kept() -> None:
    broker = MemoryMessageBroker()
    with correlation.scope(correlation_id="outer"):
        await broker.send_message(
            cqrs.Message.from_event(shipped(1, correlation_id="mine", causation_id="cause"))
        )
    message = broker.messages["orders"][0]
    assert (message.correlation_id, message.causation_id) == ("mine", "cause")


def test_outside_any_scope_no_id_is_made() -> None:
    assert correlation.current_correlation_id() is None
    assert correlation.current_message_id() is None
    message = cqrs.Message.from_event(shipped(1))
    assert (message.correlation_id, message.causation_id) == (None, None)


class Delivered(cqrs.NotificationEvent[dict[str, Any]]):
    pass


class FollowUp(cqrs.EventHandler[Delivered]):
    def __init__(self) -> None:
        self._events: list[Any] = []

    @property
    def events(self) -> list[Any]:
        return self._events

    async def handle(self, event: Delivered) -> None:
        self._events.append(shipped(99))
        await Nested.mediator.send(Ship(n=event.payload["n"]))


def delivered(**ids: str) -> Delivered:
    return Delivered(event_name="Delivered", topic="deliveries", payload={"n": 7}, **ids)


async def test_a_consumed_event_causes_its_follow_ups_within_its_correlation() -> None:
    broker = MemoryMessageBroker()
    mediator(broker)
    events = event_bootstrap(
        events_mapper=lambda m: m.bind(Delivered, FollowUp), message_broker=broker
    )
    consumed = delivered(correlation_id="chain-1")
    await events.send(consumed)
    by_command, by_command_too, follow_up = broker.messages["orders"]
    assert follow_up.correlation_id == by_command.correlation_id == "chain-1"
    assert follow_up.causation_id == str(consumed.event_id)
    assert by_command.causation_id == by_command_too.causation_id != str(consumed.event_id)


async def test_a_consumed_event_without_a_correlation_starts_one_with_its_id() -> None:
    broker = MemoryMessageBroker()
    mediator(broker)
    events = event_bootstrap(
        events_mapper=lambda m: m.bind(Delivered, FollowUp), message_broker=broker
    )
    consumed = delivered()
    await events.send(consumed)
    assert {m.correlation_id for m in broker.messages["orders"]} == {str(consumed.event_id)}


class Count(cqrs.Request):
    to: int


class CountHandler(cqrs.StreamingRequestHandler[Count, int]):
    def __init__(self) -> None:
        self._events: list[Any] = []

    @property
    def events(self) -> list[Any]:
        return self._events

    def clear_events(self) -> None:
        self._events.clear()

    async def handle(self, request: Count) -> AsyncIterator[int]:
        for n in range(request.to):
            self._events.append(shipped(n))
            yield n


async def test_a_stream_is_one_scope_that_the_consumer_of_its_items_is_not_in() -> None:
    broker = MemoryMessageBroker()
    streaming = bootstrap_streaming(
        commands_mapper=lambda m: m.bind(Count, CountHandler), message_broker=broker
    )
    between: list[str | None] = []
    async for _ in streaming.stream(Count(to=3)):
        between.append(correlation.current_message_id())
    assert between == [None, None, None]
    messages = broker.messages["orders"]
    assert len(messages) == 3
    assert len({(m.correlation_id, m.causation_id) for m in messages}) == 1
    assert messages[0].causation_id is not None


class Stamp(Interceptor):
    def on_outbox_add(self, event: Any, headers: dict[str, str]) -> None:
        headers["traceparent"] = f"00-{event.payload['n']:032x}-{1:016x}-01"


class Outboxing(cqrs.RequestHandler[Ship, None]):
    outbox: MemoryOutboxedEventRepository

    async def handle(self, request: Ship) -> None:
        async with self.outbox as session:
            self.outbox.add(session, shipped(request.n))
            await self.outbox.commit(session)


async def test_the_outbox_keeps_scope_ids_and_captured_headers_and_the_relay_sends_them() -> None:
    outbox = MemoryOutboxedEventRepository()
    Outboxing.outbox = outbox
    broker = MemoryMessageBroker()
    sender = bootstrap(commands_mapper=lambda m: m.bind(Ship, Outboxing))
    stamp = Stamp()
    register(stamp)
    try:
        with correlation.scope(correlation_id="req-chain"):
            await sender.send(Ship(n=42))
    finally:
        unregister(stamp)
    async with outbox as session:
        outbox.add(session, shipped(43))
        await outbox.commit(session)
    await OutboxRelay(outbox, broker).run_until_idle()
    traced, plain = broker.messages["orders"]
    assert traced.correlation_id == "req-chain"
    assert traced.causation_id is not None
    assert traced.headers()["traceparent"] == f"00-{42:032x}-{1:016x}-01"
    assert (plain.correlation_id, plain.causation_id) == (None, None)
    assert "traceparent" not in plain.headers()


class Flood(Interceptor):
    def on_outbox_add(self, event: Any, headers: dict[str, str]) -> None:
        headers["baggage"] = "x" * 5000


async def test_headers_too_large_for_the_outbox_are_refused_before_anything_is_staged() -> None:
    outbox = MemoryOutboxedEventRepository()
    flood = Flood()
    register(flood)
    try:
        async with outbox as session:
            with pytest.raises(cqrs.errors.MessageRejectedError, match="headers captured"):
                outbox.add(session, shipped(1))
            assert session.staged == []
    finally:
        unregister(flood)


@dataclasses.dataclass
class Trip(SagaContext):
    trip_id: str


class Book(SagaStepHandler[Trip, None]):
    def __init__(self) -> None:
        self._events: list[Any] = []

    @property
    def events(self) -> list[Any]:
        return self._events

    async def act(self, context: Trip) -> SagaStepResult[Trip, None]:
        self._events.append(shipped(1))
        return self._generate_step_result(None)

    async def compensate(self, context: Trip) -> None:
        return None


class TripSaga(Saga[Trip]):
    steps = [Book]  # noqa: RUF012


async def test_a_saga_is_a_scope_and_stores_its_correlation_for_recovery() -> None:
    broker = MemoryMessageBroker()
    storage = MemorySagaStorage()
    mediator = saga_bootstrap(
        sagas_mapper=lambda m: m.bind(Trip, TripSaga), message_broker=broker, saga_storage=storage
    )
    saga_id = uuid.uuid4()
    with correlation.scope(correlation_id="trip-chain"):
        await mediator.execute(Trip(trip_id="t1"), saga_id)
    (message,) = broker.messages["orders"]
    assert (message.correlation_id, message.causation_id) == ("trip-chain", str(saga_id))
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert state.trace == {"correlation-id": "trip-chain"}


async def test_a_recovered_saga_keeps_the_correlation_it_was_created_with() -> None:
    broker = MemoryMessageBroker()
    storage = MemorySagaStorage()
    saga_id = uuid.uuid4()
    await storage.create_saga(
        saga_id,
        TripSaga.saga_name(),
        Trip(trip_id="t2").to_dict(),
        owner="crashed",
        lease_seconds=0,
        trace={"correlation-id": "before-the-crash"},
    )
    await recover_saga(TripSaga, saga_id, Trip, storage=storage, message_broker=broker)
    (message,) = broker.messages["orders"]
    assert (message.correlation_id, message.causation_id) == ("before-the-crash", str(saga_id))


async def test_a_consumer_takes_the_ids_from_the_headers_when_the_payload_lacks_them() -> None:
    broker = MemoryMessageBroker()
    mediator(broker)
    with correlation.scope(correlation_id="from-headers"):
        message = cqrs.Message.from_event(delivered())
    assert b'"correlation_id":null' in message.payload
    consumer = MessageDispatcher(
        event_bootstrap(events_mapper=lambda m: m.bind(Delivered, FollowUp), message_broker=broker),
        {"Delivered": Delivered},
    )
    assert (await consumer.dispatch(message)).verdict is Verdict.HANDLED
    by_command, by_command_too, follow_up = broker.messages["orders"]
    assert {m.correlation_id for m in broker.messages["orders"]} == {"from-headers"}
    assert follow_up.causation_id == str(message.message_id)
    assert by_command.causation_id == by_command_too.causation_id != follow_up.causation_id


async def test_a_saga_started_outside_any_scope_names_its_chain_after_itself() -> None:
    broker = MemoryMessageBroker()
    storage = MemorySagaStorage()
    mediator = saga_bootstrap(
        sagas_mapper=lambda m: m.bind(Trip, TripSaga), message_broker=broker, saga_storage=storage
    )
    first, recovered = uuid.uuid4(), uuid.uuid4()
    await mediator.execute(Trip(trip_id="t6"), first)
    state = await storage.load_saga_state(first)
    assert state is not None
    assert state.trace is None, "nothing to store: recovery names the chain the same way"
    await storage.create_saga(
        recovered,
        TripSaga.saga_name(),
        Trip(trip_id="t7").to_dict(),
        owner="crashed",
        lease_seconds=0,
    )
    await recover_saga(TripSaga, recovered, Trip, storage=storage, message_broker=broker)
    ran, resumed = broker.messages["orders"]
    assert (ran.correlation_id, ran.causation_id) == (str(first), str(first))
    assert (resumed.correlation_id, resumed.causation_id) == (str(recovered), str(recovered))
