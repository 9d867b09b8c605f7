"""An in-process circuit breaker: one closed/open/half-open circuit per handler or step.

Example::

    breaker = MemoryCircuitBreaker(failure_threshold=3, reset_timeout=30.0)
    result = await breaker.call(PaymentHandler, handler.handle, request)
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cqrs.memory.breaker_state import MemoryBreakerStateStore
from cqrs.protocols.breaker_state import CircuitState
from cqrs.protocols.circuit_breaker import circuit_name
from cqrs.stored_circuit_breaker import StoredCircuitBreaker

__all__ = ["CircuitState", "MemoryCircuitBreaker"]


class MemoryCircuitBreaker(StoredCircuitBreaker):
    """A `StoredCircuitBreaker` over a `MemoryBreakerStateStore`: state lives in this process.

    After `failure_threshold` consecutive failures (exceptions that are instances of
    `failure_exceptions` and not of `excluded_exceptions`) a circuit opens: calls raise
    `CircuitOpenError` without running. Once `reset_timeout` seconds have passed it is half-open:
    one trial call runs (concurrent callers are refused); its success closes the circuit, its
    failure re-opens it for another `reset_timeout`. Any other `Exception` counts as a success,
    since the dependency did answer. It assumes one event loop.
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 60.0,
        failure_exceptions: tuple[type[BaseException], ...] = (Exception,),
        excluded_exceptions: tuple[type[BaseException], ...] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._memory = MemoryBreakerStateStore(clock=clock)
        super().__init__(
            self._memory,
            failure_threshold=failure_threshold,
            reset_timeout=reset_timeout,
            failure_exceptions=failure_exceptions,
            excluded_exceptions=excluded_exceptions,
        )

    def state(self, identifier: type | str) -> CircuitState:
        """The current state of `identifier`'s circuit (`"closed"` if it was never used)."""
        return self._memory.peek(circuit_name(identifier), reset_timeout=self.reset_timeout)

    def reset(self, identifier: type | str | None = None) -> None:
        """Close `identifier`'s circuit and forget its failures (every circuit if `None`)."""
        self._memory.clear(None if identifier is None else circuit_name(identifier))
