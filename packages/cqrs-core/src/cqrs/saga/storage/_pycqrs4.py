"""python-cqrs 4.x's `ISagaStorage` methods, written once over our protocol for every storage.

`MemorySagaStorage`, `SqlAlchemySagaStorage` and `RedisSagaStorage` inherit
`Pycqrs4StorageMethods`, so 4.x code calling `update_status`, `log_step`,
`get_sagas_for_recovery`, ... on them works. Each such write is one `transition` at the version
just read: it keeps the lease of whoever holds one (4.x has no leases, so its writes neither take
nor extend one). Recovery attempts are counted in the step log (a `saga:recovery` entry), so
they need no column of their own and change atomically with the status.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING, Any, cast

from cqrs.clock import utcnow
from cqrs.errors import SagaConcurrencyError, SagaNotFoundError
from cqrs.saga.models import SagaAction, SagaLogEntry, SagaState, SagaStatus, SagaStepStatus

if TYPE_CHECKING:
    from cqrs.saga.storage.protocol import SagaStorage

__all__ = ["RECOVERY_STEP", "Pycqrs4StorageMethods", "default_owner", "recovery_attempts"]

RECOVERY_STEP = "saga:recovery"
"""The step name of the log entries counting a saga's failed recovery attempts."""

_RECOVERABLE = (SagaStatus.RUNNING, SagaStatus.COMPENSATING)
_ATTEMPTS = "recovery_attempts="


def default_owner() -> str:
    """The lease owner of a saga created by a caller that names none: this host and process."""
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def recovery_attempts(state: SagaState) -> int:
    """How many recovery attempts of the saga failed, read from its step log."""
    for entry in reversed(state.history):
        if entry.step_name == RECOVERY_STEP and entry.details:
            return int(entry.details.removeprefix(_ATTEMPTS))
    return 0


def _step_index(state: SagaState, step_name: str) -> int:
    """The index a 4.x caller's log entry for `step_name` gets: the one the step already has,
    else the position after the last step that acted."""
    acted = -1
    for entry in state.history:
        if entry.step_name == step_name:
            return entry.step_index
        if entry.action == "act" and entry.step_name != RECOVERY_STEP:
            acted = max(acted, entry.step_index)
    return acted + 1


class Pycqrs4StorageMethods:
    """The 4.x storage calls (`update_context`, `update_status`, `log_step`,
    `get_sagas_for_recovery`, `increment_recovery_attempts`, `set_recovery_attempts`) over
    `load_saga_state`, `transition` and `find_interrupted`.

    An unknown saga raises `SagaNotFoundError` (a `ValueError`, as in 4.x); a stale
    `current_version` raises `SagaConcurrencyError`.
    """

    __slots__ = ()

    async def _pycqrs4_write(
        self,
        saga_id: uuid.UUID,
        *,
        current_version: int | None = None,
        status: SagaStatus | None = None,
        context: dict[str, Any] | None = None,
        entry: tuple[str, SagaAction, SagaStepStatus, str | None] | None = None,
    ) -> None:
        storage = cast("SagaStorage", self)
        state = await storage.load_saga_state(saga_id)
        if state is None:
            raise SagaNotFoundError(f"Saga {saga_id} not found")
        if current_version is not None and state.version != current_version:
            raise SagaConcurrencyError(f"Saga {saga_id} was modified concurrently")
        now = utcnow()
        if state.lease_owner is not None and state.lease_until is not None:
            owner, lease = state.lease_owner, (state.lease_until - now).total_seconds()
        else:
            owner, lease = default_owner(), 0.0
        log = None
        if entry is not None:
            step_name, action, step_status, details = entry
            log = SagaLogEntry(
                saga_id=saga_id,
                step_index=-1 if step_name == RECOVERY_STEP else _step_index(state, step_name),
                step_name=step_name,
                action=action,
                status=SagaStepStatus(step_status),
                timestamp=now,
                details=details,
            )
        await storage.transition(
            saga_id,
            version=state.version,
            owner=owner,
            lease_seconds=max(lease, 0.0),
            status=None if status is None else SagaStatus(status),
            context=context,
            entry=log,
        )

    async def update_context(
        self,
        saga_id: uuid.UUID,
        context: dict[str, Any],
        current_version: int | None = None,
    ) -> None:
        """Store a new context snapshot; with `current_version`, only if the saga is still there."""
        await self._pycqrs4_write(saga_id, current_version=current_version, context=context)

    async def update_status(self, saga_id: uuid.UUID, status: SagaStatus) -> None:
        """Set the saga's status (a terminal one drops its lease)."""
        await self._pycqrs4_write(saga_id, status=status)

    async def log_step(
        self,
        saga_id: uuid.UUID,
        step_name: str,
        action: SagaAction,
        status: SagaStepStatus,
        details: str | None = None,
    ) -> None:
        """Append a step log entry (4.x's entries have no step index: the step's own is used, or
        the position after the last step that acted)."""
        await self._pycqrs4_write(saga_id, entry=(step_name, action, status, details))

    async def get_sagas_for_recovery(
        self,
        limit: int,
        max_recovery_attempts: int = 5,
        stale_after_seconds: int | None = None,
        saga_name: str | None = None,
    ) -> list[uuid.UUID]:
        """RUNNING or COMPENSATING sagas with fewer than `max_recovery_attempts` failed
        recoveries, oldest update first; leased sagas are left out, as `find_interrupted` does."""
        storage = cast("SagaStorage", self)
        scan = max(limit, 1) * 2
        while True:
            found = await storage.find_interrupted(
                stale_after=float(stale_after_seconds or 0), limit=scan
            )
            picked: list[SagaState] = []
            for saga_id in found:
                state = await storage.load_saga_state(saga_id)
                if (
                    state is not None
                    and state.status in _RECOVERABLE
                    and recovery_attempts(state) < max_recovery_attempts
                    and (saga_name is None or state.saga_name == saga_name)
                ):
                    picked.append(state)
            if len(picked) >= limit or len(found) < scan:
                break
            scan *= 4
        picked.sort(key=lambda state: state.updated_at)
        return [state.saga_id for state in picked[:limit]]

    async def increment_recovery_attempts(
        self, saga_id: uuid.UUID, new_status: SagaStatus | None = None
    ) -> None:
        """Count one more failed recovery and, with `new_status`, set the status in the same
        transition."""
        for attempt in range(3):
            state = await cast("SagaStorage", self).load_saga_state(saga_id)
            if state is None:
                raise SagaNotFoundError(f"Saga {saga_id} not found")
            try:
                await self._pycqrs4_write(
                    saga_id,
                    current_version=state.version,
                    status=new_status,
                    entry=self._recovery_entry(recovery_attempts(state) + 1),
                )
                return
            except SagaConcurrencyError:
                if attempt == 2:
                    raise

    async def set_recovery_attempts(self, saga_id: uuid.UUID, attempts: int) -> None:
        """Set the failed-recovery count (0 to reset it, the maximum to exclude the saga)."""
        await self._pycqrs4_write(saga_id, entry=self._recovery_entry(attempts))

    @staticmethod
    def _recovery_entry(attempts: int) -> tuple[str, SagaAction, SagaStepStatus, str]:
        return (RECOVERY_STEP, "act", SagaStepStatus.FAILED, f"{_ATTEMPTS}{attempts}")
