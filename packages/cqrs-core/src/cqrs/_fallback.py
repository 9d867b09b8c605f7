"""The fallback rule shared by request and event handler fallbacks."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from cqrs._mermaid import generic_args, plain_name
from cqrs.breakers.protocol import CircuitBreaker

__all__: list[str] = []

T = TypeVar("T")
_log = logging.getLogger("cqrs.fallback")


async def run_with_fallback(
    primary: type,
    call_primary: Callable[[], Awaitable[T]],
    call_fallback: Callable[[], Awaitable[T]],
    failure_exceptions: tuple[type[BaseException], ...],
    circuit_breaker: CircuitBreaker | None,
) -> T:
    """Run the primary (through the breaker, if any); on failure or refusal run the fallback."""
    try:
        if circuit_breaker is not None:
            return await circuit_breaker.call(primary, call_primary)
        return await call_primary()
    except Exception as exc:
        refused = circuit_breaker is not None and circuit_breaker.is_circuit_breaker_error(exc)
        if not refused and failure_exceptions and not isinstance(exc, failure_exceptions):
            raise
        _log.warning(
            "%s %s; running its fallback",
            primary.__qualname__,
            "refused by its open circuit"
            if refused
            else f"failed with {type(exc).__name__}: {exc}",
        )
        return await call_fallback()


def check_handler_class(role: str, name: str, value: Any, base: type) -> None:
    """Reject a fallback whose primary or fallback is not a handler class, naming the culprit."""
    if not isinstance(value, type) or not issubclass(value, base):
        raise TypeError(f"{role} {name} must be a subclass of {base.__name__}, got {value!r}")


def check_same_subject(role: str, primary: type, fallback: type, base: type) -> None:
    """Reject a fallback declared for another request or event type than its primary.

    Only types both classes name (`EventHandler[Paid]`) are compared; a handler left generic
    is taken on trust.
    """
    subjects = [_subject(handler, base) for handler in (primary, fallback)]
    if None in subjects or subjects[0] == subjects[1]:
        return
    raise TypeError(
        f"{role} primary and fallback must handle the same type: {primary.__qualname__} "
        f"handles {plain_name(subjects[0])}, {fallback.__qualname__} handles "
        f"{plain_name(subjects[1])}"
    )


def _subject(handler: type, base: type) -> Any:
    """The request or event type `handler` gives `base`'s first parameter, if it names one."""
    args = generic_args(handler, base)
    if not args or isinstance(args[0], TypeVar):
        return None
    return args[0]


def check_options(role: str, failure_exceptions: Any, circuit_breaker: Any) -> None:
    """Reject a bad `failure_exceptions` or `circuit_breaker` when built, not at first failure."""
    if not isinstance(failure_exceptions, tuple) or not all(
        isinstance(t, type) and issubclass(t, BaseException) for t in failure_exceptions
    ):
        raise TypeError(
            f"{role} failure_exceptions must be a tuple of exception classes, "
            f"got {failure_exceptions!r}"
        )
    if circuit_breaker is not None and (
        isinstance(circuit_breaker, type) or not isinstance(circuit_breaker, CircuitBreaker)
    ):
        raise TypeError(
            f"{role} circuit_breaker must be an instance implementing cqrs.CircuitBreaker "
            f"(async call and is_circuit_breaker_error), got {circuit_breaker!r}"
        )
