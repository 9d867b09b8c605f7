"""A circuit breaker whose state lives in a `BreakerStateStore`, shared across processes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from cqrs.exceptions import CircuitOpenError
from cqrs.protocols.breaker_state import BreakerStateStore

__all__ = ["StoredCircuitBreaker"]

T = TypeVar("T")
_log = logging.getLogger("cqrs.circuit_breaker")


def _identifier(identifier: type | str) -> str:
    if isinstance(identifier, str):
        return identifier
    return f"{identifier.__module__}.{identifier.__qualname__}"


class StoredCircuitBreaker:
    """`cqrs.CircuitBreaker` over a state store: with a Redis store (`cqrs_redis`), every
    process guarding the same dependency sees the same open circuit."""

    def __init__(
        self,
        store: BreakerStateStore,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 60.0,
        failure_exceptions: tuple[type[BaseException], ...] = (Exception,),
        excluded_exceptions: tuple[type[BaseException], ...] = (),
    ) -> None:
        if failure_threshold < 1 or reset_timeout < 0:
            raise ValueError("failure_threshold must be >= 1 and reset_timeout >= 0")
        self.store = store
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.failure_exceptions = failure_exceptions
        self.excluded_exceptions = excluded_exceptions

    async def call(
        self,
        identifier: type | str,
        func: Callable[..., Awaitable[T]],
        *args: Any,
        **kwargs: Any,
    ) -> T:
        name = _identifier(identifier)
        permit = await self.store.permit(name, reset_timeout=self.reset_timeout)
        if not permit.allowed:
            raise CircuitOpenError(name, permit.retry_after)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            counts = isinstance(exc, self.failure_exceptions) and not isinstance(
                exc, self.excluded_exceptions
            )
            if counts:
                opened = await self.store.record_failure(
                    name, threshold=self.failure_threshold, trial=permit.trial
                )
                if opened:
                    _log.warning("circuit %s opened after %r", name, exc)
            elif permit.trial:
                await self.store.record_success(name)
            raise
        if permit.trial:
            _log.info("circuit %s closed after a successful trial", name)
        await self.store.record_success(name)
        return result

    def is_circuit_breaker_error(self, exc: BaseException) -> bool:
        return isinstance(exc, CircuitOpenError)
