"""Saga data: the context steps share, statuses, the step log and the persisted state."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from cqrs.model import Model

__all__ = [
    "SagaAction",
    "SagaContext",
    "SagaLogEntry",
    "SagaState",
    "SagaStatus",
    "SagaStepStatus",
]

SagaAction = Literal["act", "compensate"]


class SagaContext(Model):
    """The state one saga's steps read and write; persisted (via `to_dict`) at every transition.

    Subclass it with annotated fields, with or without `@dataclasses.dataclass`.
    """


class SagaStatus(enum.StrEnum):
    """Where a saga is. COMPLETED, COMPENSATED and FAILED are terminal."""

    PENDING = "pending"
    """Created but not started: written only by python-cqrs 4.x callers (`create_saga` then
    `update_status`); the engine starts sagas RUNNING and resumes a PENDING one from its start."""
    RUNNING = "running"
    COMPENSATING = "compensating"
    COMPLETED = "completed"
    COMPENSATED = "compensated"
    FAILED = "failed"
    """Compensation itself kept failing: needs a human; the reason is in the step log."""

    @property
    def terminal(self) -> bool:
        """Whether nothing more will happen to the saga."""
        return self in _TERMINAL


_TERMINAL = frozenset({SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.FAILED})


class SagaStepStatus(enum.StrEnum):
    """The outcome recorded for one action of one step."""

    STARTED = "started"
    """An action began: written only by python-cqrs 4.x callers; the engine records outcomes."""
    COMPLETED = "completed"
    FAILED = "failed"
    COMPENSATED = "compensated"


@dataclasses.dataclass(slots=True, kw_only=True)
class SagaLogEntry:
    """One line of a saga's step log: which step did what, when, and the error if any."""

    saga_id: uuid.UUID
    step_index: int
    step_name: str
    action: SagaAction
    status: SagaStepStatus
    timestamp: datetime.datetime
    details: str | None = None


@dataclasses.dataclass(slots=True, kw_only=True)
class SagaState:
    """A saga as stored: status, context, optimistic `version`, recovery lease, step log and the
    trace it started in."""

    saga_id: uuid.UUID
    saga_name: str
    status: SagaStatus
    context: dict[str, Any]
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    lease_owner: str | None = None
    lease_until: datetime.datetime | None = None
    history: tuple[SagaLogEntry, ...] = ()
    trace: Mapping[str, str] | None = None
    """Headers captured when the saga was created (correlation id, trace context); `None` if
    none were."""

    def __iter__(self) -> Iterator[Any]:
        """`status, context, version = state`: the tuple python-cqrs 4.x's `load_saga_state`
        returned, so 4.x callers unpack our state unchanged."""
        return iter((self.status, self.context, self.version))


def __getattr__(name: str) -> Any:
    """python-cqrs 4.x names kept at this path, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
