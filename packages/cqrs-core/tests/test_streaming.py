"""The streaming mediator: results in order, events dispatched between results, early close."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

import cqrs
from cqrs import BuiltinContainer, MemoryMessageBroker, NotificationEvent
from cqrs.events.map import EventMap
from cqrs.requests.bootstrap import bootstrap_streaming
from cqrs.requests.map import RequestMap


class Import(cqrs.Request):
    rows: int
    fail_at: int | None = None


class Progress(cqrs.Response):
    row: int


class RowImported(cqrs.DomainEvent):
    row: int


class ImportDone(cqrs.DomainEvent):
    rows: int


class RowPayload(cqrs.Response):
    row: int


RowPublished = NotificationEvent[RowPayload]


class Trace:
    """What happened, in order, shared by handlers and the consuming test."""

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.cleared = 0
        self.closed = False


class ImportHandler(cqrs.StreamingRequestHandler[Import, Progress]):
    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self._events: list[Any] = []

    def clear_events(self) -> None:
        self.trace.cleared += 1
        super().clear_events()

    async def handle(self, request: Import) -> AsyncIterator[Progress]:
        try:
            for row in range(1, request.rows + 1):
                if row == request.fail_at:
                    raise RuntimeError(f"row {row} is malformed")
                self.trace.steps.append(f"produce {row}")
                self._events.append(RowImported(row=row))
                yield Progress(row=row)
            self._events.append(ImportDone(rows=request.rows))
        finally:
            self.trace.closed = True


class OnRow(cqrs.EventHandler[RowImported]):
    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self._events: list[Any] = []

    async def handle(self, event: RowImported) -> None:
        self.trace.steps.append(f"event {event.row}")
        self._events.append(
            RowPublished(event_name="row", topic="rows", payload=RowPayload(row=event.row))
        )


class OnDone(cqrs.EventHandler[ImportDone]):
    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    async def handle(self, event: ImportDone) -> None:
        self.trace.steps.append(f"done {event.rows}")


class PlainHandler(cqrs.RequestHandler[Import, int]):
    async def handle(self, request: Import) -> int:
        return request.rows


@pytest.fixture
def trace() -> Trace:
    return Trace()


@pytest.fixture
def broker() -> MemoryMessageBroker:
    return MemoryMessageBroker()


@pytest.fixture
def mediator(trace: Trace, broker: MemoryMessageBroker) -> cqrs.StreamingRequestMediator:
    container = BuiltinContainer()
    container.register_instance(Trace, trace)

    def requests(mapper: RequestMap) -> None:
        mapper.bind(Import, ImportHandler)

    def events(mapper: EventMap) -> None:
        mapper.bind(RowImported, OnRow)
        mapper.bind(ImportDone, OnDone)

    return bootstrap_streaming(
        di_container=container,
        commands_mapper=requests,
        domain_events_mapper=events,
        message_broker=broker,
    )


async def collect(stream: AsyncIterator[Progress], into: list[int]) -> None:
    async for progress in stream:
        into.append(progress.row)


def rows_published(broker: MemoryMessageBroker) -> Sequence[str]:
    return [m.payload.decode() for m in broker.messages.get("rows", [])]


async def test_events_are_dispatched_after_each_yield_before_the_result_is_passed_on(
    mediator: cqrs.StreamingRequestMediator, trace: Trace, broker: MemoryMessageBroker
) -> None:
    results = []
    async for progress in mediator.stream(Import(rows=3)):
        trace.steps.append(f"got {progress.row}")
        results.append(progress)
    assert results == [Progress(row=1), Progress(row=2), Progress(row=3)]
    assert trace.steps == [
        "produce 1",
        "event 1",
        "got 1",
        "produce 2",
        "event 2",
        "got 2",
        "produce 3",
        "event 3",
        "got 3",
        "done 3",
    ]
    assert len(rows_published(broker)) == 3
    assert trace.closed


async def test_each_event_is_handled_once_because_events_are_cleared(
    mediator: cqrs.StreamingRequestMediator, trace: Trace
) -> None:
    async for _ in mediator.stream(Import(rows=4)):
        pass
    handled = [step for step in trace.steps if step.startswith("event")]
    assert handled == ["event 1", "event 2", "event 3", "event 4"]
    assert trace.cleared == 5  # after each of the 4 yields, and once for the final events


async def test_closing_the_stream_early_closes_the_handler(
    mediator: cqrs.StreamingRequestMediator, trace: Trace, broker: MemoryMessageBroker
) -> None:
    async with contextlib.aclosing(mediator.stream(Import(rows=10))) as stream:
        async for progress in stream:
            if progress.row == 2:
                break
        closed_inside = trace.closed
    assert not closed_inside
    assert trace.closed
    assert trace.steps == ["produce 1", "event 1", "produce 2", "event 2"]
    assert len(rows_published(broker)) == 2


async def test_handler_failure_mid_stream_propagates_and_closes(
    mediator: cqrs.StreamingRequestMediator, trace: Trace
) -> None:
    received: list[int] = []
    with pytest.raises(RuntimeError, match="row 3 is malformed"):
        await collect(mediator.stream(Import(rows=5, fail_at=3)), received)
    assert received == [1, 2]
    assert trace.closed
    assert "done 5" not in trace.steps


async def test_event_handler_failure_stops_the_stream(trace: Trace) -> None:
    class Exploding(cqrs.EventHandler[RowImported]):
        async def handle(self, event: RowImported) -> None:
            raise ValueError(f"cannot index row {event.row}")

    container = BuiltinContainer()
    container.register_instance(Trace, trace)
    mediator = bootstrap_streaming(
        di_container=container,
        commands_mapper=lambda m: m.bind(Import, ImportHandler),
        domain_events_mapper=lambda m: m.bind(RowImported, Exploding),
    )
    received: list[int] = []
    with pytest.raises(ValueError, match="cannot index row 1"):
        await collect(mediator.stream(Import(rows=3)), received)
    assert received == []
    assert trace.closed


async def test_stream_refuses_a_non_streaming_binding(trace: Trace) -> None:
    mediator = bootstrap_streaming(queries_mapper=lambda m: m.bind(Import, PlainHandler))
    with pytest.raises(TypeError, match="not bound to a StreamingRequestHandler"):
        async for _ in mediator.stream(Import(rows=1)):
            pass


async def test_send_refuses_a_streaming_binding() -> None:
    mediator = cqrs.bootstrap.bootstrap(
        commands_mapper=lambda m: m.bind(Import, ImportHandler),
    )
    with pytest.raises(TypeError, match=r"streaming handler ImportHandler: use .*stream"):
        await mediator.send(Import(rows=1))
