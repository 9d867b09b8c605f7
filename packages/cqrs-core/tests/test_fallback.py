"""Request and event handler fallbacks run through real mediators, with and without a breaker."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import pytest

import cqrs
from cqrs import BuiltinContainer, MemoryCircuitBreaker
from cqrs.events.bootstrap import bootstrap as bootstrap_events
from cqrs.events.map import EventMap
from cqrs.exceptions import CircuitOpenError
from cqrs.requests.bootstrap import bootstrap
from cqrs.requests.map import RequestMap

T = TypeVar("T")


class Journal:
    """What ran, in order; shared by every handler of a test through the container."""

    def __init__(self) -> None:
        self.entries: list[str] = []

    def count(self, entry: str) -> int:
        return self.entries.count(entry)


class Outage:
    """The error the primary handlers raise, if any."""

    def __init__(self) -> None:
        self.error: Exception | None = None


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# --- requests -------------------------------------------------------------------------------


class GetRate(cqrs.Request):
    currency: str


class Rate(cqrs.Response):
    currency: str
    source: str


class RateServed(cqrs.DomainEvent):
    source: str


class LiveRate(cqrs.RequestHandler[GetRate, Rate]):
    def __init__(self, journal: Journal, outage: Outage) -> None:
        self.journal = journal
        self.outage = outage
        self._events: list[Any] = []

    async def handle(self, request: GetRate) -> Rate:
        self.journal.entries.append("live")
        self._events.append(RateServed(source="live"))
        if self.outage.error is not None:
            raise self.outage.error
        return Rate(currency=request.currency, source="live")


class CachedRate(cqrs.RequestHandler[GetRate, Rate]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._events: list[Any] = []

    async def handle(self, request: GetRate) -> Rate:
        self.journal.entries.append("cache")
        self._events.append(RateServed(source="cache"))
        return Rate(currency=request.currency, source="cache")


class BrokenCache(cqrs.RequestHandler[GetRate, Rate]):
    async def handle(self, request: GetRate) -> Rate:
        raise LookupError("cache is empty")


class RecordRateServed(cqrs.EventHandler[RateServed]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def handle(self, event: RateServed) -> None:
        self.journal.entries.append(f"served by {event.source}")


# --- events ---------------------------------------------------------------------------------


class InvoiceIssued(cqrs.DomainEvent):
    invoice_id: str


class InvoiceDelivered(cqrs.DomainEvent):
    invoice_id: str
    channel: str


class EmailInvoice(cqrs.EventHandler[InvoiceIssued]):
    def __init__(self, journal: Journal, outage: Outage) -> None:
        self.journal = journal
        self.outage = outage
        self._events: list[Any] = []

    async def handle(self, event: InvoiceIssued) -> None:
        self.journal.entries.append(f"email {event.invoice_id}")
        self._events.append(InvoiceDelivered(invoice_id=event.invoice_id, channel="email"))
        if self.outage.error is not None:
            raise self.outage.error


class QueueInvoice(cqrs.EventHandler[InvoiceIssued]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._events: list[Any] = []

    async def handle(self, event: InvoiceIssued) -> None:
        self.journal.entries.append(f"queue {event.invoice_id}")
        self._events.append(InvoiceDelivered(invoice_id=event.invoice_id, channel="queue"))


class AuditInvoice(cqrs.EventHandler[InvoiceIssued]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def handle(self, event: InvoiceIssued) -> None:
        self.journal.entries.append(f"audit {event.invoice_id}")


class RecordDelivery(cqrs.EventHandler[InvoiceDelivered]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def handle(self, event: InvoiceDelivered) -> None:
        self.journal.entries.append(f"delivered {event.invoice_id} by {event.channel}")


# --- fixtures and helpers -------------------------------------------------------------------


class AsyncOnlyContainer:
    """A container without the built-in synchronous fast path, like a foreign DI adapter."""

    def __init__(self, inner: BuiltinContainer) -> None:
        self.inner = inner

    async def resolve(self, type_: type[T]) -> T:
        return await self.inner.resolve(type_)


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
def outage() -> Outage:
    return Outage()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["builtin", "async-only"])
def container(request: pytest.FixtureRequest, journal: Journal, outage: Outage) -> Any:
    builtin = BuiltinContainer()
    builtin.register_instance(Journal, journal)
    builtin.register_instance(Outage, outage)
    return builtin if request.param == "builtin" else AsyncOnlyContainer(builtin)


def request_mediator(container: Any, binding: Any) -> cqrs.RequestMediator:
    def queries(mapper: RequestMap) -> None:
        mapper.bind(GetRate, binding)

    def events(mapper: EventMap) -> None:
        mapper.bind(RateServed, RecordRateServed)

    return bootstrap(di_container=container, queries_mapper=queries, domain_events_mapper=events)


def event_mediator(container: Any, binding: Any, **options: Any) -> Any:
    def events(mapper: EventMap) -> None:
        mapper.bind(InvoiceIssued, binding)
        mapper.bind(InvoiceIssued, AuditInvoice)
        mapper.bind(InvoiceDelivered, RecordDelivery)

    return bootstrap_events(di_container=container, events_mapper=events, **options)


# --- request fallbacks ----------------------------------------------------------------------


async def test_primary_answers_when_it_succeeds(container: Any, journal: Journal) -> None:
    mediator = request_mediator(container, cqrs.RequestHandlerFallback(LiveRate, CachedRate))
    rate = await mediator.send(GetRate(currency="EUR"))
    assert rate == Rate(currency="EUR", source="live")
    assert journal.entries == ["live", "served by live"]


async def test_fallback_answers_when_primary_raises(
    container: Any, journal: Journal, outage: Outage
) -> None:
    outage.error = ConnectionError("rates service unreachable")
    mediator = request_mediator(container, cqrs.RequestHandlerFallback(LiveRate, CachedRate))
    rate = await mediator.send(GetRate(currency="EUR"))
    assert rate == Rate(currency="EUR", source="cache")
    # Only the events of the handler that produced the result are dispatched.
    assert journal.entries == ["live", "cache", "served by cache"]


async def test_listed_failure_triggers_the_fallback(
    container: Any, journal: Journal, outage: Outage
) -> None:
    outage.error = ConnectionRefusedError("refused")  # a subclass of a listed type
    binding = cqrs.RequestHandlerFallback(
        LiveRate, CachedRate, failure_exceptions=(ConnectionError, TimeoutError)
    )
    rate = await request_mediator(container, binding).send(GetRate(currency="EUR"))
    assert rate.source == "cache"


async def test_unlisted_failure_propagates_without_fallback(
    container: Any, journal: Journal, outage: Outage
) -> None:
    outage.error = ValueError("unknown currency")
    binding = cqrs.RequestHandlerFallback(
        LiveRate, CachedRate, failure_exceptions=(ConnectionError, TimeoutError)
    )
    with pytest.raises(ValueError, match="unknown currency"):
        await request_mediator(container, binding).send(GetRate(currency="XXX"))
    assert journal.entries == ["live"]


async def test_failing_fallback_raises_its_own_error(container: Any, outage: Outage) -> None:
    outage.error = ConnectionError("down")
    mediator = request_mediator(container, cqrs.RequestHandlerFallback(LiveRate, BrokenCache))
    with pytest.raises(LookupError, match="cache is empty"):
        await mediator.send(GetRate(currency="EUR"))


async def test_fallback_is_logged(
    container: Any, outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    outage.error = ConnectionError("down")
    mediator = request_mediator(container, cqrs.RequestHandlerFallback(LiveRate, CachedRate))
    with caplog.at_level(logging.WARNING, logger="cqrs.fallback"):
        await mediator.send(GetRate(currency="EUR"))
    messages = [r.getMessage() for r in caplog.records if r.name == "cqrs.fallback"]
    assert len(messages) == 1
    assert "LiveRate" in messages[0]
    assert "ConnectionError" in messages[0]


async def test_fallback_works_behind_middleware(journal: Journal, outage: Outage) -> None:
    container = BuiltinContainer()
    container.register_instance(Journal, journal)
    container.register_instance(Outage, outage)
    outage.error = ConnectionError("down")

    async def tag(request: Any, handle: Any) -> Any:
        journal.entries.append("middleware")
        return await handle(request)

    mediator = bootstrap(
        di_container=container,
        queries_mapper=lambda m: m.bind(GetRate, cqrs.RequestHandlerFallback(LiveRate, CachedRate)),
        middlewares=[tag],
    )
    assert (await mediator.send(GetRate(currency="EUR"))).source == "cache"
    assert journal.entries == ["middleware", "live", "cache"]


async def test_open_circuit_stops_calling_the_primary(
    container: Any, journal: Journal, outage: Outage, clock: FakeClock
) -> None:
    breaker = MemoryCircuitBreaker(failure_threshold=2, reset_timeout=30.0, clock=clock)
    binding = cqrs.RequestHandlerFallback(
        LiveRate, CachedRate, failure_exceptions=(ConnectionError,), circuit_breaker=breaker
    )
    mediator = request_mediator(container, binding)
    outage.error = ConnectionError("down")

    for _ in range(5):
        assert (await mediator.send(GetRate(currency="EUR"))).source == "cache"
    assert journal.count("live") == 2
    assert journal.count("cache") == 5
    assert breaker.state(LiveRate) == "open"

    # The dependency recovers, but the circuit stays open until the reset timeout.
    outage.error = None
    clock.now += 29.0
    assert (await mediator.send(GetRate(currency="EUR"))).source == "cache"
    assert journal.count("live") == 2

    clock.now += 1.0
    assert breaker.state(LiveRate) == "half_open"
    assert (await mediator.send(GetRate(currency="EUR"))).source == "live"
    assert breaker.state(LiveRate) == "closed"
    assert journal.count("live") == 3
    assert (await mediator.send(GetRate(currency="EUR"))).source == "live"
    assert journal.count("live") == 4


async def test_failed_trial_reopens_and_falls_back(
    container: Any, journal: Journal, outage: Outage, clock: FakeClock
) -> None:
    breaker = MemoryCircuitBreaker(failure_threshold=2, reset_timeout=30.0, clock=clock)
    mediator = request_mediator(
        container, cqrs.RequestHandlerFallback(LiveRate, CachedRate, circuit_breaker=breaker)
    )
    outage.error = ConnectionError("down")
    for _ in range(2):
        await mediator.send(GetRate(currency="EUR"))
    clock.now += 30.0
    assert (await mediator.send(GetRate(currency="EUR"))).source == "cache"
    assert journal.count("live") == 3
    assert breaker.state(LiveRate) == "open"
    await mediator.send(GetRate(currency="EUR"))
    assert journal.count("live") == 3


async def test_refusal_falls_back_whatever_failure_exceptions_says(
    container: Any, journal: Journal, clock: FakeClock
) -> None:
    breaker = MemoryCircuitBreaker(failure_threshold=1, clock=clock)
    await _open(breaker, LiveRate)
    binding = cqrs.RequestHandlerFallback(
        LiveRate, CachedRate, failure_exceptions=(TimeoutError,), circuit_breaker=breaker
    )
    assert (await request_mediator(container, binding).send(GetRate(currency="EUR"))).source == (
        "cache"
    )
    assert journal.count("live") == 0


async def test_unlisted_failure_propagates_through_the_breaker(
    container: Any, journal: Journal, outage: Outage, clock: FakeClock
) -> None:
    breaker = MemoryCircuitBreaker(failure_threshold=5, clock=clock)
    binding = cqrs.RequestHandlerFallback(
        LiveRate, CachedRate, failure_exceptions=(ConnectionError,), circuit_breaker=breaker
    )
    outage.error = ValueError("bad currency")
    with pytest.raises(ValueError, match="bad currency"):
        await request_mediator(container, binding).send(GetRate(currency="XXX"))
    assert journal.count("cache") == 0


async def _open(breaker: MemoryCircuitBreaker, identifier: type) -> None:
    async def down() -> None:
        raise ConnectionError("down")

    while breaker.state(identifier) != "open":
        with pytest.raises(ConnectionError):
            await breaker.call(identifier, down)


# --- event fallbacks ------------------------------------------------------------------------


async def test_event_primary_handles_when_it_succeeds(container: Any, journal: Journal) -> None:
    mediator = event_mediator(container, cqrs.EventHandlerFallback(EmailInvoice, QueueInvoice))
    await mediator.send(InvoiceIssued(invoice_id="INV-1"))
    assert journal.entries == ["email INV-1", "audit INV-1", "delivered INV-1 by email"]


async def test_event_fallback_runs_and_its_follow_ups_are_handled(
    container: Any, journal: Journal, outage: Outage
) -> None:
    outage.error = TimeoutError("mail server timed out")
    mediator = event_mediator(container, cqrs.EventHandlerFallback(EmailInvoice, QueueInvoice))
    await mediator.send(InvoiceIssued(invoice_id="INV-1"))
    assert journal.entries == [
        "email INV-1",
        "queue INV-1",
        "audit INV-1",
        "delivered INV-1 by queue",
    ]


async def test_event_fallback_with_concurrent_handling(
    container: Any, journal: Journal, outage: Outage
) -> None:
    outage.error = TimeoutError("mail server timed out")
    mediator = event_mediator(
        container,
        cqrs.EventHandlerFallback(EmailInvoice, QueueInvoice),
        max_concurrent_event_handlers=4,
    )
    await mediator.send(InvoiceIssued(invoice_id="INV-2"))
    assert sorted(journal.entries) == sorted(
        ["email INV-2", "queue INV-2", "audit INV-2", "delivered INV-2 by queue"]
    )


async def test_event_unlisted_failure_propagates(
    container: Any, journal: Journal, outage: Outage
) -> None:
    outage.error = PermissionError("no mailbox")
    binding = cqrs.EventHandlerFallback(
        EmailInvoice, QueueInvoice, failure_exceptions=(TimeoutError,)
    )
    with pytest.raises(PermissionError, match="no mailbox"):
        await event_mediator(container, binding).send(InvoiceIssued(invoice_id="INV-1"))
    # The failing binding does not stop the other handlers of the event.
    assert journal.entries == ["email INV-1", "audit INV-1"]


async def test_event_fallback_from_request_handler_events(journal: Journal, outage: Outage) -> None:
    class IssueInvoice(cqrs.Request):
        invoice_id: str

    class IssueInvoiceHandler(cqrs.RequestHandler[IssueInvoice, None]):
        def __init__(self) -> None:
            self._events: list[Any] = []

        async def handle(self, request: IssueInvoice) -> None:
            self._events.append(InvoiceIssued(invoice_id=request.invoice_id))

    container = BuiltinContainer()
    container.register_instance(Journal, journal)
    container.register_instance(Outage, outage)
    outage.error = TimeoutError("mail server timed out")

    def events(mapper: EventMap) -> None:
        mapper.bind(InvoiceIssued, cqrs.EventHandlerFallback(EmailInvoice, QueueInvoice))
        mapper.bind(InvoiceDelivered, RecordDelivery)

    mediator = bootstrap(
        di_container=container,
        commands_mapper=lambda m: m.bind(IssueInvoice, IssueInvoiceHandler),
        domain_events_mapper=events,
    )
    await mediator.send(IssueInvoice(invoice_id="INV-9"))
    assert journal.entries == ["email INV-9", "queue INV-9", "delivered INV-9 by queue"]


async def test_event_open_circuit_stops_calling_the_primary(
    container: Any, journal: Journal, outage: Outage, clock: FakeClock
) -> None:
    breaker = MemoryCircuitBreaker(failure_threshold=2, reset_timeout=10.0, clock=clock)
    mediator = event_mediator(
        container, cqrs.EventHandlerFallback(EmailInvoice, QueueInvoice, circuit_breaker=breaker)
    )
    outage.error = TimeoutError("mail server timed out")
    for number in range(4):
        await mediator.send(InvoiceIssued(invoice_id=f"INV-{number}"))
    emails = [e for e in journal.entries if e.startswith("email")]
    queued = [e for e in journal.entries if e.startswith("queue")]
    assert emails == ["email INV-0", "email INV-1"]
    assert len(queued) == 4
    assert breaker.state(EmailInvoice) == "open"

    outage.error = None
    clock.now += 10.0
    assert breaker.state(EmailInvoice) == "half_open"
    journal.entries.clear()
    await mediator.send(InvoiceIssued(invoice_id="INV-5"))
    assert journal.entries == ["email INV-5", "audit INV-5", "delivered INV-5 by email"]
    assert breaker.state(EmailInvoice) == "closed"


async def test_one_breaker_keeps_request_and_event_circuits_apart(
    container: Any, journal: Journal, outage: Outage, clock: FakeClock
) -> None:
    breaker = MemoryCircuitBreaker(failure_threshold=1, clock=clock)
    await _open(breaker, EmailInvoice)
    binding = cqrs.RequestHandlerFallback(LiveRate, CachedRate, circuit_breaker=breaker)
    assert (await request_mediator(container, binding).send(GetRate(currency="EUR"))).source == (
        "live"
    )
    assert breaker.state(LiveRate) == "closed"


async def test_a_refused_call_is_a_circuit_breaker_error(clock: FakeClock) -> None:
    breaker = MemoryCircuitBreaker(failure_threshold=1, clock=clock)
    await _open(breaker, LiveRate)

    async def never() -> None:
        raise AssertionError("must not run")

    with pytest.raises(CircuitOpenError) as info:
        await breaker.call(LiveRate, never)
    assert breaker.is_circuit_breaker_error(info.value)


# --- construction ---------------------------------------------------------------------------


class NotAHandler:
    pass


class BrokenBreaker:
    async def call(self, identifier: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        return await func(*args, **kwargs)


@pytest.mark.parametrize(
    ("primary", "fallback"),
    [
        ("LiveRate", CachedRate),
        (LiveRate, None),
        (LiveRate(Journal(), Outage()), CachedRate),
        (NotAHandler, CachedRate),
        (LiveRate, QueueInvoice),
    ],
)
def test_request_fallback_rejects_non_handlers(primary: Any, fallback: Any) -> None:
    with pytest.raises(TypeError, match="RequestHandlerFallback"):
        cqrs.RequestHandlerFallback(primary, fallback)


@pytest.mark.parametrize(
    ("primary", "fallback"),
    [(EmailInvoice, LiveRate), ("EmailInvoice", QueueInvoice), (EmailInvoice, NotAHandler)],
)
def test_event_fallback_rejects_non_handlers(primary: Any, fallback: Any) -> None:
    with pytest.raises(TypeError, match="EventHandlerFallback"):
        cqrs.EventHandlerFallback(primary, fallback)


@pytest.mark.parametrize(
    "failure_exceptions",
    [ConnectionError, [ConnectionError], ("ConnectionError",), (ConnectionError, int)],
)
def test_fallbacks_reject_bad_failure_exceptions(failure_exceptions: Any) -> None:
    with pytest.raises(TypeError, match="failure_exceptions"):
        cqrs.RequestHandlerFallback(LiveRate, CachedRate, failure_exceptions=failure_exceptions)
    with pytest.raises(TypeError, match="failure_exceptions"):
        cqrs.EventHandlerFallback(EmailInvoice, QueueInvoice, failure_exceptions=failure_exceptions)


@pytest.mark.parametrize("breaker", [BrokenBreaker(), MemoryCircuitBreaker, "memory://"])
def test_fallbacks_reject_what_is_not_a_circuit_breaker(breaker: Any) -> None:
    with pytest.raises(TypeError, match="circuit_breaker"):
        cqrs.RequestHandlerFallback(LiveRate, CachedRate, circuit_breaker=breaker)
    with pytest.raises(TypeError, match="circuit_breaker"):
        cqrs.EventHandlerFallback(EmailInvoice, QueueInvoice, circuit_breaker=breaker)


def test_fallback_accepts_any_circuit_breaker_implementation() -> None:
    binding = cqrs.RequestHandlerFallback(
        LiveRate, CachedRate, failure_exceptions=(OSError,), circuit_breaker=MemoryCircuitBreaker()
    )
    assert binding.failure_exceptions == (OSError,)
    assert isinstance(binding.circuit_breaker, cqrs.CircuitBreaker)
