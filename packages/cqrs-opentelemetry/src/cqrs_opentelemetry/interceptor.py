"""`TracingInterceptor`: spans for every path through cqrs, and the trace context carried in
message headers, so a consumer's work joins the trace of the request that wrote the event."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from cqrs import correlation
from cqrs.brokers.message import Message
from cqrs.interception import Interceptor, PublishCall, SagaStepCall
from cqrs.outbox.relay import RelayBatch
from cqrs_opentelemetry import attributes as attr

__all__ = ["TracingInterceptor"]

_INSTRUMENTATION = "cqrs_opentelemetry"


class TracingInterceptor(Interceptor):
    """Spans for sends, streams, event handlers, saga steps, outbox writes, publishes and
    consumed messages, named and attributed per the OpenTelemetry messaging conventions.

    An event written to an outbox gets a `create` span whose context is stored with the row
    (`traceparent`, `tracestate`, `baggage`); the relay's `send` span links to those contexts
    (a batch mixes traces), and the consumer's `process` span is their child, so one trace runs
    from the request to the remote handler. `CqrsInstrumentor` registers one process-wide.
    """

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        from cqrs_opentelemetry import __version__

        self._tracer = trace.get_tracer(
            _INSTRUMENTATION, __version__, tracer_provider=tracer_provider
        )

    async def intercept_request(
        self, request: Any, proceed: Callable[[Any], Awaitable[Any]]
    ) -> Any:
        name = type(request).__name__
        with self._tracer.start_as_current_span(
            f"send {name}", context=_continued(), attributes=_request_attributes(request)
        ):
            return await proceed(request)

    async def intercept_stream(
        self, request: Any, proceed: Callable[[Any], AsyncIterator[Any]]
    ) -> AsyncIterator[Any]:
        span = self._tracer.start_span(
            f"stream {type(request).__name__}", attributes=_request_attributes(request)
        )
        in_span = trace.set_span_in_context(span)
        items = proceed(request)
        count = 0
        try:
            while True:
                token = context.attach(in_span)
                try:
                    item = await anext(items)
                except StopAsyncIteration:
                    break
                finally:
                    context.detach(token)
                count += 1
                yield item
        except BaseException as error:
            _failed(span, error)
            raise
        finally:
            span.set_attribute("cqrs.stream.items", count)
            span.end()

    async def intercept_event(
        self, event: Any, handler: type, proceed: Callable[[Any], Awaitable[Sequence[Any]]]
    ) -> Sequence[Any]:
        event_type = type(event).__name__
        attributes: dict[str, Any] = {
            attr.EVENT_TYPE: event_type,
            attr.HANDLER: handler.__qualname__,
        }
        event_id = getattr(event, "event_id", None)
        if event_id is not None:
            attributes[attr.MESSAGE_ID] = str(event_id)
        with self._tracer.start_as_current_span(
            f"handle {event_type}", context=_continued(), attributes=attributes
        ):
            return await proceed(event)

    async def intercept_saga_step(
        self, step: SagaStepCall, proceed: Callable[[], Awaitable[Any]]
    ) -> Any:
        # A recovered saga continues the trace of the run that created it.
        parent = propagate.extract(step.trace) if step.recovering and step.trace else _continued()
        with self._tracer.start_as_current_span(
            f"saga {step.saga_name} {step.action} {step.step_name}",
            context=parent,
            attributes={
                attr.SAGA_NAME: step.saga_name,
                attr.SAGA_ID: str(step.saga_id),
                attr.SAGA_STEP: step.step_name,
                attr.SAGA_ACTION: step.action,
                attr.SAGA_RECOVERING: step.recovering,
            },
        ):
            return await proceed()

    def on_saga_created(self, saga_name: str, saga_id: uuid.UUID, headers: dict[str, str]) -> None:
        propagate.inject(headers)

    def on_outbox_add(self, event: Any, headers: dict[str, str]) -> None:
        attributes: dict[str, Any] = {
            attr.OPERATION_TYPE: "create",
            attr.OPERATION_NAME: "outbox add",
            attr.DESTINATION: event.topic,
            attr.MESSAGE_ID: str(event.event_id),
            attr.EVENT_TYPE: event.event_name,
        }
        correlation_id = event.correlation_id or correlation.current_correlation_id()
        if correlation_id is not None:
            attributes[attr.CONVERSATION_ID] = correlation_id
        span = self._tracer.start_span(
            f"create {event.topic}",
            context=_continued(),
            kind=SpanKind.PRODUCER,
            attributes=attributes,
        )
        propagate.inject(headers, context=trace.set_span_in_context(span))
        span.end()

    async def intercept_publish(
        self, call: PublishCall, proceed: Callable[[PublishCall], Awaitable[None]]
    ) -> None:
        messages = call.messages
        topics = {m.topic for m in messages}
        topic = next(iter(topics)) if len(topics) == 1 else None
        attributes: dict[str, Any] = {
            attr.OPERATION_TYPE: "send",
            attr.OPERATION_NAME: f"{call.source} publish",
        }
        if call.system is not None:
            attributes[attr.SYSTEM] = call.system
        if topic is not None:
            attributes[attr.DESTINATION] = topic
        if len(messages) == 1:
            attributes.update(_message_attributes(messages[0], call.system))
        else:
            attributes[attr.MESSAGE_COUNT] = len(messages)
        links = [
            Link(found)
            for found in (_carried_span(m) for m in messages)
            if found is not None and found.is_valid
        ]
        in_batch = call.source != "emitter"
        with self._tracer.start_as_current_span(
            f"send {topic}" if topic is not None else "send",
            kind=SpanKind.PRODUCER,
            attributes=attributes,
            links=links if in_batch else None,
            context=context.Context() if in_batch and links else _continued(),
        ):
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            stamped = [
                m if _traceparent(m) is not None else _with_headers(m, carrier) for m in messages
            ]
            await proceed(dataclasses.replace(call, messages=stamped))

    def on_relay_batch(self, batch: RelayBatch) -> None:
        """A `relay batch` span from the claim to the settlement, linking the creation context
        of every row it published (recorded once the batch is settled: the relay keeps two
        batches in flight, so it is not the current span of either)."""
        start = int(batch.started * 1e9)
        links = [
            Link(found)
            for found in (_stored_span(row.headers) for row in batch.published)
            if found is not None
        ]
        span = self._tracer.start_span(
            "relay batch",
            context=context.Context(),
            kind=SpanKind.PRODUCER,
            links=links,
            start_time=start,
            attributes={
                attr.OPERATION_TYPE: "send",
                attr.OPERATION_NAME: "relay batch",
                attr.MESSAGE_COUNT: batch.claimed,
                "cqrs.relay.worker": batch.worker_id,
                "cqrs.relay.published": len(batch.published),
                "cqrs.relay.retried": len(batch.retried),
                "cqrs.relay.dead_lettered": len(batch.dead_lettered),
                "cqrs.relay.released": batch.released + batch.deferred,
            },
        )
        for row in batch.dead_lettered:
            span.add_event(
                "dead-lettered",
                {attr.MESSAGE_ID: str(row.event_id), attr.DESTINATION: row.topic},
            )
        span.end(end_time=start + int(batch.seconds * 1e9))

    async def intercept_consume(
        self, message: Message, proceed: Callable[[Message], Awaitable[Any]]
    ) -> Any:
        parent = propagate.extract(message.headers())
        attributes: dict[str, Any] = {
            attr.OPERATION_TYPE: "process",
            attr.DESTINATION: message.topic,
            **_message_attributes(message, None),
        }
        if message.causation_id is not None:
            attributes[attr.CAUSATION_ID] = message.causation_id
        with self._tracer.start_as_current_span(
            f"process {message.topic}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        ) as span:
            outcome = await proceed(message)
            verdict = getattr(getattr(outcome, "verdict", None), "value", None)
            if verdict is not None:
                span.set_attribute(attr.CONSUMER_OUTCOME, verdict)
            if verdict == "duplicate":
                span.add_event("inbox duplicate skipped")
            elif verdict == "dead_letter":
                reason = getattr(outcome, "reason", None) or ""
                span.add_event("dead-lettered", {attr.DEAD_LETTER_REASON: reason})
                span.set_status(Status(StatusCode.ERROR, reason))
            return outcome


def _continued() -> context.Context | None:
    """The parent of a new span: the current span's context (`None`) when there is one, else
    the trace the work being continued was started in (a recovered saga's stored trace)."""
    if trace.get_current_span().get_span_context().is_valid:
        return None
    headers = correlation.current_headers()
    return propagate.extract(headers) if headers else None


def _request_attributes(request: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {attr.REQUEST_TYPE: type(request).__qualname__}
    request_id = correlation.current_message_id()
    if request_id is not None:
        attributes[attr.REQUEST_ID] = request_id
        attributes[attr.CONVERSATION_ID] = correlation.current_correlation_id()
    causation_id = correlation.current_causation_id()
    if causation_id is not None:
        attributes[attr.CAUSATION_ID] = causation_id
    return attributes


def _message_attributes(message: Message, system: str | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {attr.MESSAGE_ID: str(message.message_id)}
    if message.correlation_id is not None:
        attributes[attr.CONVERSATION_ID] = message.correlation_id
    if message.key is not None and system == "kafka":
        attributes[attr.KAFKA_KEY] = message.key
    if system == "rabbitmq":
        attributes[attr.RABBITMQ_ROUTING_KEY] = message.topic
    return attributes


def _traceparent(message: Message) -> str | None:
    return message.extra_headers.get("traceparent")


def _carried_span(message: Message) -> trace.SpanContext | None:
    """The span context a message's headers carry (its creation context), if any."""
    if _traceparent(message) is None:
        return None
    return trace.get_current_span(propagate.extract(message.extra_headers)).get_span_context()


def _stored_span(headers: Mapping[str, str] | None) -> trace.SpanContext | None:
    """The valid span context stored with an outbox row, if any."""
    if not headers or "traceparent" not in headers:
        return None
    found = trace.get_current_span(propagate.extract(headers)).get_span_context()
    return found if found.is_valid else None


def _with_headers(message: Message, headers: Mapping[str, str]) -> Message:
    if not headers:
        return message
    return dataclasses.replace(message, extra_headers={**message.extra_headers, **headers})


def _failed(span: trace.Span, error: BaseException) -> None:
    if isinstance(error, Exception):
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
