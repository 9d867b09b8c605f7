"""Saga steps: `act` moves the saga forward, `compensate` undoes it."""

from __future__ import annotations

import abc
import dataclasses
import uuid
from typing import Any, ClassVar, Generic, TypeVar

from cqrs._emits_events import _EmitsEvents

__all__ = ["SagaStepHandler", "SagaStepResult"]

ContextT = TypeVar("ContextT")
ResponseT = TypeVar("ResponseT")


@dataclasses.dataclass(slots=True)
class SagaStepResult(Generic[ContextT, ResponseT]):
    """The outcome of one step's `act`, streamed by `SagaMediator.stream` (which fills in
    `step_type` with the class that ran and `saga_id`)."""

    response: ResponseT
    step_type: type[SagaStepHandler[ContextT, ResponseT]]
    with_error: bool = False
    error_message: str | None = None
    error_traceback: list[str] | None = None
    error_type: type[BaseException] | None = None
    saga_id: uuid.UUID | None = None


class SagaStepHandler(_EmitsEvents, abc.ABC, Generic[ContextT, ResponseT]):
    """One step of a saga; events appended to `self._events` are dispatched once it completes.

    `act` may run again after a crash (the step in flight is re-run by recovery), so it should
    be idempotent; `compensate` is retried on failure and should be idempotent too.
    """

    timeout: ClassVar[float | None] = None
    """Seconds `act` may take before it counts as failed (`None`: no limit)."""

    @abc.abstractmethod
    async def act(self, context: ContextT) -> SagaStepResult[ContextT, ResponseT]:
        """Do the step's work, updating `context`; return `self._generate_step_result(...)`."""

    async def compensate(self, context: ContextT) -> None:
        """Undo what `act` did (default: nothing to undo)."""

    def _generate_step_result(self, response: ResponseT) -> SagaStepResult[ContextT, ResponseT]:
        """The result of a successful `act` carrying `response`."""
        return SagaStepResult(response=response, step_type=type(self))

    @classmethod
    def step_name(cls) -> str:
        """The name recorded in the step log."""
        return cls.__qualname__

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__}>"


def __getattr__(name: str) -> Any:
    """python-cqrs 4.x names kept at this path, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
