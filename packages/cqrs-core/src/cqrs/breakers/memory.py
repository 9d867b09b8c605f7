"""Circuit breakers in process memory: `MemoryBreakerStateStore` and `MemoryCircuitBreaker`.

Each store operation runs without awaiting, so it is atomic within the event loop that owns the
store. Example::

    breaker = MemoryCircuitBreaker(failure_threshold=3, reset_timeout=30.0)
    result = await breaker.call(PaymentHandler, handler.handle, request)
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cqrs.breakers.protocol import BreakerPermit, CircuitState, circuit_name
from cqrs.breakers.stored import StoredCircuitBreaker

__all__ = ["MemoryBreakerStateStore", "MemoryCircuitBreaker"]

_CLOSED = BreakerPermit(True)


class _Circuit:
    """One circuit: consecutive failures, when it opened, and the trial lease while half-open."""

    __slots__ = ("failures", "generation", "opened_at", "trial_until")

    def __init__(self) -> None:
        self.failures = 0
        self.generation = 0
        self.opened_at: float | None = None
        self.trial_until: float | None = None


class MemoryBreakerStateStore:
    """A `cqrs.BreakerStateStore` in a dict, for one process; `clock` is injectable for tests.

    `peek` and `clear` are synchronous twins of `read` and `reset`, for callers outside a
    coroutine.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def peek(self, identifier: str, *, reset_timeout: float) -> CircuitState:
        """The circuit's state, read synchronously."""
        circuit = self._circuits.get(identifier)
        if circuit is None or circuit.opened_at is None:
            return "closed"
        if self._clock() - circuit.opened_at < reset_timeout:
            return "open"
        return "half_open"

    def clear(self, identifier: str | None = None) -> None:
        """Close `identifier`'s circuit (every circuit if `None`), synchronously."""
        circuits = (
            self._circuits.values() if identifier is None else [self._circuits.get(identifier)]
        )
        for circuit in circuits:
            if circuit is not None:
                circuit.failures = 0
                circuit.opened_at = circuit.trial_until = None
                circuit.generation += 1

    async def read(self, identifier: str, *, reset_timeout: float) -> CircuitState:
        return self.peek(identifier, reset_timeout=reset_timeout)

    async def claim(
        self, identifier: str, *, reset_timeout: float, trial_timeout: float
    ) -> BreakerPermit:
        circuit = self._circuits.get(identifier)
        if circuit is None:
            return _CLOSED
        if circuit.opened_at is None:
            return BreakerPermit(True, circuit.generation, failures=circuit.failures)
        now = self._clock()
        waited = now - circuit.opened_at
        if waited < reset_timeout:
            return BreakerPermit(False, circuit.generation, retry_after=reset_timeout - waited)
        if circuit.trial_until is not None and circuit.trial_until > now:
            return BreakerPermit(False, circuit.generation)
        circuit.generation += 1
        circuit.trial_until = now + trial_timeout
        return BreakerPermit(True, circuit.generation, trial=True, failures=circuit.failures)

    async def record_failure(self, identifier: str, *, generation: int, threshold: int) -> bool:
        circuit = self._circuits.get(identifier)
        if circuit is None:
            if generation != 0:
                return False
            circuit = self._circuits[identifier] = _Circuit()
        if circuit.generation != generation:
            return False
        if circuit.opened_at is not None and circuit.trial_until is None:
            return False
        circuit.failures += 1
        if circuit.opened_at is None and circuit.failures < threshold:
            return False
        circuit.opened_at = self._clock()
        circuit.trial_until = None
        circuit.generation += 1
        return True

    async def record_success(self, identifier: str, *, generation: int) -> bool:
        circuit = self._circuits.get(identifier)
        if circuit is None or circuit.generation != generation:
            return False
        if circuit.opened_at is None:
            circuit.failures = 0
            return False
        if circuit.trial_until is None:
            return False
        circuit.failures = 0
        circuit.opened_at = circuit.trial_until = None
        circuit.generation += 1
        return True

    async def release_trial(self, identifier: str, *, generation: int) -> None:
        circuit = self._circuits.get(identifier)
        if circuit is not None and circuit.generation == generation:
            circuit.trial_until = None

    async def reset(self, identifier: str) -> None:
        self.clear(identifier)


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
