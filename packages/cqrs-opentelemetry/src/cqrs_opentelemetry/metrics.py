"""`MetricsInterceptor`: counts and durations of what relays, consumers and sagas do, through
the OpenTelemetry metrics API (any exporter or reader the application configured)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from opentelemetry import metrics

from cqrs.brokers.message import Message
from cqrs.interception import Interceptor, PublishCall, SagaStepCall
from cqrs.outbox.protocol import OutboxedEvent, OutboxStats
from cqrs.outbox.relay import RelayBatch
from cqrs.saga.models import SagaStatus
from cqrs_opentelemetry import attributes as attr

__all__ = ["INSTRUMENTS", "MetricsInterceptor"]

INSTRUMENTS = {
    "cqrs.messages.published": "messages handed to a broker and confirmed, per destination and "
    "source (relay, producer, emitter)",
    "cqrs.messages.failed": "messages a broker refused (a relay retries them after a backoff)",
    "cqrs.messages.dead_lettered": "messages moved aside for a fault of their own, per "
    "destination and source (relay, consumer)",
    "cqrs.relay.batch.duration": "seconds from a relay's claim of a batch to its settlement",
    "cqrs.outbox.depth": "rows waiting in the outbox: pending (delayed ones included) and leased",
    "cqrs.outbox.lag": "age in seconds of the oldest pending outbox row",
    "cqrs.consumer.messages": "messages a consumer finished, per destination and outcome "
    "(handled, duplicate, dead_letter, deferred: left for redelivery)",
    "cqrs.consumer.process.duration": "seconds a consumer spent on one message",
    "cqrs.saga.finished": "sagas that reached a terminal status, per saga and status",
    "cqrs.saga.step.duration": "seconds a saga step's act or compensate took",
}
"""Every instrument we record, with what it counts (the docs' metrics table reads this)."""

_SOURCE = "cqrs.source"
_STATUS = "cqrs.saga.status"
_OUTCOME = "cqrs.outcome"


class MetricsInterceptor(Interceptor):
    """Records `INSTRUMENTS` from the interception points: relay batches, publishes, consumed
    messages, saga steps and finished sagas. `CqrsInstrumentor` registers one process-wide."""

    def __init__(self, meter_provider: metrics.MeterProvider | None = None) -> None:
        from cqrs_opentelemetry import __version__

        meter = metrics.get_meter("cqrs_opentelemetry", __version__, meter_provider=meter_provider)
        self._published = meter.create_counter("cqrs.messages.published", "{message}")
        self._failed = meter.create_counter("cqrs.messages.failed", "{message}")
        self._dead = meter.create_counter("cqrs.messages.dead_lettered", "{message}")
        self._batch = meter.create_histogram("cqrs.relay.batch.duration", "s")
        self._depth = meter.create_gauge("cqrs.outbox.depth", "{row}")
        self._lag = meter.create_gauge("cqrs.outbox.lag", "s")
        self._consumed = meter.create_counter("cqrs.consumer.messages", "{message}")
        self._process = meter.create_histogram("cqrs.consumer.process.duration", "s")
        self._sagas = meter.create_counter("cqrs.saga.finished", "{saga}")
        self._step = meter.create_histogram("cqrs.saga.step.duration", "s")

    def on_relay_batch(self, batch: RelayBatch) -> None:
        self._batch.record(batch.seconds)
        for counter, rows in (
            (self._published, batch.published),
            (self._failed, batch.retried),
            (self._dead, batch.dead_lettered),
        ):
            _add_per_topic(counter, rows, "relay")

    async def intercept_publish(
        self, call: PublishCall, proceed: Callable[[PublishCall], Awaitable[None]]
    ) -> None:
        if call.source == "relay":
            await proceed(call)  # counted exactly, per row, by on_relay_batch
            return
        try:
            await proceed(call)
        except Exception:
            _add_per_topic(self._failed, call.messages, call.source)
            raise
        _add_per_topic(self._published, call.messages, call.source)

    async def intercept_consume(
        self, message: Message, proceed: Callable[[Message], Awaitable[Any]]
    ) -> Any:
        started = time.perf_counter()
        outcome = await proceed(message)
        verdict = getattr(getattr(outcome, "verdict", None), "value", "unknown")
        labels = {attr.DESTINATION: message.topic, _OUTCOME: verdict}
        self._process.record(time.perf_counter() - started, labels)
        self._consumed.add(1, labels)
        if verdict == "dead_letter":
            self._dead.add(1, {attr.DESTINATION: message.topic, _SOURCE: "consumer"})
        return outcome

    async def intercept_saga_step(
        self, step: SagaStepCall, proceed: Callable[[], Awaitable[Any]]
    ) -> Any:
        labels: dict[str, Any] = {
            attr.SAGA_NAME: step.saga_name,
            attr.SAGA_STEP: step.step_name,
            attr.SAGA_ACTION: step.action,
        }
        started = time.perf_counter()
        try:
            result = await proceed()
        except BaseException:
            self._step.record(time.perf_counter() - started, {**labels, _OUTCOME: "error"})
            raise
        self._step.record(time.perf_counter() - started, {**labels, _OUTCOME: "ok"})
        return result

    def on_saga_finished(
        self, saga_name: str, saga_id: uuid.UUID, status: SagaStatus, recovering: bool
    ) -> None:
        self._sagas.add(
            1, {attr.SAGA_NAME: saga_name, _STATUS: status.value, attr.SAGA_RECOVERING: recovering}
        )

    def on_outbox_stats(self, stats: OutboxStats) -> None:
        self._depth.set(stats.pending + stats.leased)
        self._lag.set(0.0 if stats.lag is None else stats.lag.total_seconds())


def _add_per_topic(
    counter: Any, items: Sequence[Message] | Sequence[OutboxedEvent], source: str
) -> None:
    """Add the messages or rows to `counter`, one data point per destination."""
    for topic, count in Counter(item.topic for item in items).items():
        counter.add(count, {attr.DESTINATION: topic, _SOURCE: source})
