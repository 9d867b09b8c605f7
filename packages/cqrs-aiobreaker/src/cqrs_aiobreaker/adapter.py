"""`AioBreakerAdapter`: the seeds' circuit breaker, on the aiobreaker library.

Example::

    from cqrs.adapters.circuit_breaker import AioBreakerAdapter

    breaker = AioBreakerAdapter(fail_max=2, timeout_duration=60)
    Fallback(step=PrimaryStep, fallback=FallbackStep, circuit_breaker=breaker)
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import aiobreaker  # type: ignore[import-untyped]

__all__ = ["AioBreakerAdapter"]

T = TypeVar("T")


def _name(identifier: type | str) -> str:
    if isinstance(identifier, str):
        return identifier
    return f"{identifier.__module__}.{identifier.__qualname__}"


class AioBreakerAdapter:
    """A `cqrs.CircuitBreaker` with one aiobreaker `CircuitBreaker` per identifier.

    `storage_factory(name)` builds each circuit's state storage, e.g. aiobreaker's
    `CircuitRedisStorage` so that several processes share open circuits; without it the state
    is kept in memory.
    """

    def __init__(
        self,
        fail_max: int = 5,
        timeout_duration: float | datetime.timedelta = 60,
        exclude: Iterable[type[BaseException]] = (),
        storage_factory: Callable[[str], Any] | None = None,
    ) -> None:
        if fail_max < 1:
            raise ValueError("fail_max must be at least 1")
        if not isinstance(timeout_duration, datetime.timedelta):
            timeout_duration = datetime.timedelta(seconds=timeout_duration)
        self.fail_max = fail_max
        self.timeout_duration = timeout_duration
        self.exclude = tuple(exclude)
        self.storage_factory = storage_factory
        self._breakers: dict[str, Any] = {}

    def breaker(self, identifier: type | str) -> Any:
        """The aiobreaker circuit for `identifier`, created on first use."""
        name = _name(identifier)
        breaker = self._breakers.get(name)
        if breaker is None:
            storage = self.storage_factory(name) if self.storage_factory is not None else None
            breaker = self._breakers[name] = aiobreaker.CircuitBreaker(
                fail_max=self.fail_max,
                timeout_duration=self.timeout_duration,
                exclude=list(self.exclude),
                state_storage=storage,
                name=name,
            )
        return breaker

    async def call(
        self,
        identifier: type | str,
        func: Callable[..., Awaitable[T]],
        *args: Any,
        **kwargs: Any,
    ) -> T:
        result: T = await self.breaker(identifier).call_async(func, *args, **kwargs)
        return result

    def is_circuit_breaker_error(self, exc: BaseException) -> bool:
        return isinstance(exc, aiobreaker.CircuitBreakerError)
