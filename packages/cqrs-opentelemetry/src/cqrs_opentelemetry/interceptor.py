"""`TracingInterceptor`: spans for every path through cqrs, and the trace context carried in
message headers, so a consumer's work joins the trace of the request that wrote the event."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from opentelemetry import context, propagate, trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from cqrs import correlation
from cqrs.brokers.message import Message
from cqrs.interception import Interceptor, PublishCall, SagaRunCall, SagaStepCall
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
        span = self._tracer.start_span(f"send {type(request).__name__}", context=_continued())
        if span.is_recording():
            span.set_attributes(_request_attributes(request))
        return await _within(span, proceed, request)

    def intercept_stream(
        self, request: Any, proceed: Callable[[Any], AsyncIterator[Any]]
    ) -> AsyncIterator[Any]:
        span = self._tracer.start_span(f"stream {type(request).__name__}", context=_continued())
        if span.is_recording():
            span.set_attributes(_request_attributes(request))
        return _iterate_within(span, proceed(request), "cqrs.stream.items")

    def intercept_saga(
        self, saga: SagaRunCall, proceed: Callable[[SagaRunCall], AsyncIterator[Any]]
    ) -> AsyncIterator[Any]:
        # A recovered saga continues the trace of the run that created it.
        parent = _continued(saga.trace if saga.recovering else None)
        span = self._tracer.start_span(f"saga {saga.saga_name}", context=parent)
        if span.is_recording():
            span.set_attributes(
                {
                    attr.SAGA_NAME: saga.saga_name,
                    attr.SAGA_ID: str(saga.saga_id),
                    attr.SAGA_RECOVERING: saga.recovering,
                }
            )
        return _iterate_within(span, proceed(saga), "cqrs.saga.steps")

    async def intercept_event(
        self, event: Any, handler: type, proceed: Callable[[Any], Awaitable[Sequence[Any]]]
    ) -> Sequence[Any]:
        event_type = type(event).__name__
        span = self._tracer.start_span(f"handle {event_type}", context=_continued())
        if span.is_recording():
            span.set_attribute(attr.EVENT_TYPE, event_type)
            span.set_attribute(attr.HANDLER, handler.__qualname__)
            event_id = getattr(event, "event_id", None)
            if event_id is not None:
                span.set_attribute(attr.MESSAGE_ID, str(event_id))
        result: Sequence[Any] = await _within(span, proceed, event)
        return result

    async def intercept_saga_step(
        self, step: SagaStepCall, proceed: Callable[[], Awaitable[Any]]
    ) -> Any:
        # A recovered saga continues the trace of the run that created it.
        parent = _continued(step.trace if step.recovering else None)
        span = self._tracer.start_span(
            f"saga {step.saga_name} {step.action} {step.step_name}", context=parent
        )
        if span.is_recording():
            span.set_attributes(
                {
                    attr.SAGA_NAME: step.saga_name,
                    attr.SAGA_ID: str(step.saga_id),
                    attr.SAGA_STEP: step.step_name,
                    attr.SAGA_ACTION: step.action,
                    attr.SAGA_RECOVERING: step.recovering,
                }
            )
        return await _within(span, lambda _: proceed(), None)

    def on_saga_created(self, saga_name: str, saga_id: uuid.UUID, headers: dict[str, str]) -> None:
        propagate.inject(headers)

    def on_outbox_add(self, event: Any, headers: dict[str, str]) -> None:
        span = self._tracer.start_span(
            f"create {event.topic}", context=_continued(), kind=SpanKind.PRODUCER
        )
        if not span.get_span_context().is_valid:
            return
        if span.is_recording():
            span.set_attributes(
                {
                    attr.OPERATION_TYPE: "create",
                    attr.OPERATION_NAME: "outbox add",
                    attr.DESTINATION: event.topic,
                    attr.MESSAGE_ID: str(event.event_id),
                    attr.EVENT_TYPE: event.event_name,
                }
            )
            correlation_id = event.correlation_id or correlation.current_correlation_id()
            if correlation_id is not None:
                span.set_attribute(attr.CONVERSATION_ID, correlation_id)
        propagate.inject(headers, context=trace.set_span_in_context(span))
        span.end()

    async def intercept_publish(
        self, call: PublishCall, proceed: Callable[[PublishCall], Awaitable[None]]
    ) -> None:
        messages = call.messages
        topics = {m.topic for m in messages}
        topic = next(iter(topics)) if len(topics) == 1 else None
        in_batch = call.source != "emitter"
        span = self._tracer.start_span(
            f"send {topic}" if topic is not None else "send",
            kind=SpanKind.PRODUCER,
            # a relay's or producer's batch mixes traces: a root linking each creation
            context=context.Context() if in_batch else _continued(),
        )
        if not span.get_span_context().is_valid:
            await proceed(call)
            return
        if span.is_recording():
            span.set_attributes(_publish_attributes(call, topic))
            if in_batch:
                for message in messages:
                    created = _created(message.extra_headers)
                    if created is not None:
                        span.add_link(created)
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        stamped = [
            m if "traceparent" in m.extra_headers else _with_headers(m, carrier) for m in messages
        ]
        await _within(span, proceed, dataclasses.replace(call, messages=stamped))

    def on_relay_batch(self, batch: RelayBatch) -> None:
        """A `relay batch` span from the claim to the settlement, linking the creation context
        of every row it published (recorded once the batch is settled: the relay keeps two
        batches in flight, so it is not the current span of either)."""
        start = int(batch.started * 1e9)
        links = [
            Link(found)
            for found in (_created(row.headers) for row in batch.published)
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
        span = self._tracer.start_span(
            f"process {message.topic}",
            context=propagate.extract(message.headers()),
            kind=SpanKind.CONSUMER,
        )
        if span.is_recording():
            span.set_attributes(
                {
                    attr.OPERATION_TYPE: "process",
                    attr.DESTINATION: message.topic,
                    **_message_attributes(message, None),
                }
            )
            if message.causation_id is not None:
                span.set_attribute(attr.CAUSATION_ID, message.causation_id)

        async def handled(received: Message) -> Any:
            outcome = await proceed(received)
            verdict = getattr(getattr(outcome, "verdict", None), "value", None)
            if verdict is not None and span.is_recording():
                span.set_attribute(attr.CONSUMER_OUTCOME, verdict)
                if verdict == "duplicate":
                    span.add_event("inbox duplicate skipped")
                elif verdict == "dead_letter":
                    reason = getattr(outcome, "reason", None) or ""
                    span.add_event("dead-lettered", {attr.DEAD_LETTER_REASON: reason})
                    span.set_status(Status(StatusCode.ERROR, reason))
            return outcome

        return await _within(span, handled, message)


async def _iterate_within(
    span: trace.Span, items: AsyncIterator[Any], counted: str
) -> AsyncIterator[Any]:
    """`items` with `span` current while each is produced (never across a yield: the consumer
    of the items runs in its own context), the count in attribute `counted`, then the end."""
    in_span = trace.set_span_in_context(span)
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
        span.set_attribute(counted, count)
        span.end()


_T = TypeVar("_T")
_A = TypeVar("_A")


async def _within(span: trace.Span, call: Callable[[_A], Awaitable[_T]], argument: _A) -> _T:
    """`call(argument)` with `span` current, recording its failure, then end the span. A span of
    a no-op tracer (an invalid context: nothing to record or propagate) costs no more."""
    if not span.get_span_context().is_valid:
        return await call(argument)
    token = context.attach(trace.set_span_in_context(span))
    try:
        return await call(argument)
    except BaseException as error:
        _failed(span, error)
        raise
    finally:
        context.detach(token)
        span.end()


def _continued(stored: Mapping[str, str] | None = None) -> context.Context | None:
    """The parent of a new span: the current span's context (`None`) when there is one, else
    the trace the work being continued was started in: `stored` headers, or those of the
    current correlation scope (a recovered saga's stored trace)."""
    if trace.get_current_span().get_span_context().is_valid:
        return None
    headers = stored or correlation.current_headers()
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


def _created(headers: Mapping[str, str] | None) -> trace.SpanContext | None:
    """The creation context a message's or a row's headers carry (its W3C `traceparent`),
    parsed directly: a relay links hundreds of them per batch."""
    traceparent = headers.get("traceparent") if headers else None
    if traceparent is None:
        return None
    parts = traceparent.split("-")
    if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        found = trace.SpanContext(
            int(parts[1], 16),
            int(parts[2], 16),
            is_remote=True,
            trace_flags=trace.TraceFlags(int(parts[3][:2], 16) & 0xFF),
        )
    except ValueError:
        return None
    return found if found.is_valid else None


def _publish_attributes(call: PublishCall, topic: str | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        attr.OPERATION_TYPE: "send",
        attr.OPERATION_NAME: f"{call.source} publish",
    }
    if call.system is not None:
        attributes[attr.SYSTEM] = call.system
    if topic is not None:
        attributes[attr.DESTINATION] = topic
    if len(call.messages) == 1:
        attributes.update(_message_attributes(call.messages[0], call.system))
    else:
        attributes[attr.MESSAGE_COUNT] = len(call.messages)
    return attributes


def _with_headers(message: Message, headers: Mapping[str, str]) -> Message:
    if not headers:
        return message
    return dataclasses.replace(message, extra_headers={**message.extra_headers, **headers})


def _failed(span: trace.Span, error: BaseException) -> None:
    if isinstance(error, Exception):
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
