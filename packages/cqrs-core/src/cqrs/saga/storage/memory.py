"""Saga storage in process memory: the default, with the same versioning and lease rules."""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from cqrs.memory.outbox import MemoryOutboxedEventRepository
from cqrs.protocols.models import INotificationEvent
from cqrs.saga.models import SagaLogEntry, SagaState, SagaStatus
from cqrs.saga.storage.protocol import SagaConcurrencyError

__all__ = ["MemorySagaStorage"]


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class MemorySagaStorage:
    """Keeps sagas in a dict; nothing survives the process, but every rule of the protocol holds."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime.datetime] = _utcnow,
        outbox: MemoryOutboxedEventRepository | None = None,
    ) -> None:
        self._clock = clock
        self.outbox = outbox
        self._sagas: dict[uuid.UUID, SagaState] = {}
        self._logs: dict[uuid.UUID, list[SagaLogEntry]] = {}
        self.transitions = 0

    @property
    def writes_outbox(self) -> bool:
        """Whether notification events of steps go to the attached outbox with each transition."""
        return self.outbox is not None

    def _lease_until(self, seconds: float) -> datetime.datetime:
        return self._clock() + datetime.timedelta(seconds=seconds)

    async def create_saga(
        self,
        saga_id: uuid.UUID,
        saga_name: str,
        context: dict[str, Any],
        *,
        owner: str,
        lease_seconds: float,
    ) -> SagaState:
        if saga_id in self._sagas:
            raise SagaConcurrencyError(f"saga {saga_id} already exists")
        now = self._clock()
        state = SagaState(
            saga_id=saga_id,
            saga_name=saga_name,
            status=SagaStatus.RUNNING,
            context=dict(context),
            version=1,
            created_at=now,
            updated_at=now,
            lease_owner=owner,
            lease_until=self._lease_until(lease_seconds),
        )
        self._sagas[saga_id] = state
        self._logs[saga_id] = []
        self.transitions += 1
        return state

    def _held_elsewhere(self, state: SagaState, owner: str) -> bool:
        return (
            state.lease_owner is not None
            and state.lease_owner != owner
            and state.lease_until is not None
            and state.lease_until > self._clock()
        )

    async def transition(
        self,
        saga_id: uuid.UUID,
        *,
        version: int,
        owner: str,
        lease_seconds: float,
        status: SagaStatus | None = None,
        context: dict[str, Any] | None = None,
        entry: SagaLogEntry | None = None,
        outbox_events: Sequence[INotificationEvent] = (),
    ) -> int:
        if outbox_events and self.outbox is None:
            raise TypeError("this saga storage has no outbox for outbox_events")
        state = self._sagas.get(saga_id)
        if state is None:
            raise SagaConcurrencyError(f"saga {saga_id} does not exist")
        if state.version != version or self._held_elsewhere(state, owner):
            raise SagaConcurrencyError(
                f"saga {saga_id} moved on (version {state.version}, expected {version}, "
                f"lease {state.lease_owner})"
            )
        new_status = status or state.status
        terminal = new_status.terminal
        self._sagas[saga_id] = dataclasses.replace(
            state,
            status=new_status,
            context=dict(context) if context is not None else state.context,
            version=version + 1,
            updated_at=self._clock(),
            lease_owner=None if terminal else owner,
            lease_until=None if terminal else self._lease_until(lease_seconds),
        )
        if entry is not None:
            self._logs[saga_id].append(entry)
        if outbox_events and self.outbox is not None:
            async with self.outbox as session:
                for event in outbox_events:
                    self.outbox.add(session, event)
                await self.outbox.commit(session)
        self.transitions += 1
        return version + 1

    async def load_saga_state(self, saga_id: uuid.UUID) -> SagaState | None:
        state = self._sagas.get(saga_id)
        if state is None:
            return None
        return dataclasses.replace(state, history=tuple(self._logs[saga_id]))

    async def get_step_history(self, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        return list(self._logs.get(saga_id, ()))

    async def find_interrupted(self, *, stale_after: float, limit: int = 100) -> list[uuid.UUID]:
        now = self._clock()
        cutoff = now - datetime.timedelta(seconds=stale_after)
        found = [
            state.saga_id
            for state in self._sagas.values()
            if not state.status.terminal
            and state.updated_at <= cutoff
            and (state.lease_until is None or state.lease_until <= now)
        ]
        return found[:limit]

    async def acquire(
        self, saga_id: uuid.UUID, *, owner: str, lease_seconds: float
    ) -> SagaState | None:
        state = self._sagas.get(saga_id)
        if state is None or self._held_elsewhere(state, owner):
            return None
        state = self._sagas[saga_id] = dataclasses.replace(
            state,
            version=state.version + 1,
            lease_owner=owner,
            lease_until=self._lease_until(lease_seconds),
        )
        self.transitions += 1
        return dataclasses.replace(state, history=tuple(self._logs[saga_id]))

    async def release(self, saga_id: uuid.UUID, *, owner: str) -> None:
        state = self._sagas.get(saga_id)
        if state is not None and state.lease_owner == owner:
            self._sagas[saga_id] = dataclasses.replace(state, lease_owner=None, lease_until=None)
