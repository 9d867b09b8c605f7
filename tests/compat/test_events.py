"""Event handling behaviour python-cqrs 4.x code relies on, written from 4.x's docstrings.

`events.bootstrap(middlewares=...)`, an `EventEmitter` whose `emit` is called for each emitted
event, fallbacks refusing a fallback for another event type, the `setup_*` helpers of the 4.x
bootstrap modules and the devnull broker's `MESSAGE_BUS`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

import cqrs
from cqrs.events import bootstrap as event_bootstrap
from cqrs.events.event import DCDomainEvent
from cqrs.message_brokers import devnull
from cqrs.requests import bootstrap as request_bootstrap


class OrderPlaced(cqrs.DomainEvent, frozen=True):
    order_id: str


class InvoiceIssued(cqrs.DomainEvent, frozen=True):
    order_id: str


class Shipped(cqrs.DomainEvent, frozen=True):
    order_id: str


class Journal:
    def __init__(self) -> None:
        self.lines: list[str] = []


class IssueInvoice(cqrs.EventHandler[OrderPlaced]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._events: list[Any] = []

    async def handle(self, event: OrderPlaced) -> None:
        self.journal.lines.append(f"invoice {event.order_id}")
        self._events.append(InvoiceIssued(order_id=event.order_id))


class RecordInvoice(cqrs.EventHandler[InvoiceIssued]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def handle(self, event: InvoiceIssued) -> None:
        self.journal.lines.append(f"recorded {event.order_id}")


class Ship(cqrs.EventHandler[Shipped]):
    async def handle(self, event: Shipped) -> None:
        pass


class PlaceOrder(cqrs.Request):
    order_id: str


class PlaceOrderHandler(cqrs.RequestHandler[PlaceOrder, None]):
    def __init__(self) -> None:
        self._events: list[Any] = []

    async def handle(self, request: PlaceOrder) -> None:
        self._events.append(OrderPlaced(order_id=request.order_id))
        self._events.append(Shipped(order_id=request.order_id))


def bind_events(event_map: cqrs.EventMap) -> None:
    event_map.bind(OrderPlaced, IssueInvoice)
    event_map.bind(InvoiceIssued, RecordInvoice)
    event_map.bind(Shipped, Ship)


def bind_commands(request_map: cqrs.RequestMap) -> None:
    request_map.bind(PlaceOrder, PlaceOrderHandler)


class Recorder:
    """A 4.x middleware: `async def __call__(self, request, handle)`."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def __call__(self, request: Any, handle: Any) -> Any:
        self.journal.lines.append(f"before {type(request).__name__}")
        result = await handle(request)
        self.journal.lines.append(f"after {type(request).__name__}")
        return result


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
def container(journal: Journal) -> cqrs.BuiltinContainer:
    container = cqrs.BuiltinContainer()
    container.register(Journal, lambda: journal, lifetime="singleton")
    return container


async def test_event_bootstrap_runs_middlewares_around_each_handler(
    journal: Journal, container: cqrs.BuiltinContainer
) -> None:
    mediator = event_bootstrap.bootstrap(
        di_container=container, middlewares=[Recorder(journal)], events_mapper=bind_events
    )
    await mediator.send(OrderPlaced(order_id="o1"))
    assert journal.lines == [
        "before OrderPlaced",
        "invoice o1",
        "after OrderPlaced",
        "before InvoiceIssued",
        "recorded o1",
        "after InvoiceIssued",
    ]


async def test_setup_mediator_of_the_events_bootstrap(
    journal: Journal, container: cqrs.BuiltinContainer
) -> None:
    mediator = event_bootstrap.setup_mediator(container, [], events_mapper=bind_events)
    await mediator.send(OrderPlaced(order_id="o2"))
    assert journal.lines == ["invoice o2", "recorded o2"]


class CountingEmitter(cqrs.EventEmitter):
    """An emitter subclass of the kind 4.x tests wrote to see every emitted event."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.emitted: list[Any] = []

    async def emit(self, event: Any) -> list[Any]:
        self.emitted.append(event)
        return await super().emit(event)


@pytest.mark.parametrize("concurrent", [False, True], ids=["sequential", "concurrent"])
async def test_emit_is_called_for_every_emitted_event_and_follow_up(
    journal: Journal, container: cqrs.BuiltinContainer, concurrent: bool
) -> None:
    event_map = cqrs.EventMap()
    bind_events(event_map)
    emitter = CountingEmitter(event_map, container)
    mediator = request_bootstrap.setup_mediator(
        emitter,
        container,
        middlewares=[],
        commands_mapper=bind_commands,
        max_concurrent_event_handlers=4 if concurrent else 1,
        concurrent_event_handle_enable=concurrent,
    )
    await mediator.send(PlaceOrder(order_id="o3"))
    assert sorted(type(event).__name__ for event in emitter.emitted) == [
        "InvoiceIssued",
        "OrderPlaced",
        "Shipped",
    ]
    assert sorted(journal.lines) == ["invoice o3", "recorded o3"]


async def test_setup_event_emitter_publishes_to_the_devnull_message_bus(
    container: cqrs.BuiltinContainer,
) -> None:
    devnull.MESSAGE_BUS.clear()
    emitter = request_bootstrap.setup_event_emitter(
        container, message_broker=devnull.DevnullMessageBroker()
    )
    mediator = request_bootstrap.setup_mediator(
        emitter, container, middlewares=[], commands_mapper=bind_notifying
    )
    await mediator.send(PlaceOrder(order_id="o4"))
    (message,) = devnull.MESSAGE_BUS
    assert message.topic == "orders"
    assert json.loads(message.payload)["payload"] == {"order_id": "o4"}
    devnull.MESSAGE_BUS.clear()


class OrderPayload(cqrs.Response):
    order_id: str


class PlaceOrderNotifying(cqrs.RequestHandler[PlaceOrder, None]):
    def __init__(self) -> None:
        self._events: list[Any] = []

    async def handle(self, request: PlaceOrder) -> None:
        self._events.append(
            cqrs.NotificationEvent[OrderPayload](
                event_name="order_placed",
                topic="orders",
                payload=OrderPayload(order_id=request.order_id),
            )
        )


def bind_notifying(request_map: cqrs.RequestMap) -> None:
    request_map.bind(PlaceOrder, PlaceOrderNotifying)


class TestFallbacksCheckTheHandledType:
    """4.x: "primary and fallback must handle the same event type"."""

    def test_a_fallback_for_another_event_type_is_refused(self) -> None:
        with pytest.raises(TypeError, match="IssueInvoice handles OrderPlaced, Ship handles"):
            cqrs.EventHandlerFallback(IssueInvoice, Ship)

    def test_a_fallback_for_the_same_event_type_is_accepted(self) -> None:
        class IssueLater(cqrs.EventHandler[OrderPlaced]):
            async def handle(self, event: OrderPlaced) -> None:
                pass

        binding = cqrs.EventHandlerFallback(IssueInvoice, IssueLater)
        assert binding.fallback is IssueLater

    def test_request_fallbacks_are_checked_the_same_way(self) -> None:
        class Other(cqrs.Request):
            pass

        class OtherHandler(cqrs.RequestHandler[Other, None]):
            async def handle(self, request: Other) -> None:
                pass

        with pytest.raises(TypeError, match="must handle the same type"):
            cqrs.RequestHandlerFallback(PlaceOrderHandler, OtherHandler)


async def test_a_dataclass_domain_event_is_handled_in_process(
    journal: Journal, container: cqrs.BuiltinContainer
) -> None:
    @dataclasses.dataclass(frozen=True)
    class Audited(DCDomainEvent):
        text: str

    class Audit(cqrs.EventHandler[Audited]):
        def __init__(self, journal: Journal) -> None:
            self.journal = journal

        async def handle(self, event: Audited) -> None:
            self.journal.lines.append(event.text)

    mediator = event_bootstrap.bootstrap(
        di_container=container, events_mapper=lambda events: events.bind(Audited, Audit)
    )
    await mediator.send(Audited(text="seen"))
    assert journal.lines == ["seen"]


def test_build_chain_links_the_handlers_in_order() -> None:
    from cqrs.requests.cor_request_handler import build_chain

    class Link(cqrs.CORRequestHandler[PlaceOrder, str]):
        async def handle(self, request: PlaceOrder) -> str | None:
            return await self.next(request)

    links = [Link(), Link(), Link()]
    assert build_chain(links) is links[0]
    chained: Iterator[Any] = iter(links[1:])
    assert [link._next_handler for link in links[:-1]] == list(chained)


def test_default_serializer_writes_json_of_to_dict() -> None:
    from cqrs.serializers import default_serializer

    payloads: Sequence[Any] = (OrderPayload(order_id="o5"), {"a": 1})
    assert [json.loads(default_serializer(p)) for p in payloads] == [{"order_id": "o5"}, {"a": 1}]
