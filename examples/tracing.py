"""One trace from a command to a remote consumer and back, printed as an indented tree.

Run it with `uv run python examples/tracing.py` (everything in memory, no server). The
OpenTelemetry SDK records the spans `CqrsInstrumentor` makes while `PlaceOrder` writes
`OrderPlaced` to the outbox, a relay publishes it, a consumer's handler sends `ShipOrder`, whose
handler writes `ShipmentScheduled` to the outbox, and the relay and a consumer deliver that too.
The tree shows each span under its parent and, for the relay's spans, which creations they link
to; every message carries the request's correlation id.
"""

# expect: send PlaceOrder  [internal]
# expect:   create orders  [producer, outbox add]
# expect:     process orders  [consumer]
# expect:       handle OrderPlaced  [internal]
# expect:         send ShipOrder  [internal]
# expect:           create shipments  [producer, outbox add]
# expect:             process shipments  [consumer]
# expect:               handle ShipmentScheduled  [internal]
# expect: relay batch  [producer, links to: create orders]
# expect: send orders  [producer, links to: create orders]
# expect: relay batch  [producer, links to: create shipments]
# expect: one trace: True; correlation ids on the messages: 1

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

import cqrs
from cqrs.brokers.memory import MemoryMessageBroker
from cqrs.consumers.dispatcher import MessageDispatcher
from cqrs.events.bootstrap import bootstrap as events_bootstrap
from cqrs.outbox.memory import MemoryOutboxedEventRepository
from cqrs.requests import bootstrap
from cqrs_opentelemetry import CqrsInstrumentor


class TreeExporter(SpanExporter):
    """Keeps finished spans; `print_tree` shows them nested by parent, with their links."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS

    def print_tree(self) -> None:
        by_id = {s.context.span_id: s for s in self.spans}
        children: dict[int | None, list[ReadableSpan]] = {}
        for span in sorted(self.spans, key=lambda s: s.start_time or 0):
            parent = span.parent.span_id if span.parent is not None else None
            children.setdefault(parent if parent in by_id else None, []).append(span)

        def show(span: ReadableSpan, depth: int) -> None:
            notes = [span.kind.name.lower()]
            operation = (span.attributes or {}).get("messaging.operation.name")
            if operation == "outbox add":
                notes.append("outbox add")
            if span.links:
                linked = sorted({by_id[link.context.span_id].name for link in span.links})
                notes.append("links to: " + ", ".join(linked))
            print(f"{'  ' * depth}{span.name}  [{', '.join(notes)}]")
            for child in children.get(span.context.span_id, []):
                show(child, depth + 1)

        for root in children.get(None, []):
            show(root, 0)


class OrderPlaced(cqrs.NotificationEvent[dict[str, str]]):
    pass


class ShipmentScheduled(cqrs.NotificationEvent[dict[str, str]]):
    pass


class PlaceOrder(cqrs.Request):
    order_id: str


class ShipOrder(cqrs.Request):
    order_id: str


outbox = MemoryOutboxedEventRepository()


class PlaceOrderHandler(cqrs.RequestHandler[PlaceOrder, None]):
    async def handle(self, request: PlaceOrder) -> None:
        async with outbox as session:
            outbox.add(
                session,
                OrderPlaced(
                    event_name="OrderPlaced", topic="orders", payload={"id": request.order_id}
                ),
            )
            await outbox.commit(session)


class ShipOrderHandler(cqrs.RequestHandler[ShipOrder, None]):
    async def handle(self, request: ShipOrder) -> None:
        async with outbox as session:
            outbox.add(
                session,
                ShipmentScheduled(
                    event_name="ShipmentScheduled",
                    topic="shipments",
                    payload={"id": request.order_id},
                ),
            )
            await outbox.commit(session)


def commands_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(PlaceOrder, PlaceOrderHandler)
    mapper.bind(ShipOrder, ShipOrderHandler)


commands = bootstrap.bootstrap(commands_mapper=commands_mapper)


class ShipWhenPlaced(cqrs.EventHandler[OrderPlaced]):
    async def handle(self, event: OrderPlaced) -> None:
        await commands.send(ShipOrder(order_id=event.payload["id"]))


class Scheduled(cqrs.EventHandler[ShipmentScheduled]):
    async def handle(self, event: ShipmentScheduled) -> None:
        return None


def events_mapper(mapper: cqrs.EventMap) -> None:
    mapper.bind(OrderPlaced, ShipWhenPlaced)
    mapper.bind(ShipmentScheduled, Scheduled)


async def main() -> None:
    exporter = TreeExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    CqrsInstrumentor().instrument(tracer_provider=provider)

    broker = MemoryMessageBroker()
    consumer = MessageDispatcher(
        events_bootstrap(events_mapper=events_mapper),
        {"OrderPlaced": OrderPlaced, "ShipmentScheduled": ShipmentScheduled},
    )
    relay = cqrs.OutboxRelay(outbox, broker)

    await commands.send(PlaceOrder(order_id="o-1"))
    await relay.run_until_idle()  # publishes OrderPlaced
    for message in broker.messages["orders"]:
        await consumer.dispatch(message)  # sends ShipOrder: ShipmentScheduled into the outbox
    await relay.run_until_idle()
    for message in broker.messages["shipments"]:
        await consumer.dispatch(message)

    exporter.print_tree()
    traces = {s.context.trace_id for s in exporter.spans if s.name != "relay batch" and s.parent}
    messages = [*broker.messages["orders"], *broker.messages["shipments"]]
    correlations = {m.correlation_id for m in messages}
    print(f"one trace: {len(traces) == 1}; correlation ids on the messages: {len(correlations)}")
    CqrsInstrumentor().uninstrument()


if __name__ == "__main__":
    asyncio.run(main())
