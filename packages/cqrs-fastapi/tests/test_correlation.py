"""`CorrelationMiddleware`: a request's correlation id reaches the events its command emits."""

from __future__ import annotations

from typing import Any

import fastapi
import httpx

import cqrs
from cqrs.brokers.memory import MemoryMessageBroker
from cqrs_fastapi import CorrelationMiddleware


class Placed(cqrs.NotificationEvent[dict[str, Any]]):
    pass


class Place(cqrs.Request):
    order_id: str


class Placing(cqrs.RequestHandler[Place, None]):
    def __init__(self) -> None:
        self._events: list[Any] = []

    @property
    def events(self) -> list[Any]:
        return self._events

    async def handle(self, request: Place) -> None:
        self._events.append(
            Placed(event_name="Placed", topic="orders", payload={"id": request.order_id})
        )


def app(broker: MemoryMessageBroker) -> fastapi.FastAPI:
    mediator = cqrs.bootstrap.bootstrap(
        commands_mapper=lambda m: m.bind(Place, Placing), message_broker=broker
    )
    made = fastapi.FastAPI()
    made.add_middleware(CorrelationMiddleware)

    @made.post("/orders/{order_id}")
    async def place(order_id: str) -> dict[str, str]:
        await mediator.send(Place(order_id=order_id))
        return {"placed": order_id}

    return made


async def post(broker: MemoryMessageBroker, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app(broker))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/orders/o-1", headers=headers)


async def test_the_callers_correlation_id_reaches_the_events_and_comes_back() -> None:
    broker = MemoryMessageBroker()
    response = await post(broker, {"X-Correlation-ID": "checkout-42", "X-Request-ID": "r-7"})
    assert response.status_code == 200
    assert response.headers["x-correlation-id"] == "checkout-42"
    (message,) = broker.messages["orders"]
    assert message.correlation_id == "checkout-42"
    assert message.causation_id not in (None, "r-7")  # caused by the send, inside the request


async def test_without_one_a_request_gets_a_new_correlation_id_it_is_told() -> None:
    broker = MemoryMessageBroker()
    response = await post(broker, {})
    (message,) = broker.messages["orders"]
    assert message.correlation_id == response.headers["x-correlation-id"]
    assert len(message.correlation_id) == 36


async def test_an_unplain_correlation_id_is_replaced_not_passed_on() -> None:
    broker = MemoryMessageBroker()
    response = await post(broker, {"X-Correlation-ID": "evil\tvalue " + "x" * 200})
    (message,) = broker.messages["orders"]
    assert message.correlation_id == response.headers["x-correlation-id"]
    assert "evil" not in message.correlation_id
