"""Chain-of-responsibility handlers bound as a list: who handles, pass-through, events."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

import cqrs
from cqrs import BuiltinContainer, CORRequestHandler
from cqrs.events.map import EventMap
from cqrs.requests.bootstrap import bootstrap
from cqrs.requests.map import RequestMap


class Pay(cqrs.Request):
    method: str
    amount: int


class Paid(cqrs.Response):
    by: str
    amount: int


class Considered(cqrs.DomainEvent):
    link: str
    method: str


class Journal:
    def __init__(self) -> None:
        self.entries: list[str] = []


class Link(CORRequestHandler[Pay, Paid]):
    """A link that handles one payment method and records every request it sees."""

    handles = ""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._events: list[Any] = []

    async def handle(self, request: Pay) -> Paid | None:
        name = type(self).__name__
        self.journal.entries.append(name)
        self._events.append(Considered(link=name, method=request.method))
        if request.method == self.handles:
            return Paid(by=name, amount=request.amount)
        return await self.next(request)


class Card(Link):
    handles = "card"


class PayPal(Link):
    handles = "paypal"


class Default(Link):
    async def handle(self, request: Pay) -> Paid | None:
        self.journal.entries.append("Default")
        self._events.append(Considered(link="Default", method=request.method))
        return Paid(by="Default", amount=request.amount)


class LastProbe(Link):
    """Asks the (absent) next link and records what it answered."""

    answers: ClassVar[list[Paid | None]] = []

    async def handle(self, request: Pay) -> Paid | None:
        answer = await self.next(request)
        LastProbe.answers.append(answer)
        return answer


class RecordConsidered(cqrs.EventHandler[Considered]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def handle(self, event: Considered) -> None:
        self.journal.entries.append(f"event {event.link}")


@pytest.fixture
def journal() -> Journal:
    return Journal()


def mediator_for(journal: Journal, chain: list[type[Link]]) -> cqrs.RequestMediator:
    container = BuiltinContainer()
    container.register_instance(Journal, journal)

    def requests(mapper: RequestMap) -> None:
        mapper.bind(Pay, chain)

    def events(mapper: EventMap) -> None:
        mapper.bind(Considered, RecordConsidered)

    return bootstrap(di_container=container, commands_mapper=requests, domain_events_mapper=events)


async def test_first_link_handles(journal: Journal) -> None:
    mediator = mediator_for(journal, [Card, PayPal, Default])
    assert await mediator.send(Pay(method="card", amount=5)) == Paid(by="Card", amount=5)
    assert journal.entries == ["Card", "event Card"]


async def test_request_passes_through_to_the_second_link(journal: Journal) -> None:
    mediator = mediator_for(journal, [Card, PayPal, Default])
    assert await mediator.send(Pay(method="paypal", amount=7)) == Paid(by="PayPal", amount=7)
    assert journal.entries == ["Card", "PayPal", "event Card", "event PayPal"]


async def test_unclaimed_request_reaches_the_default_link(journal: Journal) -> None:
    mediator = mediator_for(journal, [Card, PayPal, Default])
    assert await mediator.send(Pay(method="cash", amount=1)) == Paid(by="Default", amount=1)
    assert journal.entries[:3] == ["Card", "PayPal", "Default"]


async def test_events_of_every_link_are_dispatched_in_chain_order(journal: Journal) -> None:
    mediator = mediator_for(journal, [Card, PayPal, Default])
    await mediator.send(Pay(method="cash", amount=1))
    assert journal.entries[3:] == ["event Card", "event PayPal", "event Default"]


async def test_chain_without_default_returns_none_when_nobody_handles(journal: Journal) -> None:
    mediator = mediator_for(journal, [Card, PayPal])
    assert await mediator.send(Pay(method="cash", amount=1)) is None
    assert journal.entries == ["Card", "PayPal", "event Card", "event PayPal"]


async def test_next_of_the_last_link_returns_none(journal: Journal) -> None:
    LastProbe.answers.clear()
    mediator = mediator_for(journal, [Card, LastProbe])
    assert await mediator.send(Pay(method="cash", amount=1)) is None
    assert LastProbe.answers == [None]


async def test_every_send_builds_a_fresh_chain(journal: Journal) -> None:
    mediator = mediator_for(journal, [Card, Default])
    await mediator.send(Pay(method="card", amount=1))
    journal.entries.clear()
    await mediator.send(Pay(method="card", amount=2))
    # a link reused from the first send would still hold its first event and dispatch it again
    assert journal.entries == ["Card", "event Card"]


async def test_set_next_links_handlers_by_hand(journal: Journal) -> None:
    card, paypal, default = Card(journal), PayPal(journal), Default(journal)
    assert card.set_next(paypal) is paypal
    paypal.set_next(default)
    assert await card.handle(Pay(method="bank", amount=3)) == Paid(by="Default", amount=3)
    assert [e.link for h in (card, paypal, default) for e in h.events] == [
        "Card",
        "PayPal",
        "Default",
    ]


def test_chain_links_must_be_cor_handlers() -> None:
    class Plain(cqrs.RequestHandler[Pay, Paid]):
        async def handle(self, request: Pay) -> Paid:
            return Paid(by="plain", amount=request.amount)

    requests = RequestMap()
    with pytest.raises(TypeError, match="chain links must be CORRequestHandler subclasses"):
        requests.bind(Pay, [Card, Plain])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="empty handler chain for Pay"):
        requests.bind(Pay, [])
    assert Pay not in requests
