"""The aiobreaker adapter as python-cqrs 4.x code uses it, written from 4.x's docstrings.

`AioBreakerAdapter(fail_max, timeout_duration, exclude, storage_factory)` keeps one aiobreaker
breaker per identifier (a type by `module.Name`, a string as is); the call whose failure reaches
`fail_max` and every call while the circuit is open raise aiobreaker's `CircuitBreakerError`,
which `is_circuit_breaker_error` recognises; it guards handler fallbacks. Beside it: the
`CriticalLogListener`, `StorageFactory` and `default_memory_storage_factory`.
"""

from __future__ import annotations

import logging

import aiobreaker  # type: ignore[import-untyped]
import di
import pytest
from aiobreaker.storage.memory import CircuitMemoryStorage  # type: ignore[import-untyped]

import cqrs
from cqrs.adapters.circuit_breaker import (
    AioBreakerAdapter,
    CriticalLogListener,
    StorageFactory,
    default_memory_storage_factory,
)
from cqrs.requests import bootstrap


async def down() -> None:
    raise ConnectionError("down")


async def add(value: int, *, plus: int = 0) -> int:
    return value + plus


class BusinessError(Exception):
    pass


async def rejected() -> None:
    raise BusinessError("insufficient funds")


async def test_call_passes_arguments_and_returns_the_result() -> None:
    breaker = AioBreakerAdapter(fail_max=3, timeout_duration=60)
    assert await breaker.call("svc", add, 40, plus=2) == 42


async def test_reaching_fail_max_raises_circuit_breaker_error_and_then_refuses() -> None:
    breaker = AioBreakerAdapter(fail_max=3, timeout_duration=60)
    for _ in range(2):
        with pytest.raises(ConnectionError) as failed:
            await breaker.call("svc", down)
        assert not breaker.is_circuit_breaker_error(failed.value)
    with pytest.raises(aiobreaker.CircuitBreakerError) as opened:
        await breaker.call("svc", down)
    assert breaker.is_circuit_breaker_error(opened.value)
    assert isinstance(opened.value.__cause__, ConnectionError)
    with pytest.raises(aiobreaker.CircuitBreakerError) as refused:
        await breaker.call("svc", add, 1)
    assert breaker.is_circuit_breaker_error(refused.value)
    assert not breaker.is_circuit_breaker_error(ValueError("other"))


async def test_circuits_are_per_identifier_and_per_adapter() -> None:
    """One adapter per fallback domain: each keeps its own breakers, one per identifier."""
    saga_cb = AioBreakerAdapter(fail_max=1, timeout_duration=60)
    request_cb = AioBreakerAdapter(fail_max=1, timeout_duration=60)
    with pytest.raises(aiobreaker.CircuitBreakerError):
        await saga_cb.call(BusinessError, down)
    with pytest.raises(aiobreaker.CircuitBreakerError):
        await saga_cb.call(f"{__name__}.BusinessError", add, 1)
    assert await saga_cb.call("other", add, 2) == 2
    assert await request_cb.call(BusinessError, add, 3) == 3


async def test_excluded_exceptions_do_not_open_the_circuit() -> None:
    breaker = AioBreakerAdapter(fail_max=1, timeout_duration=60, exclude=[BusinessError])
    for _ in range(3):
        with pytest.raises(BusinessError):
            await breaker.call("payments", rejected)
    assert await breaker.call("payments", add, 5) == 5


async def test_storage_factory_builds_each_circuits_storage_by_name() -> None:
    names: list[str] = []

    def factory(name: str) -> CircuitMemoryStorage:
        names.append(name)
        return default_memory_storage_factory(name)

    storage_factory: StorageFactory = factory
    breaker = AioBreakerAdapter(fail_max=2, storage_factory=storage_factory)
    await breaker.call(BusinessError, add, 1)
    await breaker.call("inventory", add, 1)
    await breaker.call("inventory", add, 1)
    assert names == [f"{__name__}.BusinessError", "inventory"]


def test_default_memory_storage_factory_gives_a_closed_memory_storage() -> None:
    storage = default_memory_storage_factory("svc")
    assert isinstance(storage, CircuitMemoryStorage)
    assert storage.state is aiobreaker.CircuitBreakerState.CLOSED


async def test_critical_log_listener_logs_state_changes_at_critical(
    caplog: pytest.LogCaptureFixture,
) -> None:
    breaker = aiobreaker.CircuitBreaker(
        fail_max=1, listeners=[CriticalLogListener("payments")], name="payments"
    )
    assert isinstance(CriticalLogListener("x"), aiobreaker.CircuitBreakerListener)
    with caplog.at_level(logging.CRITICAL), pytest.raises(aiobreaker.CircuitBreakerError):
        await breaker.call_async(down)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.CRITICAL,
            "payments circuit breaker state changed: "
            "CircuitBreakerState.CLOSED -> CircuitBreakerState.OPEN",
        )
    ]


class GetRate(cqrs.Request):
    currency: str


class Rate(cqrs.Response):
    value: float
    source: str


CALLS: list[str] = []


class LiveRateHandler(cqrs.RequestHandler[GetRate, Rate]):
    async def handle(self, request: GetRate) -> Rate:
        CALLS.append("live")
        raise ConnectionError("rates API down")


class CachedRateHandler(cqrs.RequestHandler[GetRate, Rate]):
    async def handle(self, request: GetRate) -> Rate:
        CALLS.append("cache")
        return Rate(value=1.1, source="cache")


async def test_guards_a_request_handler_fallback_as_in_the_4x_docstring() -> None:
    request_cb = AioBreakerAdapter(fail_max=2, timeout_duration=60)
    mediator = bootstrap.bootstrap(
        di_container=di.Container(),
        queries_mapper=lambda m: m.bind(
            GetRate,
            cqrs.RequestHandlerFallback(
                LiveRateHandler,
                CachedRateHandler,
                failure_exceptions=(ConnectionError, TimeoutError),
                circuit_breaker=request_cb,
            ),
        ),
    )
    CALLS.clear()
    for _ in range(4):
        assert await mediator.send(GetRate(currency="USD")) == Rate(value=1.1, source="cache")
    assert CALLS == ["live", "cache", "live", "cache", "cache", "cache"]
