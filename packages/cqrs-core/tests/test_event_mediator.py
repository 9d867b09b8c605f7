"""The event mediator: handling consumed events, follow-ups, publishing and failures."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import cqrs
from cqrs import BuiltinContainer, EventMediator, MemoryMessageBroker, NotificationEvent
from cqrs.events.bootstrap import bootstrap
from cqrs.events.map import EventMap


class OrderPayload(cqrs.Response):
    order_id: str


class InvoicePayload(cqrs.Response):
    order_id: str
    amount: int


OrderPaid = NotificationEvent[OrderPayload]
InvoiceIssued = NotificationEvent[InvoicePayload]


class AuditEntry(cqrs.DomainEvent):
    text: str


class Base(cqrs.DomainEvent):
    name: str


class Derived(Base):
    extra: int = 0


class Journal:
    def __init__(self) -> None:
        self.entries: list[str] = []


class IssueInvoice(cqrs.EventHandler[OrderPaid]):
    """Handles a consumed notification; emits a follow-up notification and a domain event."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._events: list[Any] = []

    async def handle(self, event: OrderPaid) -> None:
        self.journal.entries.append(f"paid {event.payload.order_id}")
        self._events.append(
            InvoiceIssued(
                event_name="invoice_issued",
                topic="invoices",
                payload=InvoicePayload(order_id=event.payload.order_id, amount=10),
                causation_id=str(event.event_id),
            )
        )
        self._events.append(AuditEntry(text=f"invoice for {event.payload.order_id}"))


class Audit(cqrs.EventHandler[AuditEntry]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def handle(self, event: AuditEntry) -> None:
        self.journal.entries.append(f"audit {event.text}")


class OnBase(cqrs.EventHandler[Base]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def handle(self, event: Base) -> None:
        self.journal.entries.append(f"base {type(event).__name__} {event.name}")


class OnDerived(cqrs.EventHandler[Derived]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def handle(self, event: Derived) -> None:
        self.journal.entries.append(f"derived {event.name}")


class Fails(cqrs.EventHandler[Base]):
    async def handle(self, event: Base) -> None:
        raise RuntimeError(f"cannot handle {event.name}")


class AlsoFails(cqrs.EventHandler[Base]):
    async def handle(self, event: Base) -> None:
        raise ValueError("also broken")


class Probe:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.running = 0
        self.max_running = 0
        self.reached = asyncio.Event()
        self.release = asyncio.Event()


def probe_handler(index: int) -> type[cqrs.EventHandler[Base]]:
    class Probed(cqrs.EventHandler[Base]):
        def __init__(self, probe: Probe) -> None:
            self.probe = probe

        async def handle(self, event: Base) -> None:
            probe = self.probe
            probe.running += 1
            probe.max_running = max(probe.max_running, probe.running)
            if probe.running >= probe.expected:
                probe.reached.set()
            await probe.release.wait()
            probe.running -= 1

    Probed.__qualname__ = f"Probed{index}"
    return Probed


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
def container(journal: Journal) -> BuiltinContainer:
    container = BuiltinContainer()
    container.register_instance(Journal, journal)
    return container


def mapper(*bindings: tuple[type, type]) -> Any:
    def fill(events: EventMap) -> None:
        for event_type, handler in bindings:
            events.bind(event_type, handler)

    return fill


def paid(order_id: str = "o-1") -> Any:
    return OrderPaid(
        event_name="order_paid", topic="orders", payload=OrderPayload(order_id=order_id)
    )


async def test_received_notification_is_handled_not_republished_and_follow_ups_published(
    container: BuiltinContainer, journal: Journal
) -> None:
    broker = MemoryMessageBroker()
    mediator = bootstrap(
        di_container=container,
        events_mapper=mapper((OrderPaid, IssueInvoice), (AuditEntry, Audit)),
        message_broker=broker,
    )
    event = paid()
    await mediator.send(event)

    assert journal.entries == ["paid o-1", "audit invoice for o-1"]
    assert "orders" not in broker.messages
    [message] = broker.messages["invoices"]
    assert message.message_name == "invoice_issued"
    assert message.causation_id == str(event.event_id)
    invoice = InvoiceIssued.from_dict(json.loads(message.payload))
    assert invoice.payload == InvoicePayload(order_id="o-1", amount=10)


async def test_event_rebuilt_from_a_message_is_dispatched(
    container: BuiltinContainer, journal: Journal
) -> None:
    mediator = bootstrap(di_container=container, events_mapper=mapper((OrderPaid, IssueInvoice)))
    message = cqrs.Message.from_event(paid("o-9"))
    await mediator.send(OrderPaid.from_dict(json.loads(message.payload)))
    assert journal.entries == ["paid o-9"]


async def test_handlers_bound_to_a_base_class_receive_subclasses(
    container: BuiltinContainer, journal: Journal
) -> None:
    mediator = bootstrap(
        di_container=container, events_mapper=mapper((Base, OnBase), (Derived, OnDerived))
    )
    await mediator.send(Base(name="a"))
    await mediator.send(Derived(name="b"))
    assert journal.entries == ["base Base a", "derived b", "base Derived b"]


async def test_unbound_event_is_ignored(container: BuiltinContainer, journal: Journal) -> None:
    mediator = bootstrap(di_container=container, events_mapper=mapper((Derived, OnDerived)))
    await mediator.send(Base(name="nobody listens"))
    assert journal.entries == []


async def test_mediator_can_be_built_directly(
    container: BuiltinContainer, journal: Journal
) -> None:
    events = EventMap()
    events.bind(Base, OnBase)
    mediator = EventMediator(events, container)
    await mediator.send(Base(name="direct"))
    assert journal.entries == ["base Base direct"]


@pytest.mark.parametrize(("limit", "concurrent"), [(1, True), (3, False), (3, True)])
async def test_one_failure_is_raised_after_the_other_handlers_ran(
    container: BuiltinContainer, journal: Journal, limit: int, concurrent: bool
) -> None:
    mediator = bootstrap(
        di_container=container,
        events_mapper=mapper((Base, Fails), (Base, OnBase)),
        max_concurrent_event_handlers=limit,
        concurrent_event_handle_enable=concurrent,
    )
    with pytest.raises(RuntimeError, match="cannot handle x"):
        await mediator.send(Base(name="x"))
    assert journal.entries == ["base Base x"]


@pytest.mark.parametrize(("limit", "concurrent"), [(1, True), (3, False), (3, True)])
async def test_several_failures_are_raised_as_a_group(
    container: BuiltinContainer, journal: Journal, limit: int, concurrent: bool
) -> None:
    mediator = bootstrap(
        di_container=container,
        events_mapper=mapper((Base, Fails), (Base, OnBase), (Base, AlsoFails)),
        max_concurrent_event_handlers=limit,
        concurrent_event_handle_enable=concurrent,
    )
    with pytest.raises(ExceptionGroup) as info:
        await mediator.send(Base(name="x"))
    assert {type(e) for e in info.value.exceptions} == {RuntimeError, ValueError}
    assert journal.entries == ["base Base x"]


@pytest.mark.parametrize(("limit", "expected"), [(2, 2), (3, 3), (1, 1)])
async def test_handlers_of_one_event_respect_the_limit(
    container: BuiltinContainer, limit: int, expected: int
) -> None:
    probe = Probe(expected)
    container.register_instance(Probe, probe)
    mediator = bootstrap(
        di_container=container,
        events_mapper=mapper(*((Base, probe_handler(i)) for i in range(5))),
        max_concurrent_event_handlers=limit,
    )
    task = asyncio.ensure_future(mediator.send(Base(name="x")))
    await probe.reached.wait()
    for _ in range(20):
        await asyncio.sleep(0)
    assert probe.running == expected
    probe.release.set()
    await task
    assert probe.max_running == expected
    assert probe.running == 0
