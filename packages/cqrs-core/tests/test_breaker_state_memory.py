"""The in-memory breaker state store passes the contract, and a stored breaker uses it."""

from __future__ import annotations

import pytest

from cqrs.exceptions import CircuitOpenError
from cqrs.memory.breaker_state import MemoryBreakerStateStore
from cqrs.stored_circuit_breaker import StoredCircuitBreaker
from cqrs.testing.breaker_state import BreakerStateContract


class TestMemoryBreakerState(BreakerStateContract):
    @pytest.fixture
    async def store(self) -> MemoryBreakerStateStore:
        return MemoryBreakerStateStore()


async def test_a_stored_breaker_opens_and_refuses() -> None:
    breaker = StoredCircuitBreaker(MemoryBreakerStateStore(), failure_threshold=2)
    calls = 0

    async def failing() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("down")

    for _ in range(2):
        with pytest.raises(ConnectionError):
            await breaker.call("payments", failing)
    with pytest.raises(CircuitOpenError) as refused:
        await breaker.call("payments", failing)
    assert calls == 2
    assert breaker.is_circuit_breaker_error(refused.value)
