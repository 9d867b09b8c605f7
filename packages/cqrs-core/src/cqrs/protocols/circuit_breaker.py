"""The circuit breaker boundary used by handler fallbacks and saga steps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = ["CircuitBreaker", "circuit_name"]

T = TypeVar("T")


@runtime_checkable
class CircuitBreaker(Protocol):
    """Runs calls while a circuit is closed and refuses them while it is open.

    One breaker instance serves many circuits, one per `identifier` (a handler or step type, or
    a string), so an open circuit for one dependency does not block the others. `call` raises
    an error for which `is_circuit_breaker_error` is true, without running `func`, when the
    circuit is open; otherwise it runs `func`, records the outcome and returns or re-raises.
    """

    async def call(
        self,
        identifier: type | str,
        func: Callable[..., Awaitable[T]],
        *args: Any,
        **kwargs: Any,
    ) -> T: ...

    def is_circuit_breaker_error(self, exc: BaseException) -> bool: ...


def circuit_name(identifier: type | str) -> str:
    """The circuit name of `identifier`: a string as is, a type by its qualified name.

    Breakers name circuits this way so a type and its qualified name share one circuit, and
    so that processes sharing breaker state agree on the names.
    """
    if isinstance(identifier, str):
        return identifier
    return f"{identifier.__module__}.{identifier.__qualname__}"
