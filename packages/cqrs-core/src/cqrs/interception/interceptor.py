"""The interceptor: one object that can wrap every path a message takes through cqrs.

Each `intercept_*` method receives what is being handled and `proceed`, the rest of the chain;
it returns what `proceed` returns. The base class passes everything through, so a subclass
overrides only the paths it cares about, and a path nobody overrides costs nothing: the
chains are composed once, from the interceptors that override it.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from cqrs.brokers.message import Message
    from cqrs.outbox.protocol import OutboxStats
    from cqrs.outbox.relay import RelayBatch
    from cqrs.saga.models import SagaStatus

__all__ = ["Interceptor", "PublishCall", "SagaRunCall", "SagaStepCall"]


@dataclasses.dataclass(frozen=True, slots=True)
class SagaStepCall:
    """A saga step about to act or compensate: which saga, which step, on what context."""

    saga_name: str
    saga_id: uuid.UUID
    step_name: str
    step_index: int
    action: Literal["act", "compensate"]
    context: Any
    recovering: bool = False
    """True when a recovery worker resumed the saga."""
    trace: Mapping[str, str] | None = None
    """When recovering: the headers stored when the saga was created (`on_saga_created`),
    so an instrumentation can continue the trace that started it."""


@dataclasses.dataclass(frozen=True, slots=True)
class SagaRunCall:
    """A saga about to run (or, `recovering`, be resumed by a recovery worker)."""

    saga_name: str
    saga_id: uuid.UUID
    context: Any
    recovering: bool = False
    trace: Mapping[str, str] | None = None
    """When recovering: the headers stored when the saga was created (`on_saga_created`)."""


@dataclasses.dataclass(frozen=True, slots=True)
class PublishCall:
    """Messages about to be handed to a broker, and who is sending them."""

    messages: Sequence[Message]
    source: Literal["relay", "producer", "emitter"]
    """`relay`: an outbox relay; `producer`: an `EventProducer`; `emitter`: a notification event
    a mediator (or a saga step, without an outbox) publishes itself."""
    system: str | None = None
    """The broker's messaging system (its `messaging_system` attribute, e.g. `"kafka"` or
    `"rabbitmq"`), when it names one."""


class Interceptor:
    """Wraps requests, streams, event handlers, saga steps, publishes and consumed messages.

    Give interceptors to the bootstraps (`interceptors=`), to `OutboxRelay`, to the saga
    recovery worker and to consumers, or register one process-wide with
    `cqrs.interception.register` (as an instrumentation library does).
    """

    async def intercept_request(
        self, request: Any, proceed: Callable[[Any], Awaitable[Any]]
    ) -> Any:
        """Around `RequestMediator.send`: the request, its handler and its events."""
        return await proceed(request)

    def intercept_stream(
        self, request: Any, proceed: Callable[[Any], AsyncIterator[Any]]
    ) -> AsyncIterator[Any]:
        """Around `StreamingRequestMediator.stream`: return an async iterator over the items
        (write it as an async generator to act before, between and after them)."""
        return proceed(request)

    async def intercept_event(
        self, event: Any, handler: type, proceed: Callable[[Any], Awaitable[Sequence[Any]]]
    ) -> Sequence[Any]:
        """Around one event handler's run (domain events, and events consumed from a broker);
        returns the follow-up events the handler emitted."""
        return await proceed(event)

    def intercept_saga(
        self, saga: SagaRunCall, proceed: Callable[[SagaRunCall], AsyncIterator[Any]]
    ) -> AsyncIterator[Any]:
        """Around a whole saga run, or a recovery's resumption of one: return an async
        iterator over the step results (write it as an async generator); the steps run
        while it is iterated."""
        return proceed(saga)

    async def intercept_saga_step(
        self, step: SagaStepCall, proceed: Callable[[], Awaitable[Any]]
    ) -> Any:
        """Around a saga step's `act` (returns its result) or `compensate` (returns `None`);
        retries of a compensation are one call each."""
        return await proceed()

    async def intercept_publish(
        self, call: PublishCall, proceed: Callable[[PublishCall], Awaitable[None]]
    ) -> None:
        """Around a hand-over of messages to a broker; raising fails the publish (the relay
        then treats it as the broker's error). `proceed` may be given changed messages
        (`dataclasses.replace(call, messages=...)`), for example with more headers."""
        await proceed(call)

    def on_outbox_add(self, event: Any, headers: dict[str, str]) -> None:
        """Called as `event` is staged in an outbox, inside the writer's transaction: entries
        added to `headers` are stored with the row and sent with its message (an
        instrumentation stores its trace context so the consumer joins the writer's trace).
        Only registered interceptors (`cqrs.interception.register`) are called."""

    def on_saga_created(self, saga_name: str, saga_id: uuid.UUID, headers: dict[str, str]) -> None:
        """Called as a saga is created: entries added to `headers` are stored with it (its
        `trace`) and given back to the steps of a recovery (`SagaStepCall.trace`)."""

    def on_relay_batch(self, batch: RelayBatch) -> None:
        """Called by a relay once a claimed batch is settled: what was published, retried,
        dead-lettered or handed back, and how long it took (metrics, spans)."""

    def on_saga_finished(
        self, saga_name: str, saga_id: uuid.UUID, status: SagaStatus, recovering: bool
    ) -> None:
        """Called once a saga's terminal status (completed, compensated, failed) is recorded;
        `recovering` when a recovery worker drove it there."""

    def on_outbox_stats(self, stats: OutboxStats) -> None:
        """Called with an outbox's counts whenever `cqrs relay`'s progress line or
        `cqrs outbox stats` reads them (depth and lag gauges)."""

    async def intercept_consume(
        self, message: Message, proceed: Callable[[Message], Awaitable[Any]]
    ) -> Any:
        """Around a consumer's handling of one message from a broker (decoding, inbox, handlers);
        returns the consumer's verdict."""
        return await proceed(message)
