"""`Pycqrs4SagaStorage`: a storage written for python-cqrs 4.x's `ISagaStorage`, run by our engine.

4.x storages know nothing of leases, traces or one-call transitions, so the adapter supplies
them in this process: leases are held in memory (two processes sharing one 4.x storage are not
kept apart, and a lease does not survive a restart), a transition is several 4.x calls
(`update_context` at the expected version, `log_step`, `update_status`, then a read of the new
version; a crash between them may leave the log ahead of the status, as in 4.x), and the saga's
name and trace are remembered only for sagas this process created. A compensated saga is stored
FAILED, the status 4.x gives it.
"""

from __future__ import annotations

import datetime
import uuid
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from cqrs.clock import utcnow
from cqrs.errors import SagaConcurrencyError
from cqrs.protocols.models import INotificationEvent
from cqrs.saga.models import SagaLogEntry, SagaState, SagaStatus, SagaStepStatus
from cqrs.saga.storage._pycqrs4 import RECOVERY_STEP, default_owner
from cqrs.saga.storage.protocol import SagaStorage

__all__ = ["Pycqrs4SagaStorage", "as_saga_storage"]

_UNINDEXED = frozenset({"saga", RECOVERY_STEP})
_ANY_ATTEMPTS = 2**31 - 1

_ADAPTERS: weakref.WeakKeyDictionary[Any, Pycqrs4SagaStorage] = weakref.WeakKeyDictionary()
"""One adapter per 4.x storage object, so every run in this process sees the same leases."""


def as_saga_storage(storage: Any) -> SagaStorage:
    """`storage` itself if it is a saga storage of ours, else the adapter of the 4.x storage
    (the same adapter each time for the same object). A 4.x storage subclassing
    `ISagaStorage` (our protocol at its 4.x path) inherits the protocol's stubs, not a
    `transition` of its own."""
    transition = getattr(type(storage), "transition", None)
    if transition is not None and transition is not SagaStorage.transition:
        return storage  # type: ignore[no-any-return]
    try:
        adapter = _ADAPTERS.get(storage)
        if adapter is None:
            adapter = _ADAPTERS[storage] = Pycqrs4SagaStorage(storage)
    except TypeError:
        return Pycqrs4SagaStorage(storage)
    return adapter


def _status(value: Any) -> SagaStatus:
    return SagaStatus(str(getattr(value, "value", value)))


class Pycqrs4SagaStorage:
    """Our `SagaStorage` over a 4.x `ISagaStorage` (its `create_saga`, `update_context`,
    `update_status`, `log_step`, `load_saga_state`, `get_step_history` and
    `get_sagas_for_recovery`), with leases kept in this process."""

    writes_outbox = False

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self._leases: dict[uuid.UUID, tuple[str, datetime.datetime]] = {}
        self._names: dict[uuid.UUID, str] = {}
        self._traces: dict[uuid.UUID, dict[str, str]] = {}

    def _held_elsewhere(self, saga_id: uuid.UUID, owner: str, now: datetime.datetime) -> bool:
        lease = self._leases.get(saga_id)
        return lease is not None and lease[0] != owner and lease[1] > now

    def _lease(self, saga_id: uuid.UUID, owner: str, lease_seconds: float) -> None:
        self._leases[saga_id] = (owner, utcnow() + datetime.timedelta(seconds=lease_seconds))

    async def _exists(self, saga_id: uuid.UUID) -> bool:
        try:
            await self.storage.load_saga_state(saga_id)
        except ValueError:
            return False
        return True

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
        try:
            await self.storage.create_saga(saga_id, saga_name, context)
        except Exception as exc:
            if await self._exists(saga_id):
                raise SagaConcurrencyError(f"saga {saga_id} already exists") from exc
            raise
        await self.storage.update_status(saga_id, SagaStatus.RUNNING)
        self._lease(saga_id, owner or default_owner(), lease_seconds)
        self._names[saga_id] = saga_name
        if trace:
            self._traces[saga_id] = dict(trace)
        state = await self.load_saga_state(saga_id)
        assert state is not None
        return state

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
        if outbox_events:
            raise TypeError("a python-cqrs 4.x saga storage has no outbox for outbox_events")
        if self._held_elsewhere(saga_id, owner, utcnow()):
            raise SagaConcurrencyError(f"saga {saga_id} is leased by {self._leases[saga_id][0]}")
        try:
            if context is None:
                _, context, _ = await self.storage.load_saga_state(saga_id)
            await self.storage.update_context(saga_id, context, current_version=version)
        except ValueError as exc:
            raise SagaConcurrencyError(f"saga {saga_id} does not exist") from exc
        if entry is not None:
            await self.storage.log_step(
                saga_id, entry.step_name, entry.action, entry.status, entry.details
            )
        if status is not None:
            stored = SagaStatus.FAILED if status is SagaStatus.COMPENSATED else status
            await self.storage.update_status(saga_id, stored)
        _, _, new_version = await self.storage.load_saga_state(saga_id)
        if status is not None and status.terminal:
            self._leases.pop(saga_id, None)
        else:
            self._lease(saga_id, owner, lease_seconds)
        return int(new_version)

    async def load_saga_state(
        self, saga_id: uuid.UUID, *, read_for_update: bool = False
    ) -> SagaState | None:
        try:
            status, context, version = await self.storage.load_saga_state(saga_id)
        except ValueError:
            return None
        history = await self.get_step_history(saga_id)
        now = utcnow()
        lease = self._leases.get(saga_id)
        return SagaState(
            saga_id=saga_id,
            saga_name=self._names.get(saga_id, ""),
            status=_status(status),
            context=dict(context),
            version=int(version),
            created_at=history[0].timestamp if history else now,
            updated_at=history[-1].timestamp if history else now,
            lease_owner=None if lease is None else lease[0],
            lease_until=None if lease is None else lease[1],
            history=tuple(history),
            trace=self._traces.get(saga_id),
        )

    async def get_step_history(self, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        """The 4.x log with step indexes restored: each step name gets the index of its first
        act, in order (4.x logs have none); a compensation logged COMPLETED reads COMPENSATED."""
        indexes: dict[str, int] = {}
        entries = []
        for raw in await self.storage.get_step_history(saga_id):
            name = raw.step_name
            if name not in _UNINDEXED and name not in indexes and raw.action == "act":
                indexes[name] = len(indexes)
            status = SagaStepStatus(str(getattr(raw.status, "value", raw.status)))
            if raw.action == "compensate" and status is SagaStepStatus.COMPLETED:
                status = SagaStepStatus.COMPENSATED
            entries.append(
                SagaLogEntry(
                    saga_id=saga_id,
                    step_index=indexes.get(name, -1),
                    step_name=name,
                    action=raw.action,
                    status=status,
                    timestamp=raw.timestamp,
                    details=raw.details,
                )
            )
        return entries

    async def find_interrupted(self, *, stale_after: float, limit: int = 100) -> list[uuid.UUID]:
        found: list[uuid.UUID] = await self.storage.get_sagas_for_recovery(
            limit, max_recovery_attempts=_ANY_ATTEMPTS, stale_after_seconds=int(stale_after)
        )
        now = utcnow()
        return [saga_id for saga_id in found if not self._held_elsewhere(saga_id, "", now)]

    async def acquire(
        self, saga_id: uuid.UUID, *, owner: str, lease_seconds: float
    ) -> SagaState | None:
        if self._held_elsewhere(saga_id, owner, utcnow()):
            return None
        try:
            _, context, version = await self.storage.load_saga_state(saga_id)
            await self.storage.update_context(saga_id, context, current_version=version)
        except (ValueError, SagaConcurrencyError):
            return None
        self._lease(saga_id, owner, lease_seconds)
        return await self.load_saga_state(saga_id)

    async def release(self, saga_id: uuid.UUID, *, owner: str) -> None:
        lease = self._leases.get(saga_id)
        if lease is not None and lease[0] == owner:
            del self._leases[saga_id]

    async def renew(self, saga_id: uuid.UUID, *, owner: str, lease_seconds: float) -> bool:
        lease = self._leases.get(saga_id)
        if lease is None or lease[0] != owner:
            return False
        self._lease(saga_id, owner, lease_seconds)
        return True
