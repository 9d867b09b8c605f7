"""An in-process circuit breaker: one closed/open/half-open circuit per handler or step.

Example::

    breaker = MemoryCircuitBreaker(failure_threshold=3, reset_timeout=30.0)
    result = await breaker.call(PaymentHandler, handler.handle, request)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeAlias, TypeVar

from cqrs.exceptions import CircuitOpenError

__all__ = ["CircuitState", "MemoryCircuitBreaker"]

T = TypeVar("T")

CircuitState: TypeAlias = Literal["closed", "open", "half_open"]
"""The state of one circuit, as reported by `MemoryCircuitBreaker.state`."""

_log = logging.getLogger("cqrs.circuit_breaker")


class _Circuit:
    """The mutable state of one circuit; `generation` changes on every transition."""

    __slots__ = ("failures", "generation", "opened_at", "state", "trial_running")

    def __init__(self) -> None:
        self.state: CircuitState = "closed"
        self.failures = 0
        self.opened_at = 0.0
        self.generation = 0
        self.trial_running = False


class MemoryCircuitBreaker:
    """Counts consecutive failures per identifier and refuses calls while a circuit is open.

    After `failure_threshold` consecutive failures (exceptions that are instances of
    `failure_exceptions` and not of `excluded_exceptions`) a circuit opens: calls raise
    `CircuitOpenError` without running. Once `reset_timeout` seconds have passed it is half-open:
    one trial call runs (concurrent callers are refused); its success closes the circuit, its
    failure re-opens it for another `reset_timeout`. Any other `Exception` counts as a success,
    since the dependency did answer. State lives in this process only and assumes one event loop.
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
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be at least 1, got {failure_threshold}")
        if reset_timeout < 0:
            raise ValueError(f"reset_timeout must not be negative, got {reset_timeout}")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.failure_exceptions = tuple(failure_exceptions)
        self.excluded_exceptions = tuple(excluded_exceptions)
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}

    async def call(
        self,
        identifier: type | str,
        func: Callable[..., Awaitable[T]],
        *args: Any,
        **kwargs: Any,
    ) -> T:
        """Run `func(*args, **kwargs)` through the circuit of `identifier` and record the outcome.

        Raises `CircuitOpenError` without running `func` while the circuit is open, or while it
        is half-open and its trial call is still running.
        """
        name = _circuit_name(identifier)
        circuit = self._circuits.get(name)
        if circuit is None:
            circuit = self._circuits[name] = _Circuit()
        self._refresh(name, circuit)
        if circuit.state == "open":
            retry_after = circuit.opened_at + self.reset_timeout - self._clock()
            raise CircuitOpenError(name, max(retry_after, 0.0))
        trial = circuit.state == "half_open"
        if trial:
            if circuit.trial_running:
                raise CircuitOpenError(name, 0.0)
            circuit.trial_running = True
        generation = circuit.generation
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            if circuit.generation == generation:
                if self._counts(exc):
                    self._failure(name, circuit)
                elif isinstance(exc, Exception):
                    self._success(name, circuit)
            raise
        else:
            if circuit.generation == generation:
                self._success(name, circuit)
            return result
        finally:
            if trial:
                circuit.trial_running = False

    def is_circuit_breaker_error(self, exc: BaseException) -> bool:
        """Whether `exc` is the refusal `call` raises for an open circuit."""
        return isinstance(exc, CircuitOpenError)

    def state(self, identifier: type | str) -> CircuitState:
        """The current state of `identifier`'s circuit (`"closed"` if it was never used)."""
        name = _circuit_name(identifier)
        circuit = self._circuits.get(name)
        if circuit is None:
            return "closed"
        self._refresh(name, circuit)
        return circuit.state

    def reset(self, identifier: type | str | None = None) -> None:
        """Close `identifier`'s circuit and forget its failures (every circuit if `None`)."""
        if identifier is None:
            self._circuits.clear()
        else:
            self._circuits.pop(_circuit_name(identifier), None)

    def _counts(self, exc: BaseException) -> bool:
        return isinstance(exc, self.failure_exceptions) and not isinstance(
            exc, self.excluded_exceptions
        )

    def _refresh(self, name: str, circuit: _Circuit) -> None:
        """Move an open circuit whose timeout has elapsed to half-open."""
        if circuit.state == "open" and self._clock() - circuit.opened_at >= self.reset_timeout:
            circuit.state = "half_open"
            circuit.generation += 1
            _log.info("circuit %r is half-open: letting one trial call through", name)

    def _failure(self, name: str, circuit: _Circuit) -> None:
        circuit.failures += 1
        if circuit.state == "half_open" or circuit.failures >= self.failure_threshold:
            circuit.state = "open"
            circuit.opened_at = self._clock()
            circuit.generation += 1
            _log.warning(
                "circuit %r opened after %d consecutive failure(s); retry in %.1fs",
                name,
                circuit.failures,
                self.reset_timeout,
            )

    def _success(self, name: str, circuit: _Circuit) -> None:
        circuit.failures = 0
        if circuit.state != "closed":
            circuit.state = "closed"
            circuit.generation += 1
            _log.info("circuit %r closed", name)


def _circuit_name(identifier: type | str) -> str:
    """The circuit name of `identifier`: a string as is, a type by its qualified name."""
    if isinstance(identifier, str):
        return identifier
    return f"{identifier.__module__}.{identifier.__qualname__}"
