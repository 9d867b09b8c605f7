"""Recovering interrupted sagas: `recover_saga` for one, `SagaRecoveryWorker` for all of them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Callable
from typing import Any

from cqrs._handler_source import HandlerSource
from cqrs.container.builtin import BuiltinContainer
from cqrs.events.event_processor import EventProcessor
from cqrs.protocols.container import Container
from cqrs.saga.execution import CompensationPolicy, SagaCompensationError, SagaExecution
from cqrs.saga.map import SagaMap
from cqrs.saga.models import SagaStatus
from cqrs.saga.saga import Saga
from cqrs.saga.storage.protocol import SagaStorage

__all__ = ["SagaRecoveryWorker", "recover_saga"]

_log = logging.getLogger("cqrs.saga.recovery")


def _build_context(context_builder: Callable[..., Any], data: dict[str, Any]) -> Any:
    from_dict = getattr(context_builder, "from_dict", None)
    if from_dict is not None:
        return from_dict(data)
    return context_builder(**data)


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
) -> SagaStatus | None:
    """Resume or finish compensating one saga from its stored state and step log.

    Takes the saga's lease first: returns `None` without doing anything if another worker holds
    it. A RUNNING saga resumes at its first step without a completed act (re-running only the
    step that was in flight); a COMPENSATING one compensates its remaining completed steps. A
    terminal saga is left alone. Returns the status the saga ended in.
    """
    if storage is None:
        raise TypeError("recover_saga needs the storage the saga was run with")
    saga_type = saga if isinstance(saga, type) else type(saga)
    owner = owner or f"recovery:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    state = await storage.acquire(saga_id, owner=owner, lease_seconds=lease_seconds)
    if state is None:
        _log.info("saga %s is leased by another worker; skipping", saga_id)
        return None
    if state.status.terminal:
        await storage.release(saga_id, owner=owner)
        return state.status
    run = SagaExecution(
        saga_type,
        storage,
        HandlerSource(container if container is not None else BuiltinContainer()),
        owner=owner,
        lease_seconds=lease_seconds,
        compensation=compensation or CompensationPolicy(),
        events=events,
    )
    context = _build_context(context_builder, state.context)
    try:
        async for _ in run.resume(state, context):
            pass
    except SagaCompensationError:
        return SagaStatus.FAILED
    except Exception as exc:
        _log.info("recovered saga %s failed a step and was compensated: %s", saga_id, exc)
    final = await storage.load_saga_state(saga_id)
    return None if final is None else final.status


class SagaRecoveryWorker:
    """Finds interrupted sagas and recovers them until stopped; run several for availability.

    Each saga is leased before it is driven, so workers never drive the same saga at once.
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
    ) -> None:
        self.saga_map = saga_map
        self.storage = storage
        self.container = container if container is not None else BuiltinContainer()
        self.stale_after = stale_after
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.compensation = compensation or CompensationPolicy()
        self.events = events
        self.owner = f"recovery:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.recovered: dict[SagaStatus, int] = {}
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Finish the saga in hand and return from `run`."""
        self._stopping.set()

    async def run_once(self) -> int:
        """Recover one batch of interrupted sagas; returns how many were driven to an end."""
        ids = await self.storage.find_interrupted(
            stale_after=self.stale_after, limit=self.batch_size
        )
        done = 0
        for saga_id in ids:
            if self._stopping.is_set():
                break
            state = await self.storage.load_saga_state(saga_id)
            if state is None:
                continue
            try:
                context_type, saga_type = self.saga_map.by_name(state.saga_name)
            except LookupError:
                _log.error("saga %s has unknown name %r; skipping", saga_id, state.saga_name)
                continue
            status = await recover_saga(
                saga_type,
                saga_id,
                context_type,
                self.container,
                self.storage,
                owner=self.owner,
                lease_seconds=self.lease_seconds,
                compensation=self.compensation,
                events=self.events,
            )
            if status is not None:
                self.recovered[status] = self.recovered.get(status, 0) + 1
                done += 1
                _log.info("saga %s recovered: %s", saga_id, status)
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
