"""`Saga[Context]`: an ordered list of steps sharing one context type."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from cqrs.saga.fallback import Fallback
from cqrs.saga.step import SagaStepHandler

if TYPE_CHECKING:
    from cqrs.saga.transaction import SagaTransaction

__all__ = ["Saga", "SagaStep"]

ContextT = TypeVar("ContextT")
SagaStep = type[SagaStepHandler[Any, Any]] | Fallback
"""An entry of `Saga.steps`: a step class, or a `Fallback` pair."""


class Saga(Generic[ContextT]):
    """Declare `steps` on a subclass; they run in order and are compensated in reverse.

    Steps are checked when the subclass is created, so a typo fails at import time.
    """

    steps: ClassVar[Sequence[SagaStep]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        steps = cls.__dict__.get("steps", ())
        if not isinstance(steps, list | tuple):
            raise TypeError(f"{cls.__qualname__}.steps must be a list of steps")
        for index, step in enumerate(steps):
            if isinstance(step, Fallback):
                continue
            if not (isinstance(step, type) and issubclass(step, SagaStepHandler)):
                raise TypeError(
                    f"{cls.__qualname__}.steps[{index}] must be a SagaStepHandler subclass or a "
                    f"Fallback, got {step!r}"
                )

    @classmethod
    def saga_name(cls) -> str:
        """The name stored with each run of this saga."""
        return cls.__qualname__

    @classmethod
    def step_names(cls) -> list[str]:
        """The primary step name at each position (a fallback's primary for `Fallback`)."""
        return [
            (step.step if isinstance(step, Fallback) else step).step_name() for step in cls.steps
        ]

    @property
    def steps_count(self) -> int:
        """How many steps the saga has."""
        return len(self.steps)

    def transaction(
        self,
        context: ContextT,
        container: Any = None,
        storage: Any = None,
        saga_id: uuid.UUID | None = None,
        compensation_retry_count: int = 3,
        compensation_retry_delay: float = 1.0,
        compensation_retry_backoff: float = 2.0,
        *,
        lease_seconds: float = 60.0,
    ) -> SagaTransaction[ContextT]:
        """Run this saga step by step without a mediator (python-cqrs 4.x's API):
        `async with saga.transaction(context=...) as t: async for result in t: ...`.

        `storage` is a saga storage (memory if omitted) or one written for 4.x's
        `ISagaStorage`; `container` builds the steps (the built-in container if omitted).
        """
        from cqrs.saga.transaction import SagaTransaction

        return SagaTransaction(
            self,
            context,
            container,
            storage,
            saga_id,
            compensation_retry_count,
            compensation_retry_delay,
            compensation_retry_backoff,
            lease_seconds=lease_seconds,
        )


def __getattr__(name: str) -> Any:
    """python-cqrs 4.x names kept at this path, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
