"""The saga mediator: runs the saga bound to a context's type, streaming each step's result."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from cqrs._handler_source import HandlerSource
from cqrs.brokers.protocol import MessageBroker
from cqrs.events.event_emitter import EventEmitter
from cqrs.events.event_processor import EventProcessor
from cqrs.events.map import EventMap
from cqrs.interception._chain import Interception, closing
from cqrs.interception.interceptor import Interceptor, SagaRunCall
from cqrs.protocols.container import Container
from cqrs.saga._lease import LeaseKeeper
from cqrs.saga.execution import CompensationPolicy, SagaExecution, SagaRunner, StepRunner
from cqrs.saga.map import SagaMap
from cqrs.saga.step import SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.saga.storage.protocol import SagaStorage

if TYPE_CHECKING:
    from cqrs.saga.recovery import SagaRecoveryResult, SagaRecoveryWorker

__all__ = ["SagaMediator"]

_C = TypeVar("_C")


class SagaMediator:
    """Starts sagas: `async for result in mediator.stream(context, saga_id=...)`.

    Each completed step is persisted before its result is yielded and its events dispatched.
    When a step fails, completed steps are compensated in reverse order (each compensation
    retried `compensation_retry_count` times with backoff) and the step's exception is re-raised;
    if a compensation never succeeds the saga ends FAILED and `SagaCompensationError` is raised.
    While a step runs, its lease (`lease_seconds`) is renewed in the background; a saga whose
    stream is cancelled or closed early releases its lease so recovery can resume it at once
    (`recover`, `recovery_worker`).
    """

    def __init__(
        self,
        saga_map: SagaMap,
        container: Container,
        event_emitter: EventEmitter | None = None,
        *,
        storage: SagaStorage | None = None,
        event_map: EventMap | None = None,
        message_broker: MessageBroker | None = None,
        max_concurrent_event_handlers: int = 1,
        concurrent_event_handle_enable: bool = True,
        compensation_retry_count: int = 3,
        compensation_retry_delay: float = 1.0,
        compensation_retry_backoff: float = 2.0,
        lease_seconds: float = 60.0,
        interceptors: Sequence[Interceptor] = (),
    ) -> None:
        self.saga_map = saga_map
        self.storage: SagaStorage = storage if storage is not None else MemorySagaStorage()
        self.container = container
        self._handlers = HandlerSource(container)
        self._keeper = LeaseKeeper(self.storage)
        self.events = EventProcessor.for_mediator(
            container,
            event_emitter,
            event_map=event_map,
            message_broker=message_broker,
            max_concurrent_event_handlers=max_concurrent_event_handlers,
            concurrent_event_handle_enable=concurrent_event_handle_enable,
            interceptors=interceptors,
        )
        """Where steps' events go once recorded: domain events to their handlers, notification
        events to the broker (unless the storage writes them to its outbox)."""
        self.compensation = CompensationPolicy(
            compensation_retry_count, compensation_retry_delay, compensation_retry_backoff
        )
        self.lease_seconds = lease_seconds
        self.owner = f"saga:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.interceptors = tuple(interceptors)
        """The interceptors of this mediator's steps (given to its recovery too)."""
        self._interception = Interception(interceptors, watcher=self)
        self._steps: StepRunner | None = None
        self._finished: tuple[Callable[..., None], ...] = ()
        self._runs: SagaRunner | None = None
        self._reintercept()

    def _reintercept(self) -> None:
        self._steps = self._interception.saga_steps()
        self._finished = self._interception.observers("on_saga_finished")
        self._runs = self._interception.sagas()

    def execution(self, saga_type: Any) -> SagaExecution:
        """An execution of `saga_type` sharing this mediator's storage, container and policies."""
        return SagaExecution(
            saga_type,
            self.storage,
            self._handlers,
            owner=self.owner,
            lease_seconds=self.lease_seconds,
            compensation=self.compensation,
            events=self.events,
            keeper=self._keeper,
            intercept=self._steps,
            finished=self._finished,
        )

    def stream(
        self, context: _C, saga_id: uuid.UUID | None = None
    ) -> AsyncGenerator[SagaStepResult[_C, Any], None]:
        """Run the saga for `context` (new id unless `saga_id` is given), yielding step results.

        Raises `HandlerNotBoundError` at once if no saga is bound to the context's type; the
        saga itself is created when the stream is first iterated.
        """
        saga_type = self.saga_map.get(type(context))
        saga_id = saga_id or uuid.uuid4()
        run = self.execution(saga_type).start(context, saga_id)
        if self._runs is None:
            return run
        call = SagaRunCall(saga_type.saga_name(), saga_id, context)
        return closing(self._runs(call, lambda _: run), [run])

    async def execute(
        self, context: _C, saga_id: uuid.UUID | None = None
    ) -> list[SagaStepResult[_C, Any]]:
        """Run the saga to the end and return every step result."""
        return [result async for result in self.stream(context, saga_id)]

    async def recover(self, saga_id: uuid.UUID, **options: Any) -> SagaRecoveryResult:
        """Resume or finish compensating one saga with this mediator's sagas, container, event
        handlers and broker (`options` go to `recover_saga`); says what happened."""
        from cqrs.saga.recovery import SagaRecoveryOutcome, SagaRecoveryResult, recover_saga

        state = await self.storage.load_saga_state(saga_id)
        if state is None:
            return SagaRecoveryResult(saga_id=saga_id, outcome=SagaRecoveryOutcome.NOT_FOUND)
        context_type, saga_type = self.saga_map.by_name(state.saga_name)
        options.setdefault("lease_seconds", self.lease_seconds)
        options.setdefault("compensation", self.compensation)
        options.setdefault("interceptors", self.interceptors)
        if not {"event_map", "message_broker"} & options.keys():
            options.setdefault("events", self.events)
        return await recover_saga(
            saga_type, saga_id, context_type, self.container, self.storage, **options
        )

    def recovery_worker(self, **options: Any) -> SagaRecoveryWorker:
        """A `SagaRecoveryWorker` publishing and handling resumed steps' events exactly as this
        mediator does (`options` go to the worker: `stale_after`, `poll_interval`, ...)."""
        from cqrs.saga.recovery import SagaRecoveryWorker

        return SagaRecoveryWorker.from_mediator(self, **options)
