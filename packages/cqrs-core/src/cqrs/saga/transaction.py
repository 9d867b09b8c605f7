"""`SagaTransaction`: python-cqrs 4.x's way to run one saga, over our engine.

`async with saga.transaction(context=..., container=..., storage=...) as transaction:` then
`async for step_result in transaction:` runs the steps one per iteration through
`SagaExecution`: the same transitions, leases, heartbeats and step log as the mediator's runs.
"""

from __future__ import annotations

import logging
import os
import types
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Generic

from cqrs import _bootstrap
from cqrs._handler_source import HandlerSource
from cqrs.errors import SagaCompensationError, SagaConcurrencyError
from cqrs.saga.execution import CompensationPolicy, SagaExecution
from cqrs.saga.models import SagaStatus, SagaStepStatus
from cqrs.saga.saga import ContextT, Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.saga.storage.pycqrs4_storage import as_saga_storage

__all__ = ["SagaTransaction"]

_log = logging.getLogger("cqrs.saga")


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


class SagaTransaction(Generic[ContextT]):
    """One run of a saga, iterated step by step; failures compensate the steps done.

    - Each iteration runs one step and yields its `SagaStepResult` (with `saga_id` set).
    - A failing step is recorded and the steps done are compensated in reverse, then the step's
      exception is raised (compensation that keeps failing leaves the saga FAILED and adds a
      note to that exception, as 4.x raised the step's error).
    - An exception raised in the `async with` body compensates the steps done, then propagates;
      leaving the loop early (`break`) compensates nothing: the run releases its lease and the
      saga stays RUNNING for recovery or a later transaction with the same `saga_id`.
    - With `saga_id` of a stored saga, the transaction takes its lease (`SagaConcurrencyError`
      if another driver holds it) and continues it: a COMPLETED saga yields nothing, a RUNNING one
      skips its completed steps, and a compensating or compensated one finishes compensating and
      raises `RuntimeError` (forward execution is not allowed), as 4.x did. An unknown `saga_id`
      starts a new saga with that id.
    """

    def __init__(
        self,
        saga: Saga[ContextT] | type[Saga[ContextT]],
        context: ContextT,
        container: Any = None,
        storage: Any = None,
        saga_id: uuid.UUID | None = None,
        compensation_retry_count: int = 3,
        compensation_retry_delay: float = 1.0,
        compensation_retry_backoff: float = 2.0,
        *,
        lease_seconds: float = 60.0,
    ) -> None:
        saga_type = saga if isinstance(saga, type) else type(saga)
        self._context = context
        self._storage = as_saga_storage(storage if storage is not None else MemorySagaStorage())
        self._handlers = HandlerSource(_bootstrap.container(container))
        self._saga_id = saga_id or uuid.uuid4()
        self._is_new = saga_id is None
        self._run = SagaExecution(
            saga_type,
            self._storage,
            self._handlers,
            owner=f"transaction:{os.getpid()}:{uuid.uuid4().hex[:8]}",
            lease_seconds=lease_seconds,
            compensation=CompensationPolicy(
                compensation_retry_count, compensation_retry_delay, compensation_retry_backoff
            ),
        )
        self._acted: list[SagaStepHandler[ContextT, Any]] = []
        self._run.acted = self._acted
        self._completed: list[tuple[int, type[SagaStepHandler[Any, Any]]]] = []
        self._steps: AsyncGenerator[SagaStepResult[Any, Any], None] | None = None
        self._iterator: AsyncGenerator[SagaStepResult[ContextT, Any], None] | None = None
        self._compensated = False

    @property
    def saga_id(self) -> uuid.UUID:
        """The saga's id: the one given, or a new one."""
        return self._saga_id

    @property
    def completed_steps(self) -> list[SagaStepHandler[ContextT, Any]]:
        """The step handlers done so far, in order (those of an earlier run built anew); read
        their `events` to publish what the steps emitted."""
        return self._acted

    async def __aenter__(self) -> SagaTransaction[ContextT]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> bool:
        try:
            if (
                exc is not None
                and exc_type is not GeneratorExit
                and not isinstance(exc, SagaConcurrencyError)
                and not self._compensated
                and self._run.final is None
                and self._steps is not None
            ):
                await self._compensate(exc)
        finally:
            await self._close()
        return False

    def __aiter__(self) -> AsyncIterator[SagaStepResult[ContextT, Any]]:
        if self._iterator is None:
            self._iterator = self._iterate()
        return self._iterator

    async def _iterate(self) -> AsyncGenerator[SagaStepResult[ContextT, Any], None]:
        run, storage, saga_id = self._run, self._storage, self._saga_id
        steps: AsyncGenerator[SagaStepResult[Any, Any], None]
        if self._is_new:
            steps = run.start(self._context, saga_id, self._completed)
        else:
            state = await storage.acquire(saga_id, owner=run.owner, lease_seconds=run.lease_seconds)
            if state is None:
                current = await storage.load_saga_state(saga_id)
                if current is not None:
                    raise SagaConcurrencyError(
                        f"saga {saga_id} is driven by {current.lease_owner} (leased until "
                        f"{current.lease_until})"
                    )
                steps = run.start(self._context, saga_id, self._completed)
            elif state.status is SagaStatus.COMPLETED:
                await storage.release(saga_id, owner=run.owner)
                _log.info("Saga %s is already %s. Skipping execution.", saga_id, state.status)
                return
            elif state.status in (SagaStatus.RUNNING, SagaStatus.PENDING):
                for entry in state.history:
                    if entry.action == "act" and entry.status is SagaStepStatus.COMPLETED:
                        try:
                            step_type = run._step_class(entry.step_index, entry.step_name)
                        except LookupError:
                            continue
                        self._acted.append(await self._handlers.build(step_type))
                steps = run.resume(state, self._context, self._completed)
            else:
                if state.status is SagaStatus.COMPENSATING:
                    self._steps = run.resume(state, self._context, self._completed)
                    async for _ in self._steps:
                        pass
                else:
                    await storage.release(saga_id, owner=run.owner)
                self._compensated = True
                raise RuntimeError(
                    f"Saga {saga_id} was recovered in {state.status} state and compensation "
                    "was completed. Forward execution is not allowed."
                )
        self._steps = steps
        try:
            async for result in steps:
                yield result
        except SagaCompensationError as failure:
            self._compensated = True
            cause = failure.__context__
            if isinstance(cause, Exception):
                cause.add_note(str(failure))
                raise cause from None
            raise
        except BaseException:
            if run.final is not None:
                self._compensated = True
            raise

    async def _compensate(self, exc: BaseException) -> None:
        """Record the failure of the `async with` body and compensate the steps done."""
        self._compensated = True
        run, saga_id = self._run, self._saga_id
        completed = self._completed
        await run._transition(
            saga_id,
            self._context,
            status=SagaStatus.COMPENSATING if completed else SagaStatus.COMPENSATED,
            index=max((index for index, _ in completed), default=-1) + 1,
            step_name="saga",
            action="act",
            step_status=SagaStepStatus.FAILED,
            details=_error_text(exc),
        )
        if not completed:
            return
        try:
            await run._compensate(self._context, saga_id, completed)
        except SagaCompensationError as failure:
            exc.add_note(str(failure))

    async def _close(self) -> None:
        """Close the step iterators: an unfinished run releases its lease for recovery."""
        for iterator in (self._iterator, self._steps):
            if iterator is not None:
                await iterator.aclose()
