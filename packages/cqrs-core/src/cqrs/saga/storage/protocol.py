"""The saga storage boundary: state, context and step log, written together at each transition.

Guarantees every implementation gives (checked by `cqrs.saga.storage.contract.SagaStorageContract`):

- `transition` is atomic and costs one round trip: the new status and context and the log
  entry are all written, or none is.
- Optimistic versioning: every write names the version it read; a write against a newer version
  raises `SagaConcurrencyError` and changes nothing.
- Leases: the driver of a saga holds a lease (renewed by each transition and by `renew`,
  dropped on a terminal status). `acquire` takes it only if it is free, expired or already the
  caller's, so two recovery workers never drive the same saga; a crashed driver's lease expires.
- Trace: the `trace` headers given to `create_saga` (correlation id, W3C trace context) come
  back unchanged in every `SagaState` read later, so a recovered saga continues the trace and the
  correlation of the run that started it; transitions never change them, and a saga created
  without any (or with an empty mapping) reads back `trace=None`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from cqrs.errors import SagaConcurrencyError, SagaLeaseLostError
from cqrs.protocols.models import INotificationEvent
from cqrs.saga.models import SagaLogEntry, SagaState, SagaStatus

__all__ = ["SagaConcurrencyError", "SagaLeaseLostError", "SagaStorage"]


@runtime_checkable
class SagaStorage(Protocol):
    """Where sagas live between transitions.

    A storage with an attached outbox (`writes_outbox` true) also accepts `outbox_events` in
    `transition` and writes them to the outbox atomically with the transition.
    """

    @property
    def writes_outbox(self) -> bool:
        """Whether `transition` writes `outbox_events` to an outbox in the same transaction."""
        ...

    async def create_saga(
        self,
        saga_id: uuid.UUID,
        saga_name: str,
        context: dict[str, Any],
        *,
        owner: str,
        lease_seconds: float,
        trace: Mapping[str, str] | None = None,
    ) -> SagaState:
        """Store a new RUNNING saga at version 1, leased to `owner`, with the `trace` headers
        captured where it started; raises if the id exists."""
        ...

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
        """Apply one transition if the saga is still at `version`; returns the new version."""
        ...

    async def load_saga_state(self, saga_id: uuid.UUID) -> SagaState | None:
        """The saga with its step log, or `None`."""
        ...

    async def get_step_history(self, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        """The step log of a saga, oldest first."""
        ...

    async def find_interrupted(self, *, stale_after: float, limit: int = 100) -> list[uuid.UUID]:
        """Non-terminal sagas untouched for `stale_after` seconds whose lease has expired."""
        ...

    async def acquire(
        self, saga_id: uuid.UUID, *, owner: str, lease_seconds: float
    ) -> SagaState | None:
        """Take the saga's lease and return its state, or `None` if another owner holds it."""
        ...

    async def release(self, saga_id: uuid.UUID, *, owner: str) -> None:
        """Drop `owner`'s lease (nothing happens if it does not hold it)."""
        ...

    async def renew(self, saga_id: uuid.UUID, *, owner: str, lease_seconds: float) -> bool:
        """Extend `owner`'s lease to `lease_seconds` from now, leaving the version alone.

        The heartbeat of a long step: transitions in flight still carry the version they read.
        Returns False, changing nothing, if `owner` no longer holds the lease (another worker
        took it, it was released, or the saga ended or does not exist); an expired lease that
        no one took is still `owner`'s.
        """


def __getattr__(name: str) -> Any:
    """python-cqrs 4.x names kept at this path, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
