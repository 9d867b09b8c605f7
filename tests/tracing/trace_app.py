"""The application of the end-to-end tracing tests: an HTTP route placing an order, two outboxes
on PostgreSQL, and the consumer handlers (one sends a follow-up command)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import fastapi
import uvicorn

import cqrs
from cqrs.events.bootstrap import bootstrap as events_bootstrap
from cqrs.interception import Interceptor
from cqrs_fastapi import CorrelationMiddleware
from cqrs_sqla import SqlAlchemyOutboxedEventRepository


class OrderPlaced(cqrs.NotificationEvent[dict[str, str]]):
    pass


class ShipmentScheduled(cqrs.NotificationEvent[dict[str, str]]):
    pass


class PlaceOrder(cqrs.Request):
    order_id: str


class ShipOrder(cqrs.Request):
    order_id: str


@dataclasses.dataclass
class Topology:
    """Where this test run's events go: two outbox tables and their topics, unique per run."""

    orders_outbox: SqlAlchemyOutboxedEventRepository
    shipments_outbox: SqlAlchemyOutboxedEventRepository
    orders_topic: str
    shipments_topic: str
    shipped: list[str] = dataclasses.field(default_factory=list)


def commands(topology: Topology) -> cqrs.RequestMediator:
    """The command side: each handler writes its event to its outbox, in a transaction."""

    class PlaceOrderHandler(cqrs.RequestHandler[PlaceOrder, None]):
        async def handle(self, request: PlaceOrder) -> None:
            outbox = topology.orders_outbox
            async with outbox as session:
                outbox.add(
                    session,
                    OrderPlaced(
                        event_name="OrderPlaced",
                        topic=topology.orders_topic,
                        payload={"order_id": request.order_id},
                        partition_key=request.order_id,
                    ),
                )
                await outbox.commit(session)

    class ShipOrderHandler(cqrs.RequestHandler[ShipOrder, None]):
        async def handle(self, request: ShipOrder) -> None:
            outbox = topology.shipments_outbox
            async with outbox as session:
                outbox.add(
                    session,
                    ShipmentScheduled(
                        event_name="ShipmentScheduled",
                        topic=topology.shipments_topic,
                        payload={"order_id": request.order_id},
                        partition_key=request.order_id,
                    ),
                )
                await outbox.commit(session)

    def bind(mapper: cqrs.RequestMap) -> None:
        mapper.bind(PlaceOrder, PlaceOrderHandler)
        mapper.bind(ShipOrder, ShipOrderHandler)

    return cqrs.bootstrap.bootstrap(commands_mapper=bind)


def order_events(mediator: cqrs.RequestMediator) -> cqrs.EventMediator:
    """The first consumer's handlers: an order placed sends the follow-up `ShipOrder`."""

    class ShipWhenPlaced(cqrs.EventHandler[OrderPlaced]):
        async def handle(self, event: OrderPlaced) -> None:
            await mediator.send(ShipOrder(order_id=event.payload["order_id"]))

    return events_bootstrap(events_mapper=lambda m: m.bind(OrderPlaced, ShipWhenPlaced))


def shipment_events(topology: Topology) -> cqrs.EventMediator:
    """The second consumer's handler: notes the shipment."""

    class Shipped(cqrs.EventHandler[ShipmentScheduled]):
        async def handle(self, event: ShipmentScheduled) -> None:
            topology.shipped.append(event.payload["order_id"])

    return events_bootstrap(events_mapper=lambda m: m.bind(ShipmentScheduled, Shipped))


class Received(Interceptor):
    """Keeps every message a consumer handled, as it arrived (headers included)."""

    def __init__(self) -> None:
        self.messages: list[cqrs.Message] = []

    async def intercept_consume(
        self, message: cqrs.Message, proceed: Callable[[cqrs.Message], Awaitable[Any]]
    ) -> Any:
        self.messages.append(message)
        return await proceed(message)


def web_app(mediator: cqrs.RequestMediator) -> fastapi.FastAPI:
    app = fastapi.FastAPI()
    app.add_middleware(CorrelationMiddleware)

    @app.post("/orders/{order_id}", status_code=202)
    async def place(order_id: str) -> dict[str, str]:
        await mediator.send(PlaceOrder(order_id=order_id))
        return {"order_id": order_id}

    return app


@contextlib.asynccontextmanager
async def serving(app: fastapi.FastAPI) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on a free loopback port; yield its base URL."""
    import asyncio

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def console_spans(text: str) -> list[dict[str, Any]]:
    """The spans the SDK's console exporter printed (pretty JSON objects, one after another)."""
    decoder = json.JSONDecoder()
    spans: list[dict[str, Any]] = []
    position = 0
    while (start := text.find("{", position)) != -1:
        try:
            found, position = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        if isinstance(found, dict) and "context" in found and "name" in found:
            spans.append(found)
    return spans


def hex_id(value: int, width: int) -> str:
    """A trace or span id as the console exporter writes it."""
    return f"0x{value:0{width}x}"


def unique(label: str) -> str:
    return f"e2e_{label}_{uuid.uuid4().hex[:10]}"
