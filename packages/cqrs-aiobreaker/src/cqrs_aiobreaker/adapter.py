"""`AioBreakerAdapter`: the seeds' circuit breaker, on the aiobreaker library, with python-cqrs
4.x's `CriticalLogListener`, `StorageFactory` and `default_memory_storage_factory`.

Example::

    from cqrs.adapters.circuit_breaker import AioBreakerAdapter

    breaker = AioBreakerAdapter(fail_max=2, timeout_duration=60)
    Fallback(step=PrimaryStep, fallback=FallbackStep, circuit_breaker=breaker)
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeAlias, TypeVar

import aiobreaker
from aiobreaker.storage.memory import CircuitMemoryStorage

from cqrs.breakers.protocol import circuit_name

__all__ = [
    "AioBreakerAdapter",
    "CriticalLogListener",
    "StorageFactory",
    "default_memory_storage_factory",
]

T = TypeVar("T")

_log = logging.getLogger("cqrs.circuit_breaker")


class _LogListener:
    """Logs each circuit's state changes to `cqrs.circuit_breaker`, like core's breakers."""

    def before_call(self, breaker: Any, func: Any, *args: Any, **kwargs: Any) -> None:
        pass

    def success(self, breaker: Any) -> None:
        pass

    def failure(self, breaker: Any, exception: BaseException) -> None:
        pass

    def state_change(self, breaker: Any, old: Any, new: Any) -> None:
        state = new.state.name.lower().replace("_", "-")
        level = logging.WARNING if state == "open" else logging.INFO
        _log.log(level, "circuit %r is %s", breaker.name, state)


class CriticalLogListener(aiobreaker.CircuitBreakerListener):  # type: ignore[misc]
    """python-cqrs 4.x's listener: logs each state change of the circuit `breaker_name` at
    `CRITICAL` to `cqrs.circuit_breaker`, for a bare aiobreaker `CircuitBreaker(listeners=...)`."""

    def __init__(self, breaker_name: str) -> None:
        self._breaker_name = breaker_name

    def state_change(self, breaker: Any, old: Any, new: Any) -> None:
        _log.critical(
            "%s circuit breaker state changed: %s -> %s", self._breaker_name, old.state, new.state
        )


StorageFactory: TypeAlias = Callable[[str], Any]
"""Builds the aiobreaker storage (a `CircuitBreakerStorage`) of the circuit with this name."""


def default_memory_storage_factory(name: str) -> Any:
    """A closed in-memory aiobreaker storage: what the adapter uses without `storage_factory`."""
    return CircuitMemoryStorage(state=aiobreaker.CircuitBreakerState.CLOSED)


_LISTENER = _LogListener()
_SHORTEST = datetime.timedelta(microseconds=1)


class AioBreakerAdapter:
    """A `cqrs.CircuitBreaker` with one aiobreaker `CircuitBreaker` per identifier.

    `fail_max` consecutive failures open a circuit for `timeout_duration` (seconds or a
    timedelta); exceptions matching `exclude` (types, or predicates taking the exception) do not
    count. `storage_factory(name)` builds each circuit's state storage, e.g. aiobreaker's
    `CircuitRedisStorage` so that several processes share open circuits; without it the state
    stays in memory. Refused calls raise aiobreaker's `CircuitBreakerError`, and so does the call
    whose failure opens the circuit (its failure is the `__cause__`), as aiobreaker and python-cqrs
    4.x do; with `raise_opening_failure=True` that call raises its own exception instead, so
    callers see what went wrong and only refusals are `CircuitBreakerError`.
    """

    def __init__(
        self,
        fail_max: int = 5,
        timeout_duration: float | datetime.timedelta = 60,
        exclude: Iterable[type[BaseException] | Callable[[BaseException], bool]] = (),
        storage_factory: StorageFactory | None = None,
        *,
        raise_opening_failure: bool = False,
    ) -> None:
        if fail_max < 1:
            raise ValueError(f"fail_max must be at least 1, got {fail_max}")
        if not isinstance(timeout_duration, datetime.timedelta):
            timeout_duration = datetime.timedelta(seconds=timeout_duration)
        if timeout_duration < datetime.timedelta(0):
            raise ValueError(f"timeout_duration must not be negative, got {timeout_duration}")
        # aiobreaker reads a zero timedelta as "use the default of 60 s".
        timeout_duration = max(timeout_duration, _SHORTEST)
        self.fail_max = fail_max
        self.timeout_duration = timeout_duration
        self.exclude = tuple(exclude)
        self.storage_factory = storage_factory
        self.raise_opening_failure = raise_opening_failure
        self._breakers: dict[str, Any] = {}

    def breaker(self, identifier: type | str) -> Any:
        """The aiobreaker `CircuitBreaker` of `identifier`, created on first use."""
        name = circuit_name(identifier)
        breaker = self._breakers.get(name)
        if breaker is None:
            storage = None if self.storage_factory is None else self.storage_factory(name)
            breaker = self._breakers[name] = aiobreaker.CircuitBreaker(
                fail_max=self.fail_max,
                timeout_duration=self.timeout_duration,
                exclude=list(self.exclude),
                listeners=[_LISTENER],
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
        """Run `func(*args, **kwargs)` through `identifier`'s circuit; refused while it is open."""
        try:
            result: T = await self.breaker(identifier).call_async(func, *args, **kwargs)
        except aiobreaker.CircuitBreakerError as exc:
            failure = exc.__cause__
            if (
                not self.raise_opening_failure
                or failure is None
                or isinstance(failure, aiobreaker.CircuitBreakerError)
            ):
                raise
        else:
            return result
        # The call ran and its failure opened the circuit: report that failure, unchained.
        raise failure

    def is_circuit_breaker_error(self, exc: BaseException) -> bool:
        """Whether `exc` is aiobreaker's refusal of a call to an open circuit."""
        return isinstance(exc, aiobreaker.CircuitBreakerError)
