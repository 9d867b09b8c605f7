"""Recovering interrupted sagas: `recover_saga` for one, `SagaRecoveryWorker` for all of them.

Recovery resumes a saga through the same step path as its first run: a resumed step's
notification events go to the outbox in the step's own transition (storage with an outbox) or
to the message broker, and its domain events to the event handlers given to recovery.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime
import enum
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

from cqrs._handler_source import HandlerSource
from cqrs.brokers.protocol import MessageBroker
from cqrs.container.builtin import BuiltinContainer
from cqrs.errors import SagaConcurrencyError, SagaNotFoundError, SagaRecoveryConfigError
from cqrs.events.event_processor import EventProcessor
from cqrs.events.map import EventMap
from cqrs.interception._chain import Interception, closing
from cqrs.interception.interceptor import Interceptor, SagaRunCall
from cqrs.protocols.container import Container
from cqrs.saga._lease import LeaseKeeper
from cqrs.saga.execution import CompensationPolicy, SagaExecution, SagaRunner, StepRunner
from cqrs.saga.map import SagaMap
from cqrs.saga.models import SagaStatus
from cqrs.saga.saga import Saga
from cqrs.saga.storage.protocol import SagaStorage

if TYPE_CHECKING:
    from cqrs.saga.mediator import SagaMediator

__all__ = [
    "SagaRecoveryConfigError",
    "SagaRecoveryOutcome",
    "SagaRecoveryResult",
    "SagaRecoveryWorker",
    "recover_saga",
]

_log = logging.getLogger("cqrs.saga.recovery")


class SagaRecoveryOutcome(enum.StrEnum):
    """What one recovery attempt did."""

    RESUMED = "resumed"
    """This worker drove the saga to the end: `status` is where it ended."""
    TERMINAL = "terminal"
    """The saga had already ended (`status`); nothing ran."""
    LEASED = "leased"
    """Another driver holds the saga's lease (`lease_owner`, `lease_until`); nothing ran."""
    NOT_FOUND = "not_found"
    """No saga has this id."""
    LEASE_LOST = "lease_lost"
    """This worker lost the lease while resuming: another worker has the saga now."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SagaRecoveryResult:
    """The outcome of recovering one saga; `str()` says it in a sentence."""

    saga_id: uuid.UUID
    outcome: SagaRecoveryOutcome
    status: SagaStatus | None = None
    """The saga's status once recovery returned (`None`: not found, or leased elsewhere)."""
    lease_owner: str | None = None
    lease_until: datetime.datetime | None = None
    error: str | None = None
    """The error the resumed run ended with: the failing step's (the saga was compensated),
    `SagaCompensationError` (FAILED), or an event handler's after the last step."""

    def __str__(self) -> str:
        saga = f"saga {self.saga_id}"
        match self.outcome:
            case SagaRecoveryOutcome.RESUMED:
                after = f" after {self.error}" if self.error else ""
                return f"{saga} resumed to {self.status}{after}"
            case SagaRecoveryOutcome.TERMINAL:
                return f"{saga} had already ended: {self.status}"
            case SagaRecoveryOutcome.LEASED:
                until = self.lease_until.isoformat() if self.lease_until else "?"
                return f"{saga} is leased by {self.lease_owner} until {until}"
            case SagaRecoveryOutcome.LEASE_LOST:
                return f"{saga}: lost its lease to another worker while resuming it"
        return f"{saga} not found"


def _build_context(context_builder: Callable[..., Any], data: dict[str, Any]) -> Any:
    from_dict = getattr(context_builder, "from_dict", None)
    if from_dict is not None:
        return from_dict(data)
    return context_builder(**data)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _owner() -> str:
    return f"recovery:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class _Recoverer:
    """Everything recovering a saga needs, shared by `recover_saga` and the workers."""

    __slots__ = (
        "__weakref__",
        "_interception",
        "compensation",
        "events",
        "finished",
        "handlers",
        "keeper",
        "lease_seconds",
        "owner",
        "runs",
        "steps",
        "storage",
    )

    def __init__(
        self,
        storage: SagaStorage,
        container: Container,
        events: EventProcessor,
        *,
        owner: str,
        lease_seconds: float,
        compensation: CompensationPolicy,
        interceptors: Sequence[Interceptor] = (),
    ) -> None:
        self.storage = storage
        self.handlers = HandlerSource(container)
        self.events = events
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.compensation = compensation
        self.keeper = LeaseKeeper(storage)
        self._interception = Interception(interceptors, watcher=self)
        self.steps: StepRunner | None = None
        self.finished: tuple[Callable[..., None], ...] = ()
        self.runs: SagaRunner | None = None
        self._reintercept()

    def _reintercept(self) -> None:
        self.steps = self._interception.saga_steps()
        self.finished = self._interception.observers("on_saga_finished")
        self.runs = self._interception.sagas()

    async def recover(
        self, saga_type: type[Saga[Any]], saga_id: uuid.UUID, context_builder: Callable[..., Any]
    ) -> SagaRecoveryResult:
        storage = self.storage
        state = await storage.acquire(saga_id, owner=self.owner, lease_seconds=self.lease_seconds)
        if state is None:
            current = await storage.load_saga_state(saga_id)
            if current is None:
                _log.info("saga %s not found", saga_id)
                return SagaRecoveryResult(saga_id=saga_id, outcome=SagaRecoveryOutcome.NOT_FOUND)
            result = SagaRecoveryResult(
                saga_id=saga_id,
                outcome=SagaRecoveryOutcome.LEASED,
                status=current.status,
                lease_owner=current.lease_owner,
                lease_until=current.lease_until,
            )
            _log.info("%s; skipping", result)
            return result
        if state.status.terminal:
            await storage.release(saga_id, owner=self.owner)
            return SagaRecoveryResult(
                saga_id=saga_id, outcome=SagaRecoveryOutcome.TERMINAL, status=state.status
            )
        run = SagaExecution(
            saga_type,
            storage,
            self.handlers,
            owner=self.owner,
            lease_seconds=self.lease_seconds,
            compensation=self.compensation,
            events=self.events,
            keeper=self.keeper,
            recovering=True,
            intercept=self.steps,
            finished=self.finished,
        )
        context = _build_context(context_builder, state.context)
        error: str | None = None
        resumed = run.resume(state, context)
        steps: AsyncIterator[Any] = resumed
        if self.runs is not None:
            call = SagaRunCall(saga_type.saga_name(), saga_id, context, True, state.trace)
            steps = closing(self.runs(call, lambda _: resumed), [resumed])
        try:
            async for _ in steps:
                pass
        except SagaConcurrencyError as exc:
            _log.warning("saga %s: %s", saga_id, exc)
            return SagaRecoveryResult(saga_id=saga_id, outcome=SagaRecoveryOutcome.LEASE_LOST)
        except Exception as exc:
            if run.final is None:
                raise
            error = _error_text(exc)
            _log.info("recovered saga %s ended %s: %s", saga_id, run.final, error)
        return SagaRecoveryResult(
            saga_id=saga_id, outcome=SagaRecoveryOutcome.RESUMED, status=run.final, error=error
        )


def _processor(
    container: Container,
    events: EventProcessor | None,
    event_map: EventMap | None,
    message_broker: MessageBroker | None,
    interceptors: Sequence[Interceptor] = (),
) -> EventProcessor:
    if events is not None:
        if event_map is not None or message_broker is not None:
            raise TypeError("give events= or event_map=/message_broker=, not both")
        return events
    return EventProcessor.for_mediator(
        container,
        None,
        event_map=event_map,
        message_broker=message_broker,
        max_concurrent_event_handlers=1,
        concurrent_event_handle_enable=False,
        interceptors=interceptors,
    )


async def recover_saga(
    saga: Saga[Any] | type[Saga[Any]],
    saga_id: uuid.UUID,
    context_builder: Callable[..., Any],
    container: Container | None = None,
    storage: SagaStorage | None = None,
    *,
    owner: str | None = None,
    lease_seconds: float = 60.0,
    compensation: CompensationPolicy | None = None,
    events: EventProcessor | None = None,
    event_map: EventMap | None = None,
    message_broker: MessageBroker | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> SagaRecoveryResult:
    """Resume or finish compensating one saga from its stored state and step log.

    Takes the saga's lease first: if another driver holds it, nothing runs (`LEASED`, naming
    the holder). A RUNNING saga resumes at its first step without a completed act (re-running
    only the step that was in flight); a COMPENSATING one compensates its remaining completed
    steps; a terminal one is left alone. Resumed steps' notification events go to the
    storage's outbox, else to `message_broker`; domain events to the handlers of `event_map`
    (or give the app's `events` processor). Infrastructure errors propagate, and an unknown
    `saga_id` raises `SagaNotFoundError` (a `ValueError`, as python-cqrs 4.x raised). `storage`
    may be one written for 4.x's `ISagaStorage` (run through `Pycqrs4SagaStorage`).
    """
    if storage is None:
        raise TypeError("recover_saga needs the storage the saga was run with")
    from cqrs.saga.storage.pycqrs4_storage import as_saga_storage

    storage = as_saga_storage(storage)
    container = container if container is not None else BuiltinContainer()
    recoverer = _Recoverer(
        storage,
        container,
        _processor(container, events, event_map, message_broker, interceptors),
        owner=owner or _owner(),
        lease_seconds=lease_seconds,
        compensation=compensation or CompensationPolicy(),
        interceptors=interceptors,
    )
    saga_type = saga if isinstance(saga, type) else type(saga)
    result = await recoverer.recover(saga_type, saga_id, context_builder)
    if result.outcome is SagaRecoveryOutcome.NOT_FOUND:
        raise SagaNotFoundError(f"Saga {saga_id} not found")
    return result


class SagaRecoveryWorker:
    """Finds interrupted sagas and recovers them until stopped; run several for availability.

    Each saga is leased before it is driven (and the lease renewed while its steps run), so
    workers never drive the same saga at once. Resumed steps' events are delivered as in the
    first run: the worker refuses to start (`SagaRecoveryConfigError`) if notification events
    would have nowhere to go, i.e. the storage writes no outbox and no broker is given (pass
    `cqrs.DevnullMessageBroker()` to drop them on purpose).
    """

    def __init__(
        self,
        saga_map: SagaMap,
        storage: SagaStorage,
        container: Container | None = None,
        *,
        stale_after: float = 30.0,
        lease_seconds: float = 60.0,
        poll_interval: float = 5.0,
        batch_size: int = 50,
        compensation: CompensationPolicy | None = None,
        events: EventProcessor | None = None,
        event_map: EventMap | None = None,
        message_broker: MessageBroker | None = None,
        interceptors: Sequence[Interceptor] = (),
    ) -> None:
        self.saga_map = saga_map
        self.storage = storage
        self.container = container if container is not None else BuiltinContainer()
        self.events = _processor(self.container, events, event_map, message_broker, interceptors)
        if not storage.writes_outbox and self.events.emitter.message_broker is None:
            raise SagaRecoveryConfigError(
                f"SagaRecoveryWorker would drop resumed steps' notification events: "
                f"{type(storage).__name__} writes no outbox and no message_broker was given "
                "(give a storage with an outbox, or message_broker=; DevnullMessageBroker "
                "drops them on purpose)"
            )
        self.stale_after = stale_after
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.compensation = compensation or CompensationPolicy()
        self.owner = _owner()
        self.recovered: dict[SagaStatus, int] = {}
        """How many sagas this worker drove to an end, per final status."""
        self.outcomes: collections.Counter[SagaRecoveryOutcome] = collections.Counter()
        """Every recovery attempt's outcome, counted."""
        self.errors = 0
        """Recovery attempts that failed (logged), e.g. on a storage outage."""
        self._recoverer = _Recoverer(
            storage,
            self.container,
            self.events,
            owner=self.owner,
            lease_seconds=lease_seconds,
            compensation=self.compensation,
            interceptors=interceptors,
        )
        self._stopping = asyncio.Event()

    @classmethod
    def from_mediator(cls, mediator: SagaMediator, **options: Any) -> SagaRecoveryWorker:
        """A worker with `mediator`'s sagas, storage, container, event handlers, broker,
        compensation policy and lease length (`options` override the worker's settings;
        `event_map=` or `message_broker=` replace the mediator's event handling)."""
        options.setdefault("lease_seconds", mediator.lease_seconds)
        options.setdefault("compensation", mediator.compensation)
        options.setdefault("interceptors", mediator.interceptors)
        if not {"event_map", "message_broker"} & options.keys():
            options.setdefault("events", mediator.events)
        return cls(mediator.saga_map, mediator.storage, mediator.container, **options)

    def stop(self) -> None:
        """Finish the saga in hand and return from `run` (cancel `run` to stop at once: the
        saga in hand then releases its lease)."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        """Whether `stop` was called."""
        return self._stopping.is_set()

    async def recover(self, saga_id: uuid.UUID) -> SagaRecoveryResult:
        """Recover one saga, looking its saga type up by the name it was stored under."""
        state = await self.storage.load_saga_state(saga_id)
        if state is None:
            result = SagaRecoveryResult(saga_id=saga_id, outcome=SagaRecoveryOutcome.NOT_FOUND)
        else:
            context_type, saga_type = self.saga_map.by_name(state.saga_name)
            result = await self._recoverer.recover(saga_type, saga_id, context_type)
        self.outcomes[result.outcome] += 1
        if result.outcome is SagaRecoveryOutcome.RESUMED and result.status is not None:
            self.recovered[result.status] = self.recovered.get(result.status, 0) + 1
        return result

    async def run_once(self) -> int:
        """Recover one batch of interrupted sagas; returns how many were driven to an end."""
        ids = await self.storage.find_interrupted(
            stale_after=self.stale_after, limit=self.batch_size
        )
        done = 0
        for saga_id in ids:
            if self._stopping.is_set():
                break
            try:
                result = await self.recover(saga_id)
            except LookupError as exc:
                self.errors += 1
                _log.error("saga %s cannot be recovered: %s; skipping", saga_id, exc)
                continue
            except Exception:
                self.errors += 1
                _log.exception("recovering saga %s failed; it is retried later", saga_id)
                continue
            if result.outcome is SagaRecoveryOutcome.RESUMED:
                done += 1
                _log.info("%s", result)
        return done

    async def run(self) -> dict[SagaStatus, int]:
        """Recover until `stop`; returns how many sagas ended in each status."""
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except Exception:
                _log.exception("saga recovery round failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.poll_interval)
        return self.recovered
