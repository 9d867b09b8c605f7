"""A circuit breaker whose state lives in a `BreakerStateStore`, so processes can share circuits.

Example::

    breaker = StoredCircuitBreaker(MemoryBreakerStateStore(), failure_threshold=3)
    result = await breaker.call(PaymentHandler, handler.handle, request)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from cqrs.breakers.protocol import BreakerPermit, BreakerStateStore, CircuitState, circuit_name
from cqrs.errors import CircuitOpenError

__all__ = ["StoredCircuitBreaker"]

T = TypeVar("T")

_log = logging.getLogger("cqrs.circuit_breaker")


class StoredCircuitBreaker:
    """Counts consecutive failures per identifier in `store` and refuses calls while open.

    After `failure_threshold` consecutive failures (exceptions that are instances of
    `failure_exceptions` and not of `excluded_exceptions`) a circuit opens: calls raise
    `CircuitOpenError` without running. Once `reset_timeout` seconds have passed it is half-open:
    one trial call runs (others are refused for up to `trial_timeout` seconds, by default
    `reset_timeout`); its success closes the circuit, its failure re-opens it. Any other
    `Exception` counts as a success, since the dependency did answer. An outcome that arrives
    after the circuit moved on (a slow call started before it opened) is ignored.
    """

    def __init__(
        self,
        store: BreakerStateStore,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 60.0,
        failure_exceptions: tuple[type[BaseException], ...] = (Exception,),
        excluded_exceptions: tuple[type[BaseException], ...] = (),
        trial_timeout: float | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be at least 1, got {failure_threshold}")
        if reset_timeout < 0:
            raise ValueError(f"reset_timeout must not be negative, got {reset_timeout}")
        if trial_timeout is not None and trial_timeout <= 0:
            raise ValueError(f"trial_timeout must be positive, got {trial_timeout}")
        self.store = store
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.trial_timeout = reset_timeout if trial_timeout is None else trial_timeout
        self.failure_exceptions = tuple(failure_exceptions)
        self.excluded_exceptions = tuple(excluded_exceptions)

    async def call(
        self,
        identifier: type | str,
        func: Callable[..., Awaitable[T]],
        *args: Any,
        **kwargs: Any,
    ) -> T:
        """Run `func(*args, **kwargs)` through the circuit of `identifier` and record the outcome.

        Raises `CircuitOpenError` without running `func` while the circuit is open, or while it
        is half-open and another caller holds the trial.
        """
        name = circuit_name(identifier)
        store = self.store
        permit = await store.claim(
            name, reset_timeout=self.reset_timeout, trial_timeout=self.trial_timeout
        )
        if not permit.allowed:
            raise CircuitOpenError(name, max(permit.retry_after, 0.0))
        if permit.trial:
            _log.info("circuit %r is half-open: letting one trial call through", name)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            if isinstance(exc, self.failure_exceptions) and not isinstance(
                exc, self.excluded_exceptions
            ):
                await self._failed(name, permit)
            elif isinstance(exc, Exception):
                await self._succeeded(name, permit)
            elif permit.trial:
                await store.release_trial(name, generation=permit.generation)
            raise
        await self._succeeded(name, permit)
        return result

    def is_circuit_breaker_error(self, exc: BaseException) -> bool:
        """Whether `exc` is the refusal `call` raises for an open circuit."""
        return isinstance(exc, CircuitOpenError)

    async def circuit_state(self, identifier: type | str) -> CircuitState:
        """The current state of `identifier`'s circuit (`"closed"` if it was never used)."""
        return await self.store.read(circuit_name(identifier), reset_timeout=self.reset_timeout)

    async def reset_circuit(self, identifier: type | str) -> None:
        """Close `identifier`'s circuit and forget its failures."""
        await self.store.reset(circuit_name(identifier))

    async def _failed(self, name: str, permit: BreakerPermit) -> None:
        opened = await self.store.record_failure(
            name, generation=permit.generation, threshold=self.failure_threshold
        )
        if opened:
            _log.warning(
                "circuit %r opened after %s; retry in %.1fs",
                name,
                "a failed trial call"
                if permit.trial
                else f"{self.failure_threshold} consecutive failure(s)",
                self.reset_timeout,
            )

    async def _succeeded(self, name: str, permit: BreakerPermit) -> None:
        # A closed circuit without failures has nothing to forget: skip the store round trip.
        if (permit.trial or permit.failures) and await self.store.record_success(
            name, generation=permit.generation
        ):
            _log.info("circuit %r closed", name)
