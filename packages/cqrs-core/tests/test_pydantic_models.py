"""The Pydantic flavours of the models, alone and going through the mediators."""

from __future__ import annotations

import dataclasses
import datetime
import json
import uuid

import pydantic
import pytest

import cqrs
from cqrs import (
    MemoryMessageBroker,
    ModelValidationError,
    PydanticDomainEvent,
    PydanticEvent,
    PydanticNotificationEvent,
    PydanticRequest,
    PydanticResponse,
)
from cqrs.events.map import EventMap
from cqrs.requests.bootstrap import bootstrap
from cqrs.requests.map import RequestMap


class Line(pydantic.BaseModel):
    sku: str
    qty: int


class PlaceOrder(PydanticRequest):
    order_id: uuid.UUID
    lines: list[Line]
    at: datetime.datetime


class OrderPlacedResult(PydanticResponse):
    order_id: uuid.UUID
    lines: int


class OrderPayload(pydantic.BaseModel):
    order_id: uuid.UUID
    total: int


class OrderPlaced(PydanticDomainEvent):
    order_id: uuid.UUID


OrderNotification = PydanticNotificationEvent[OrderPayload]


def place_order() -> PlaceOrder:
    return PlaceOrder(
        order_id=uuid.uuid4(),
        lines=[Line(sku="a", qty=1), Line(sku="b", qty=2)],
        at=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
    )


class TestModels:
    def test_bases_are_pydantic_models_exported_by_cqrs(self) -> None:
        for cls in (
            PydanticRequest,
            PydanticResponse,
            PydanticEvent,
            PydanticDomainEvent,
            PydanticNotificationEvent,
        ):
            assert issubclass(cls, pydantic.BaseModel)
            assert getattr(cqrs, cls.__name__) is cls
        assert issubclass(PydanticDomainEvent, PydanticEvent)
        assert issubclass(PydanticNotificationEvent, PydanticEvent)

    def test_round_trip_through_json(self) -> None:
        request = place_order()
        data = json.loads(json.dumps(request.to_dict()))
        assert data["order_id"] == str(request.order_id)
        assert data["lines"] == [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]
        assert PlaceOrder.from_dict(data) == request

    def test_satisfies_the_model_protocols(self) -> None:
        assert isinstance(place_order(), cqrs.IRequest)
        assert isinstance(OrderPlacedResult(order_id=uuid.uuid4(), lines=1), cqrs.IResponse)
        assert isinstance(OrderPlaced(order_id=uuid.uuid4()), cqrs.IEvent)

    def test_invalid_data_raises_model_validation_error_naming_fields(self) -> None:
        data = place_order().to_dict()
        data["lines"][1]["qty"] = "many"
        del data["at"]
        with pytest.raises(ModelValidationError) as info:
            PlaceOrder.from_dict(data)
        message = str(info.value)
        assert message.startswith("PlaceOrder: ")
        assert "lines.1.qty: " in message
        assert "at: Field required" in message
        assert isinstance(info.value.__cause__, pydantic.ValidationError)


class TestNotificationEvent:
    def test_same_fields_as_the_dataclass_notification_event(self) -> None:
        dataclass_fields = {f.name for f in dataclasses.fields(cqrs.NotificationEvent)}
        assert set(PydanticNotificationEvent.model_fields) == dataclass_fields

    def test_parametrization_is_cached_and_marked(self) -> None:
        assert PydanticNotificationEvent[OrderPayload] is OrderNotification
        assert issubclass(OrderNotification, PydanticNotificationEvent)
        assert OrderNotification.__cqrs_notification__ is True
        assert PydanticNotificationEvent.__cqrs_notification__ is True
        assert "__cqrs_notification__" not in PydanticNotificationEvent.model_fields

    def test_defaults_and_round_trip(self) -> None:
        event = OrderNotification(
            event_name="order_placed",
            topic="orders",
            payload=OrderPayload(order_id=uuid.uuid4(), total=3),
        )
        assert isinstance(event.event_id, uuid.UUID)
        assert event.timestamp.utcoffset() == datetime.timedelta(0)
        assert event.partition_key is None
        rebuilt = OrderNotification.from_dict(json.loads(json.dumps(event.to_dict())))
        assert isinstance(rebuilt.payload, OrderPayload)
        assert rebuilt == event

    def test_is_a_notification_event_for_the_message(self) -> None:
        event = OrderNotification(
            event_name="order_placed",
            topic="orders",
            payload=OrderPayload(order_id=uuid.uuid4(), total=3),
            partition_key="k",
        )
        message = cqrs.Message.from_event(event)
        assert message.topic == "orders"
        assert message.message_name == "order_placed"
        assert message.message_id == event.event_id
        assert message.key == "k"
        assert json.loads(message.payload) == event.to_dict()


class PlaceOrderHandler(cqrs.RequestHandler[PlaceOrder, OrderPlacedResult]):
    def __init__(self) -> None:
        self._events: list[object] = []

    async def handle(self, request: PlaceOrder) -> OrderPlacedResult:
        total = sum(line.qty for line in request.lines)
        self._events.append(OrderPlaced(order_id=request.order_id))
        self._events.append(
            OrderNotification(
                event_name="order_placed",
                topic="orders",
                payload=OrderPayload(order_id=request.order_id, total=total),
                partition_key=str(request.order_id),
            )
        )
        return OrderPlacedResult(order_id=request.order_id, lines=len(request.lines))


handled: list[OrderPlaced] = []


class OrderPlacedHandler(cqrs.EventHandler[OrderPlaced]):
    async def handle(self, event: OrderPlaced) -> None:
        handled.append(event)


async def test_pydantic_models_go_through_the_request_mediator() -> None:
    handled.clear()
    broker = MemoryMessageBroker()

    def commands(mapper: RequestMap) -> None:
        mapper.bind(PlaceOrder, PlaceOrderHandler)

    def events(mapper: EventMap) -> None:
        mapper.bind(OrderPlaced, OrderPlacedHandler)

    mediator = bootstrap(
        commands_mapper=commands, domain_events_mapper=events, message_broker=broker
    )
    request = place_order()
    result = await mediator.send(request)

    assert result == OrderPlacedResult(order_id=request.order_id, lines=2)
    assert handled == [OrderPlaced(order_id=request.order_id)]
    [message] = broker.messages["orders"]
    assert message.message_name == "order_placed"
    assert message.key == str(request.order_id)
    published = OrderNotification.from_dict(json.loads(message.payload))
    assert published.payload == OrderPayload(order_id=request.order_id, total=3)
    assert message.headers()["event-id"] == str(published.event_id)


received: list[object] = []


class OrderNotificationHandler(cqrs.EventHandler[OrderNotification]):
    async def handle(self, event: OrderNotification) -> None:
        received.append(event)


async def test_event_mediator_handles_a_pydantic_notification_without_republishing() -> None:
    received.clear()
    broker = MemoryMessageBroker()

    def events(mapper: EventMap) -> None:
        mapper.bind(OrderNotification, OrderNotificationHandler)

    mediator = cqrs.bootstrap.bootstrap_events(events_mapper=events, message_broker=broker)
    event = OrderNotification.from_dict(
        {
            "event_name": "order_placed",
            "topic": "orders",
            "payload": {"order_id": str(uuid.uuid4()), "total": 1},
        }
    )
    await mediator.send(event)

    assert received == [event]
    assert broker.messages == {}
