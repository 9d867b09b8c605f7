"""Drives one saga run: acts forward, compensates backward, persisting every transition.

Each transition is one storage call carrying the new status, the context and one log entry.
A successful run of `n` steps costs `n + 1` calls (create, then one per step, the last one also
marking the saga COMPLETED); a failure adds one call, plus one per compensated step. The first
run and recovery go through the same code: `_forward` runs a step, records it (its notification
events in the same transition when the storage writes an outbox) and hands its other events to
the event processor.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import traceback
import uuid
from asyncio import get_running_loop
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from cqrs._handler_source import HandlerSource
from cqrs.brokers.message import HEADER_NAMES
from cqrs.clock import utcnow
from cqrs.correlation import active, current_correlation_id, leave, nested, resume
from cqrs.errors import SagaCompensationError, SagaConcurrencyError, SagaLeaseLostError
from cqrs.events.event_processor import EventProcessor
from cqrs.interception.interceptor import SagaRunCall, SagaStepCall
from cqrs.interception.registry import registered
from cqrs.saga._lease import LeaseKeeper
from cqrs.saga.fallback import Fallback
from cqrs.saga.models import SagaAction, SagaLogEntry, SagaState, SagaStatus, SagaStepStatus
from cqrs.saga.saga import Saga, SagaStep
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.protocol import SagaStorage

__all__ = ["CompensationPolicy", "SagaCompensationError", "SagaExecution"]

_CORRELATION = HEADER_NAMES["correlation_id"]
"""The key of a saga's stored `trace` holding its correlation id."""

_log = logging.getLogger("cqrs.saga")


_NONE: list[Any] = []

StepRunner = Callable[[SagaStepCall, Callable[[], Awaitable[Any]]], Awaitable[Any]]
"""Runs a saga step's act or compensation through the interceptors (`proceed` does the work)."""
SagaRunner = Callable[[SagaRunCall, Callable[[Any], AsyncIterator[Any]]], AsyncIterator[Any]]
"""Runs a saga's step results through the `intercept_saga` interceptors."""


_now = datetime.datetime.now
_UTC = datetime.UTC
"""`_now(_UTC)` is `utcnow()` without a call frame, for the per-step hot path."""


class CompensationPolicy:
    """How often and how patiently a failing `compensate` is retried."""

    __slots__ = ("backoff", "delay", "retries")

    def __init__(self, retries: int = 3, delay: float = 1.0, backoff: float = 2.0) -> None:
        if retries < 0 or delay < 0 or backoff < 1:
            raise ValueError("retries and delay must be >= 0 and backoff >= 1")
        self.retries = retries
        self.delay = delay
        self.backoff = backoff


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


class SagaExecution:
    """One run of `saga_type` for one saga id, as the holder of its lease.

    While the run holds the saga, `keeper` renews its lease in the background, so a step may
    outlive the lease; if the lease is lost anyway, the run records nothing more
    (`SagaLeaseLostError`). A run that stops before the saga ends (cancelled, closed, failed)
    releases its lease, shielded and best effort, so recovery can take the saga at once.
    """

    __slots__ = (
        "_scope",
        "_trace",
        "_writes_outbox",
        "acted",
        "compensation",
        "events",
        "final",
        "finished",
        "handlers",
        "intercept",
        "keeper",
        "lease_seconds",
        "lost",
        "owner",
        "recovering",
        "saga_id",
        "saga_type",
        "storage",
        "version",
    )

    def __init__(
        self,
        saga_type: type[Saga[Any]],
        storage: SagaStorage,
        handlers: HandlerSource,
        *,
        owner: str,
        lease_seconds: float,
        compensation: CompensationPolicy,
        events: EventProcessor | None = None,
        keeper: LeaseKeeper | None = None,
        recovering: bool = False,
        intercept: StepRunner | None = None,
        finished: tuple[Callable[..., None], ...] = (),
    ) -> None:
        self.saga_type = saga_type
        self.storage = storage
        self.handlers = handlers
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.compensation = compensation
        self.events = events
        self.keeper = keeper if keeper is not None else LeaseKeeper(storage)
        self.recovering = recovering
        self.intercept = intercept
        self.finished = finished
        """The interceptors' `on_saga_finished`, told the terminal status once recorded."""
        self.version = 0
        self.saga_id: uuid.UUID | None = None
        self.lost = False
        """Set by the keeper when a renewal was refused: another worker may have the saga."""
        self.final: SagaStatus | None = None
        """The terminal status this run recorded, once it has."""
        self._writes_outbox = storage.writes_outbox
        self._scope: list[Any] | None = None
        """The saga's correlation scope (`cqrs.correlation`), entered around each step."""
        self._trace: Mapping[str, str] | None = None
        """The headers stored when the saga was created, when recovering it."""
        self.acted: list[Any] | None = None
        """When a list, each step handler that acted in this run is appended to it."""

    async def _transition(
        self,
        saga_id: uuid.UUID,
        context: Any,
        *,
        status: SagaStatus | None = None,
        index: int,
        step_name: str,
        action: SagaAction,
        step_status: SagaStepStatus,
        details: str | None = None,
        outbox_events: Sequence[Any] = (),
    ) -> None:
        if self.lost:
            raise self._lost_error(step_name)
        entry = SagaLogEntry(
            saga_id=saga_id,
            step_index=index,
            step_name=step_name,
            action=action,
            status=step_status,
            timestamp=utcnow(),
            details=details,
        )
        terminal = status is not None and status.terminal
        if terminal:
            self.keeper.drop(self)
        self.version = await self.storage.transition(
            saga_id,
            version=self.version,
            owner=self.owner,
            lease_seconds=self.lease_seconds,
            status=status,
            context=context.to_dict(),
            entry=entry,
            outbox_events=outbox_events,
        )
        if terminal:
            assert status is not None
            self._finished(saga_id, status)

    def _captured_trace(self, saga_id: uuid.UUID, enclosed: bool) -> dict[str, str] | None:
        """What a new saga stores to be continued by its recovery: the correlation id of the
        scope it was started in (`enclosed`; else its chain is named after the saga, which
        needs no storing), and what the registered interceptors add (`on_saga_created`)."""
        trace = {_CORRELATION: current_correlation_id() or ""} if enclosed else {}
        interceptors = registered()
        if interceptors:
            name = self.saga_type.saga_name()
            for interceptor in interceptors:
                interceptor.on_saga_created(name, saga_id, trace)
        return trace or None

    def _finished(self, saga_id: uuid.UUID, status: SagaStatus) -> None:
        """Note the terminal status recorded, and tell the `on_saga_finished` interceptors
        (whose failures are logged, never the saga's)."""
        self.final = status
        for observe in self.finished:
            try:
                observe(self.saga_type.saga_name(), saga_id, status, self.recovering)
            except Exception:
                _log.exception("saga %s: an on_saga_finished interceptor failed", saga_id)

    def _lost_error(self, step_name: str) -> SagaLeaseLostError:
        return SagaLeaseLostError(
            f"saga {self.saga_id}: {self.owner} lost its lease while running {step_name}; the "
            "result was not recorded (another worker may be driving the saga)"
        )

    async def _stopped(self, exc: BaseException) -> None:
        """The run ends before the saga does: release the lease (shielded, best effort) so
        recovery can start at once, unless it is no longer this run's to release."""
        self.keeper.drop(self)
        if self.final is not None or self.lost or isinstance(exc, SagaConcurrencyError):
            return
        saga_id = self.saga_id
        if saga_id is None:
            return
        try:
            await asyncio.shield(self.storage.release(saga_id, owner=self.owner))
        except asyncio.CancelledError:
            if not isinstance(exc, asyncio.CancelledError):
                raise
        except BaseException as error:  # the run is already ending with `exc`
            _log.warning(
                "saga %s stopped (%s); releasing its lease failed: %s",
                saga_id,
                type(exc).__name__,
                _error_text(error),
            )
        else:
            _log.info(
                "saga %s stopped (%s); its lease is released for recovery",
                saga_id,
                type(exc).__name__,
            )

    def start(
        self,
        context: Any,
        saga_id: uuid.UUID,
        completed: list[tuple[int, type[SagaStepHandler[Any, Any]]]] | None = None,
    ) -> AsyncGenerator[SagaStepResult[Any, Any], None]:
        """Create the saga (on first iteration) and run it from the first step; each step that
        acts is appended to `completed` (index, step class) when given."""
        return self._forward(
            context, saga_id, 0, [] if completed is None else completed, create=True
        )

    async def resume(
        self,
        state: SagaState,
        context: Any,
        completed: list[tuple[int, type[SagaStepHandler[Any, Any]]]] | None = None,
    ) -> AsyncGenerator[SagaStepResult[Any, Any], None]:
        """Continue an interrupted saga from its step log (the caller holds its lease); the
        steps done before and now are appended to `completed` when given."""
        self.version = state.version
        self.saga_id = state.saga_id
        self._trace = state.trace
        self._scope = nested(
            state.saga_id,
            (state.trace.get(_CORRELATION) if state.trace else None) or state.saga_id,
            state.trace,
        )
        try:
            done, compensated = self._replay(state.history)
        except BaseException as exc:
            await self._stopped(exc)
            raise
        if completed is None:
            completed = done
        else:
            completed.extend(done)
        if state.status is SagaStatus.RUNNING or state.status is SagaStatus.PENDING:
            start = max((index for index, _ in completed), default=-1) + 1
            _log.info("resuming saga %s at step %d", state.saga_id, start)
            async for result in self._forward(context, state.saga_id, start, completed):
                yield result
        elif state.status is SagaStatus.COMPENSATING:
            remaining = [(i, t) for i, t in completed if i not in compensated]
            _log.info(
                "resuming compensation of saga %s (%d steps left)", state.saga_id, len(remaining)
            )
            self.keeper.hold(self)
            token = resume(self._scope)
            try:
                await self._compensate(context, state.saga_id, remaining)
            except BaseException as exc:
                await self._stopped(exc)
                raise
            finally:
                leave(token)

    def _replay(
        self, history: Sequence[SagaLogEntry]
    ) -> tuple[list[tuple[int, type[SagaStepHandler[Any, Any]]]], set[int]]:
        """Completed acts (index, the step class that ran) and compensated indexes, from the log."""
        completed: dict[int, type[SagaStepHandler[Any, Any]]] = {}
        compensated: set[int] = set()
        for entry in history:
            if entry.action == "act" and entry.status is SagaStepStatus.COMPLETED:
                completed[entry.step_index] = self._step_class(entry.step_index, entry.step_name)
            elif entry.action == "compensate" and entry.status is SagaStepStatus.COMPENSATED:
                compensated.add(entry.step_index)
        return sorted(completed.items()), compensated

    def _step_class(self, index: int, name: str) -> type[SagaStepHandler[Any, Any]]:
        steps = self.saga_type.steps
        if index >= len(steps):
            raise LookupError(f"{self.saga_type.saga_name()} has no step {index} ({name})")
        step = steps[index]
        candidates = [step.step, step.fallback] if isinstance(step, Fallback) else [step]
        for candidate in candidates:
            if candidate.step_name() == name:
                return candidate
        raise LookupError(
            f"step {index} of {self.saga_type.saga_name()} is {candidates[0].step_name()}, "
            f"but the log recorded {name}: the saga's steps changed since it ran"
        )

    async def _forward(
        self,
        context: Any,
        saga_id: uuid.UUID,
        start: int,
        completed: list[tuple[int, type[SagaStepHandler[Any, Any]]]],
        *,
        create: bool = False,
    ) -> AsyncGenerator[SagaStepResult[Any, Any], None]:
        """Run the steps from `start`, recording each; the one step path of runs and recovery."""
        self.saga_id = saga_id
        scope = self._scope
        enclosed = active()
        if scope is None:
            # Started outside any scope, the saga begins a chain named after itself (as its
            # recovery will name it, with nothing stored).
            scope = self._scope = nested(saga_id, None if enclosed else saga_id)
        try:
            if create:
                token = resume(scope)
                try:
                    state = await self.storage.create_saga(
                        saga_id,
                        self.saga_type.saga_name(),
                        context.to_dict(),
                        owner=self.owner,
                        lease_seconds=self.lease_seconds,
                        trace=self._captured_trace(saga_id, enclosed),
                    )
                finally:
                    leave(token)
                self.version = state.version
            keeper = self.keeper
            runs = keeper.runs
            if runs is not None:
                runs[self] = None
                if (
                    keeper.handle is None
                    or self.lease_seconds < keeper.lease
                    or keeper.loop is not get_running_loop()
                ):
                    keeper.arm(self.lease_seconds)
            steps = self.saga_type.steps
            last = len(steps) - 1
            if start > last:
                token = resume(scope)
                try:
                    await self._transition(
                        saga_id,
                        context,
                        status=SagaStatus.COMPLETED,
                        index=last,
                        step_name="saga",
                        action="act",
                        step_status=SagaStepStatus.COMPLETED,
                    )
                finally:
                    leave(token)
                return
            plan = self._plan()
            storage = self.storage
            for index in range(start, len(steps)):
                step, factory = plan[index]
                token = resume(scope)
                try:
                    try:
                        if self.intercept is not None:
                            handler, result = await self._intercepted_act(
                                step, factory, context, saga_id, index
                            )
                        elif factory is not None:
                            handler = factory()
                            result = await handler.act(context)
                            if result.__class__ is not SagaStepResult:
                                result = SagaStepResult(response=result, step_type=type(handler))
                        else:
                            handler, result = await self._act(step, context)
                    except Exception as exc:
                        attempted = step.step if isinstance(step, Fallback) else step
                        _log.warning(
                            "saga %s step %s failed: %s", saga_id, attempted.step_name(), exc
                        )
                        await self._transition(
                            saga_id,
                            context,
                            status=SagaStatus.COMPENSATING if completed else SagaStatus.COMPENSATED,
                            index=index,
                            step_name=attempted.step_name(),
                            action="act",
                            step_status=SagaStepStatus.FAILED,
                            details=_error_text(exc),
                        )
                        if completed:
                            await self._compensate(context, saga_id, completed)
                        raise
                    step_type = type(handler)
                    if self.lost:
                        raise self._lost_error(step_type.step_name())
                    in_process, to_outbox = self._split_events(handler)
                    entry = SagaLogEntry(
                        saga_id=saga_id,
                        step_index=index,
                        step_name=step_type.step_name(),
                        action="act",
                        status=SagaStepStatus.COMPLETED,
                        timestamp=_now(_UTC),
                    )
                    final = index == last
                    if final and runs is not None:
                        runs.pop(self, None)
                    self.version = await storage.transition(
                        saga_id,
                        version=self.version,
                        owner=self.owner,
                        lease_seconds=self.lease_seconds,
                        status=SagaStatus.COMPLETED if final else None,
                        context=context.to_dict(),
                        entry=entry,
                        outbox_events=to_outbox,
                    )
                    if final:
                        self._finished(saga_id, SagaStatus.COMPLETED)
                    completed.append((index, step_type))
                    if self.acted is not None:
                        self.acted.append(handler)
                    if in_process and self.events is not None:
                        await self._dispatch(in_process)
                finally:
                    leave(token)
                result.step_type = step_type
                result.saga_id = saga_id
                yield result
        except BaseException as exc:
            await self._stopped(exc)
            raise

    async def _dispatch(self, events: list[Any]) -> None:
        """Hand a recorded step's in-process events (and, with no outbox, its notification
        events) to the event processor, as the first run and recovery both do."""
        processor = self.events
        if processor is None:
            return
        if self.recovering:
            steps = processor.emitter.steps
            for event in events:
                if not getattr(event, "__cqrs_notification__", False) and not steps(
                    type(event), False
                ):
                    _log.warning(
                        "saga %s: a resumed step emitted %s, which no event handler given to "
                        "recovery takes (pass the app's event handlers: event_map=, --events)",
                        self.saga_id,
                        type(event).__qualname__,
                    )
        await processor.process(events)

    def _plan(self) -> list[tuple[SagaStep, Any]]:
        """Each step with a synchronous factory when it can be acted on directly (no fallback,
        no timeout, a built-in container), worked out once per saga type and container."""
        plan: list[tuple[SagaStep, Any]] | None = self.handlers.plans.get(self.saga_type)
        if plan is None:
            plan = []
            for step in self.saga_type.steps:
                factory = None
                if not isinstance(step, Fallback) and step.timeout is None:
                    factory = self.handlers.factory(step)
                plan.append((step, factory))
            self.handlers.plans[self.saga_type] = plan
        return plan

    async def _intercepted_act(
        self, step: SagaStep, factory: Any, context: Any, saga_id: uuid.UUID, index: int
    ) -> tuple[Any, SagaStepResult[Any, Any]]:
        """Act through the interceptors; they see the step and its result, not the handler."""
        assert self.intercept is not None
        acted: list[Any] = []

        async def proceed() -> SagaStepResult[Any, Any]:
            if factory is not None:
                handler = factory()
                result = await self._run_act(handler, context)
            else:
                handler, result = await self._act(step, context)
            acted.append(handler)
            return result

        attempted = step.step if isinstance(step, Fallback) else step
        call = SagaStepCall(
            saga_name=self.saga_type.saga_name(),
            saga_id=saga_id,
            step_name=attempted.step_name(),
            step_index=index,
            action="act",
            context=context,
            recovering=self.recovering,
            trace=self._trace,
        )
        result = await self.intercept(call, proceed)
        if not acted:
            raise RuntimeError(
                f"an interceptor returned without running saga step {call.step_name} "
                "(intercept_saga_step must await proceed() or raise)"
            )
        return acted[-1], result

    async def _act(self, step: SagaStep, context: Any) -> tuple[Any, SagaStepResult[Any, Any]]:
        if not isinstance(step, Fallback):
            handler = await self.handlers.build(step)
            return handler, await self._run_act(handler, context)
        from cqrs._fallback import run_with_fallback

        async def attempt(step_type: type[SagaStepHandler[Any, Any]]) -> tuple[Any, Any]:
            handler = await self.handlers.build(step_type)
            return handler, await self._run_act(handler, context)

        return await run_with_fallback(
            step.step,
            lambda: attempt(step.step),
            lambda: attempt(step.fallback),
            step.failure_exceptions,
            step.circuit_breaker,
        )

    async def _run_act(self, handler: Any, context: Any) -> SagaStepResult[Any, Any]:
        timeout = type(handler).timeout
        result: Any
        if timeout is None:
            result = await handler.act(context)
        else:
            async with asyncio.timeout(timeout):
                result = await handler.act(context)
        if isinstance(result, SagaStepResult):
            return result
        return SagaStepResult(response=result, step_type=type(handler))

    def _split_events(self, handler: Any) -> tuple[list[Any], list[Any]]:
        """The step's events: those dispatched after the transition, and those written with it.

        With a storage that writes an outbox, notification events go to the outbox in the
        step's own transition (they are published only if the step is recorded as done).
        """
        events = handler.events
        if not events:
            return _NONE, _NONE
        events = list(events)
        if not self._writes_outbox:
            return events, []
        to_outbox = [e for e in events if getattr(e, "__cqrs_notification__", False)]
        return [e for e in events if not getattr(e, "__cqrs_notification__", False)], to_outbox

    async def _compensate(
        self,
        context: Any,
        saga_id: uuid.UUID,
        completed: list[tuple[int, type[SagaStepHandler[Any, Any]]]],
    ) -> None:
        pending = list(reversed(completed))
        for position, (index, step_type) in enumerate(pending):
            error = await self._compensate_one(step_type, context, saga_id, index)
            if error is not None:
                await self._transition(
                    saga_id,
                    context,
                    status=SagaStatus.FAILED,
                    index=index,
                    step_name=step_type.step_name(),
                    action="compensate",
                    step_status=SagaStepStatus.FAILED,
                    details=error,
                )
                _log.error(
                    "saga %s is FAILED: compensating %s kept failing: %s",
                    saga_id,
                    step_type.step_name(),
                    error,
                )
                raise SagaCompensationError(
                    f"saga {saga_id}: compensating {step_type.step_name()} failed: {error}"
                )
            final = position == len(pending) - 1
            await self._transition(
                saga_id,
                context,
                status=SagaStatus.COMPENSATED if final else None,
                index=index,
                step_name=step_type.step_name(),
                action="compensate",
                step_status=SagaStepStatus.COMPENSATED,
            )
        if not pending:
            await self._transition(
                saga_id,
                context,
                status=SagaStatus.COMPENSATED,
                index=0,
                step_name="saga",
                action="compensate",
                step_status=SagaStepStatus.COMPENSATED,
            )

    async def _run_compensate(
        self, step_type: type[SagaStepHandler[Any, Any]], context: Any
    ) -> None:
        handler = await self.handlers.build(step_type)
        await handler.compensate(context)

    async def _compensate_one(
        self,
        step_type: type[SagaStepHandler[Any, Any]],
        context: Any,
        saga_id: uuid.UUID,
        index: int,
    ) -> str | None:
        """Run `compensate` with retries; the last error's text if it never succeeded."""
        delay = self.compensation.delay
        error = ""
        for attempt in range(self.compensation.retries + 1):
            try:
                if self.intercept is None:
                    await self._run_compensate(step_type, context)
                else:
                    await self.intercept(
                        SagaStepCall(
                            saga_name=self.saga_type.saga_name(),
                            saga_id=saga_id,
                            step_name=step_type.step_name(),
                            step_index=index,
                            action="compensate",
                            context=context,
                            recovering=self.recovering,
                            trace=self._trace,
                        ),
                        lambda: self._run_compensate(step_type, context),
                    )
                return None
            except Exception as exc:
                error = _error_text(exc)
                _log.warning(
                    "saga %s: compensating %s failed (attempt %d): %s\n%s",
                    saga_id,
                    step_type.step_name(),
                    attempt + 1,
                    error,
                    "".join(traceback.format_exception(exc)[-3:]),
                )
                if attempt < self.compensation.retries:
                    await asyncio.sleep(delay)
                    delay *= self.compensation.backoff
        return error


def __getattr__(name: str) -> Any:
    """python-cqrs 4.x names kept at this path, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
