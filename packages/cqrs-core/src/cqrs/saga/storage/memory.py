"""Saga storage in process memory: the default, with the same versioning and lease rules."""

from __future__ import annotations

import datetime
import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cqrs.clock import utcnow
from cqrs.outbox.memory import MemoryOutboxedEventRepository
from cqrs.protocols.models import INotificationEvent
from cqrs.saga.models import SagaLogEntry, SagaState, SagaStatus
from cqrs.saga.storage._pycqrs4 import Pycqrs4StorageMethods, default_owner
from cqrs.saga.storage.protocol import SagaConcurrencyError

__all__ = ["MemorySagaStorage"]


_TERMINAL = frozenset({SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.FAILED})


@functools.lru_cache(maxsize=64)
def _seconds(seconds: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=seconds)


class _Record:
    """A saga as kept in memory: mutated in place, copied out as a `SagaState` on reads."""

    __slots__ = (
        "context",
        "created_at",
        "lease_owner",
        "lease_until",
        "log",
        "saga_id",
        "saga_name",
        "status",
        "trace",
        "updated_at",
        "version",
    )

    def __init__(
        self,
        saga_id: uuid.UUID,
        saga_name: str,
        context: dict[str, Any],
        now: datetime.datetime,
        owner: str | None,
        lease_until: datetime.datetime | None,
        trace: Mapping[str, str] | None,
    ) -> None:
        self.saga_id = saga_id
        self.saga_name = saga_name
        self.status = SagaStatus.RUNNING
        self.context = context
        self.version = 1
        self.created_at = now
        self.updated_at = now
        self.lease_owner = owner
        self.lease_until = lease_until
        self.log: list[SagaLogEntry] = []
        self.trace = trace

    def state(self, *, with_history: bool = True) -> SagaState:
        return SagaState(
            saga_id=self.saga_id,
            saga_name=self.saga_name,
            status=self.status,
            context=dict(self.context),
            version=self.version,
            created_at=self.created_at,
            updated_at=self.updated_at,
            lease_owner=self.lease_owner,
            lease_until=self.lease_until,
            history=tuple(self.log) if with_history else (),
            trace=self.trace,
        )


class MemorySagaStorage(Pycqrs4StorageMethods):
    """Keeps sagas in a dict; nothing survives the process, but every rule of the protocol holds."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime.datetime] = utcnow,
        outbox: MemoryOutboxedEventRepository | None = None,
    ) -> None:
        self._clock = clock
        self.outbox = outbox
        self._sagas: dict[uuid.UUID, _Record] = {}
        self.transitions = 0

    @property
    def writes_outbox(self) -> bool:
        """Whether notification events of steps go to the attached outbox with each transition."""
        return self.outbox is not None

    async def create_saga(
        self,
        saga_id: uuid.UUID,
        saga_name: str,
        context: dict[str, Any],
        *,
        owner: str | None = None,
        lease_seconds: float = 0.0,
        trace: Mapping[str, str] | None = None,
    ) -> SagaState:
        if owner is None:
            owner = default_owner()
        if saga_id in self._sagas:
            raise SagaConcurrencyError(f"saga {saga_id} already exists")
        now = self._clock()
        until = now + _seconds(lease_seconds)
        kept = dict(trace) if trace else None
        self._sagas[saga_id] = _Record(saga_id, saga_name, dict(context), now, owner, until, kept)
        self.transitions += 1
        return SagaState(
            saga_id=saga_id,
            saga_name=saga_name,
            status=SagaStatus.RUNNING,
            context=context,
            version=1,
            created_at=now,
            updated_at=now,
            lease_owner=owner,
            lease_until=until,
            trace=kept,
        )

    def _held_elsewhere(self, record: _Record, owner: str, now: datetime.datetime) -> bool:
        return (
            record.lease_owner is not None
            and record.lease_owner != owner
            and record.lease_until is not None
            and record.lease_until > now
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
        record = self._sagas.get(saga_id)
        if record is None:
            raise SagaConcurrencyError(f"saga {saga_id} does not exist")
        now = entry.timestamp if entry is not None and self._clock is utcnow else self._clock()
        if record.version != version or (
            record.lease_owner is not None
            and record.lease_owner != owner
            and record.lease_until is not None
            and record.lease_until > now
        ):
            raise SagaConcurrencyError(
                f"saga {saga_id} moved on (version {record.version}, expected {version}, "
                f"lease {record.lease_owner})"
            )
        if status is not None:
            record.status = status
        if context is not None:
            record.context = context
        record.version = version + 1
        record.updated_at = now
        if record.status in _TERMINAL:
            record.lease_owner = record.lease_until = None
        else:
            record.lease_owner = owner
            record.lease_until = now + _seconds(lease_seconds)
        if entry is not None:
            record.log.append(entry)
        if outbox_events and self.outbox is not None:
            async with self.outbox as session:
                for event in outbox_events:
                    self.outbox.add(session, event)
                await self.outbox.commit(session)
        self.transitions += 1
        return version + 1

    async def load_saga_state(
        self, saga_id: uuid.UUID, *, read_for_update: bool = False
    ) -> SagaState | None:
        record = self._sagas.get(saga_id)
        return None if record is None else record.state()

    async def get_step_history(self, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        record = self._sagas.get(saga_id)
        return [] if record is None else list(record.log)

    async def find_interrupted(self, *, stale_after: float, limit: int = 100) -> list[uuid.UUID]:
        now = self._clock()
        cutoff = now - datetime.timedelta(seconds=stale_after)
        found = [
            record.saga_id
            for record in self._sagas.values()
            if not record.status.terminal
            and record.updated_at <= cutoff
            and (record.lease_until is None or record.lease_until <= now)
        ]
        return found[:limit]

    async def acquire(
        self, saga_id: uuid.UUID, *, owner: str, lease_seconds: float
    ) -> SagaState | None:
        record = self._sagas.get(saga_id)
        now = self._clock()
        if record is None or self._held_elsewhere(record, owner, now):
            return None
        record.version += 1
        record.lease_owner = owner
        record.lease_until = now + datetime.timedelta(seconds=lease_seconds)
        self.transitions += 1
        return record.state()

    async def release(self, saga_id: uuid.UUID, *, owner: str) -> None:
        record = self._sagas.get(saga_id)
        if record is not None and record.lease_owner == owner:
            record.lease_owner = record.lease_until = None

    async def renew(self, saga_id: uuid.UUID, *, owner: str, lease_seconds: float) -> bool:
        record = self._sagas.get(saga_id)
        if record is None or record.lease_owner != owner:
            return False
        record.lease_until = self._clock() + _seconds(lease_seconds)
        return True
