"""A saga step with a fallback step, optionally guarded by a circuit breaker."""

from __future__ import annotations

import dataclasses
from typing import Any

from cqrs._fallback import check_handler_class, check_options
from cqrs.breakers.protocol import CircuitBreaker
from cqrs.saga.step import SagaStepHandler

__all__ = ["Fallback"]


@dataclasses.dataclass(frozen=True)
class Fallback:
    """Put in `Saga.steps`: when `step`'s act fails (or its circuit is open), `fallback` acts.

    Whichever ran is recorded in the step log and is the one compensated later.
    """

    step: type[SagaStepHandler[Any, Any]]
    fallback: type[SagaStepHandler[Any, Any]]
    circuit_breaker: CircuitBreaker | None = None
    failure_exceptions: tuple[type[Exception], ...] = ()

    def __post_init__(self) -> None:
        check_handler_class("Fallback", "step", self.step, SagaStepHandler)
        check_handler_class("Fallback", "fallback", self.fallback, SagaStepHandler)
        check_options("Fallback", self.failure_exceptions, self.circuit_breaker)
