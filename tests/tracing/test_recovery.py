"""The trace survives crashes: a relay SIGKILLed mid-run and a saga SIGKILLed mid-step.

Events keep the trace context they were written with (in the outbox row, in the saga's stored
trace), so what a second relay publishes, and what `cqrs saga recover` runs, still joins the
trace of the request that started it. PostgreSQL and RabbitMQ are the real services; the
processes that die are real processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import propagate
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import cqrs
from cqrs.consumers.dispatcher import MessageDispatcher
from cqrs.events.bootstrap import bootstrap as events_bootstrap
from cqrs.saga import SagaStatus
from cqrs.testing._support.rabbitmq import delete_queues
from cqrs.testing._support.services import require_service
from cqrs_rabbitmq import RabbitMQEventConsumer
from cqrs_sqla import SqlAlchemyOutboxedEventRepository, SqlAlchemySagaStorage

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import trace_app  # noqa: E402

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.slow]

INSTRUMENT = Path(sys.executable).with_name("opentelemetry-instrument")
CQRS = [sys.executable, "-m", "cqrs"]
EVENTS = 3000


def _env(**extra: str) -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": f"{HERE}{os.pathsep}{path}" if path else str(HERE),
        **extra,
    }


def _traced_env(name: str) -> dict[str, str]:
    return _env(
        OTEL_SERVICE_NAME=name,
        OTEL_TRACES_EXPORTER="console",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_BSP_SCHEDULE_DELAY="200",
    )


class Changed(cqrs.NotificationEvent[dict[str, int]]):
    pass


@contextlib.asynccontextmanager
async def consuming(topic: str, seen: trace_app.Received) -> AsyncIterator[None]:
    """A RabbitMQ consumer of `topic` in this process, keeping what it received."""

    class Noted(cqrs.EventHandler[Changed]):
        async def handle(self, event: Changed) -> None:
            return None

    queue = trace_app.unique("queue")
    consumer = RabbitMQEventConsumer(
        require_service("rabbitmq").url,
        queue,
        [topic],
        MessageDispatcher(
            events_bootstrap(events_mapper=lambda m: m.bind(Changed, Noted)),
            {"Changed": Changed, "ReserveDone": Changed, "ShipDone": Changed},
            interceptors=[seen],
        ),
        prefetch=200,
    )
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(consumer.wait_started(), 30)
        yield
    finally:
        consumer.stop()
        await task
        await delete_queues(require_service("rabbitmq").url, queue, consumer.dead_letter_queue)


async def wait_for(condition: Any, seconds: float, what: str, step: float = 0.01) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(step)


def relay_process(outbox: str, *, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *CQRS,
            "relay",
            "--outbox",
            outbox,
            "--broker",
            require_service("rabbitmq").url,
            "--batch-size",
            "10",
            "--lease",
            "2",
            "--progress",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env or _env(),
    )


def processes_by_message(finished: list[ReadableSpan], topic: str) -> dict[str, ReadableSpan]:
    spans = [s for s in finished if s.name == f"process {topic}"]
    return {str((s.attributes or {})["messaging.message.id"]): s for s in spans}


@pytest.mark.timeout(180)
async def test_after_a_relay_is_killed_mid_run_every_event_still_joins_the_request_trace(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    base = require_service("postgres").url
    table = trace_app.unique("killed")
    url = f"{base}?table={table}"
    topic = table.replace("_", ".")
    outbox = SqlAlchemyOutboxedEventRepository.from_url(url)
    await outbox.create_schema()
    seen = trace_app.Received()
    try:
        with (
            cqrs.correlation.scope(correlation_id="bulk-import-1"),
            provider.get_tracer("e2e").start_as_current_span("import request") as request,
        ):
            async with outbox as session:
                for n in range(EVENTS):
                    outbox.add(
                        session,
                        Changed(
                            event_name="Changed",
                            topic=topic,
                            payload={"n": n},
                            partition_key=f"k{n % 50}",
                        ),
                    )
                await outbox.commit(session)
        async with consuming(topic, seen):
            first = relay_process(url)
            try:
                await wait_for(lambda: len(seen.messages) >= 100, 60, "the first deliveries")
                first.send_signal(signal.SIGKILL)
            finally:
                if first.poll() is None:
                    first.kill()
                first.communicate(timeout=10)
            assert first.returncode == -signal.SIGKILL
            pending_at_kill = (await outbox.stats()).pending
            assert pending_at_kill > 0, "the relay was killed before it had published everything"
            second = relay_process(url)
            try:
                ids = lambda: {m.message_id for m in seen.messages}  # noqa: E731
                await wait_for(lambda: len(ids()) == EVENTS, 120, "every event", step=0.1)
            finally:
                second.send_signal(signal.SIGTERM)
                second.communicate(timeout=30)
    finally:
        await outbox.drop_schema()
        await outbox.close()

    finished = list(exporter.get_finished_spans())
    creations = {
        str((s.attributes or {})["messaging.message.id"]): s
        for s in finished
        if s.name == f"create {topic}"
    }
    assert len(creations) == EVENTS
    processed = processes_by_message(finished, topic)
    assert set(processed) == set(creations)
    trace_id = request.get_span_context().trace_id
    for message_id, process in processed.items():
        assert process.context.trace_id == trace_id
        assert process.parent is not None
        assert process.parent.span_id == creations[message_id].context.span_id
    assert {m.correlation_id for m in seen.messages} == {"bulk-import-1"}


@pytest.mark.timeout(180)
async def test_a_saga_recovered_by_the_cli_continues_the_trace_that_started_it(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    suffix = uuid.uuid4().hex[:10]
    url = (
        f"{require_service('postgres').url}?table=saga_trace_{suffix}&outbox=outbox_trace_{suffix}"
    )
    storage = SqlAlchemySagaStorage.from_url(url)
    assert storage.outbox is not None
    outbox = storage.outbox
    await outbox.create_schema()
    await storage.create_schema()
    topic = f"cqrs.trace.{suffix}"
    seen = trace_app.Received()
    saga_id = uuid.uuid4()
    try:
        with provider.get_tracer("e2e").start_as_current_span("checkout") as checkout:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
        trace_id = checkout.get_span_context().trace_id
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE / "saga_app.py"),
            url,
            str(saga_id),
            topic,
            carrier["traceparent"],
            stderr=asyncio.subprocess.PIPE,
            env=_env(),
        )
        _, stderr = await asyncio.wait_for(child.communicate(), 60)
        assert child.returncode == -signal.SIGKILL, stderr.decode()
        async with asyncio.timeout(60):
            while saga_id not in await storage.find_interrupted(stale_after=0):
                await asyncio.sleep(0.05)
        killed = await storage.load_saga_state(saga_id)
        assert killed is not None
        assert killed.trace is not None
        assert killed.trace["traceparent"].split("-")[1] == f"{trace_id:032x}"

        recovered = subprocess.run(
            [
                str(INSTRUMENT),
                *CQRS,
                "saga",
                "recover",
                "--app",
                "saga_app:sagas",
                "--storage",
                url,
                "--stale-after",
                "0",
                "--once",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=_traced_env("saga-recovery"),
        )
        assert recovered.returncode == 0, recovered.stderr
        state = await storage.load_saga_state(saga_id)
        assert state is not None
        assert state.status is SagaStatus.COMPLETED

        async with consuming(topic, seen):
            relay = relay_process(f"{require_service('postgres').url}?table=outbox_trace_{suffix}")
            try:
                await wait_for(lambda: len(seen.messages) >= 2, 60, "both step events")
            finally:
                relay.send_signal(signal.SIGTERM)
                relay.communicate(timeout=30)
    finally:
        await storage.drop_schema()
        await outbox.drop_schema()
        await storage.close()

    original = trace_app.hex_id(trace_id, 32)
    printed = trace_app.console_spans(recovered.stdout)
    (saga,) = [s for s in printed if s["name"] == "saga DeliverySaga"]
    assert saga["context"]["trace_id"] == original
    assert saga["parent_id"] is not None, "the run that created the saga is its parent"
    steps = {s["name"]: s for s in printed if s["name"].startswith("saga DeliverySaga ")}
    assert set(steps) == {"saga DeliverySaga act Pack", "saga DeliverySaga act Ship"}
    for step in [saga, *steps.values()]:
        assert step["context"]["trace_id"] == original
        assert step["attributes"]["cqrs.saga.recovering"] is True
        assert step["attributes"]["cqrs.saga.id"] == str(saga_id)
    for step in steps.values():
        assert step["parent_id"] == saga["context"]["span_id"]
    (create,) = [s for s in printed if s["name"] == f"create {topic}"]
    assert create["context"]["trace_id"] == original
    # recorded after its step, in the recovered saga's run
    assert create["parent_id"] == saga["context"]["span_id"]

    processed = [s for s in exporter.get_finished_spans() if s.name == f"process {topic}"]
    assert sorted(m.message_name for m in seen.messages) == ["ReserveDone", "ShipDone"]
    assert len(processed) == 2
    assert {s.context.trace_id for s in processed} == {trace_id}
    assert len({m.correlation_id for m in seen.messages}) == 1
    assert {m.causation_id for m in seen.messages} == {str(saga_id)}
