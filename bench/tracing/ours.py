"""The tracing benchmark's worker: sends and relayed events, with or without instrumentation.

`python bench/tracing/ours.py MODE SENDS EVENTS` prints one JSON line: µs per send (a query, a
command emitting one domain event, a command writing one event to an outbox) and µs per relayed
event (memory outbox -> memory broker with `send_many`, batches of 500), in MODE:
`none` (cqrs-opentelemetry never imported), `noop` (instrumented with the API's no-op tracer
and meter: no SDK configured) or `sdk` (the SDK with a batch span processor whose exporter drops
what it gets, and a meter provider with no reader).
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import cqrs
from cqrs.brokers.memory import MemoryMessageBroker
from cqrs.outbox.memory import MemoryOutboxedEventRepository
from cqrs.requests.bootstrap import bootstrap


class GetUser(cqrs.Request):
    user_id: str


class UserView(cqrs.Response):
    user_id: str


class RenameUser(cqrs.Request):
    user_id: str


class UserRenamed(cqrs.DomainEvent):
    user_id: str


class Registered(cqrs.NotificationEvent[dict[str, str]]):
    pass


class Register(cqrs.Request):
    user_id: str


OUTBOX = MemoryOutboxedEventRepository()


class GetUserHandler(cqrs.RequestHandler[GetUser, UserView]):
    async def handle(self, request: GetUser) -> UserView:
        return UserView(user_id=request.user_id)


class RenameUserHandler(cqrs.RequestHandler[RenameUser, None]):
    def __init__(self) -> None:
        self._events: list[cqrs.DomainEvent] = []

    @property
    def events(self) -> list[cqrs.DomainEvent]:
        return self._events

    async def handle(self, request: RenameUser) -> None:
        self._events.append(UserRenamed(user_id=request.user_id))


class UserRenamedHandler(cqrs.EventHandler[UserRenamed]):
    async def handle(self, event: UserRenamed) -> None:
        return None


class RegisterHandler(cqrs.RequestHandler[Register, None]):
    async def handle(self, request: Register) -> None:
        async with OUTBOX as session:
            OUTBOX.add(
                session,
                Registered(event_name="Registered", topic="users", payload={"id": request.user_id}),
            )
            await OUTBOX.commit(session)


class BatchBroker(MemoryMessageBroker):
    """The memory broker with `send_many`, keeping nothing (the relay's cost is measured)."""

    messaging_system = "memory"

    async def send_message(self, message: cqrs.Message) -> None:
        return None

    async def send_many(self, messages: Sequence[cqrs.Message]) -> None:
        return None


def _instrument(mode: str) -> None:
    if mode == "none":
        return
    from cqrs_opentelemetry import CqrsInstrumentor

    if mode == "noop":
        CqrsInstrumentor().instrument()
        return
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Dropping(SpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Dropping(), max_queue_size=65536))
    CqrsInstrumentor().instrument(tracer_provider=provider, meter_provider=MeterProvider())


async def _per_call(call: Callable[[], Awaitable[Any]], n: int, repeats: int = 5) -> float:
    for _ in range(n // 10):
        await call()
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter_ns()
        for _ in range(n):
            await call()
        best = min(best, (time.perf_counter_ns() - start) / n / 1000)
    return best


async def _relay_per_event(events: int) -> float:
    best = float("inf")
    for _ in range(3):
        outbox = MemoryOutboxedEventRepository()
        async with outbox as session:
            for n in range(events):
                outbox.add(
                    session,
                    Registered(
                        event_name="Registered",
                        topic="users",
                        payload={"id": str(n)},
                        partition_key=f"k{n % 1000}",
                    ),
                )
            await outbox.commit(session)
        relay = cqrs.OutboxRelay(outbox, BatchBroker(), batch_size=500)
        gc.collect()
        start = time.perf_counter_ns()
        published = await relay.run_until_idle()
        elapsed = time.perf_counter_ns() - start
        assert published == events == relay.counters.published
        best = min(best, elapsed / events / 1000)
    return best


async def main(mode: str, sends: int, events: int) -> dict[str, Any]:
    _instrument(mode)
    mediator = bootstrap(
        queries_mapper=lambda m: m.bind(GetUser, GetUserHandler),
        commands_mapper=lambda m: (
            m.bind(RenameUser, RenameUserHandler),
            m.bind(Register, RegisterHandler),
        ),
        domain_events_mapper=lambda m: m.bind(UserRenamed, UserRenamedHandler),
    )
    query, command, register = GetUser(user_id="u"), RenameUser(user_id="u"), Register(user_id="u")
    result = {
        "mode": mode,
        "send_query_us": await _per_call(lambda: mediator.send(query), sends),
        "send_command_1_event_us": await _per_call(lambda: mediator.send(command), sends),
        "send_command_outbox_us": await _per_call(lambda: mediator.send(register), sends // 4),
        "relay_per_event_us": await _relay_per_event(events),
        "otel_imported": "opentelemetry" in sys.modules,
    }
    return result


if __name__ == "__main__":
    mode, sends, events = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(asyncio.run(main(mode, sends, events))))
