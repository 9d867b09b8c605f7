"""Redis breaker state: the contract, and two breakers (two "processes") sharing a circuit."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from cqrs.exceptions import CircuitOpenError
from cqrs.testing.breaker_state import BreakerStateContract
from cqrs.testing.services import require_service
from cqrs_redis import RedisBreakerStateStore, RedisCircuitBreaker


class TestRedisBreakerState(BreakerStateContract):
    @pytest.fixture
    async def store(self, redis_client: aioredis.Redis, prefix: str) -> RedisBreakerStateStore:
        return RedisBreakerStateStore(redis_client, prefix=prefix)


async def test_two_processes_see_the_same_open_circuit(prefix: str) -> None:
    url = require_service("redis").url
    first_client, second_client = aioredis.Redis.from_url(url), aioredis.Redis.from_url(url)
    first = RedisCircuitBreaker(first_client, prefix=prefix, failure_threshold=2)
    second = RedisCircuitBreaker(second_client, prefix=prefix, failure_threshold=2)
    calls = 0

    async def payment_api() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("payment API down")

    try:
        for _ in range(2):
            with pytest.raises(ConnectionError):
                await first.call("payments", payment_api)
        with pytest.raises(CircuitOpenError):
            await second.call("payments", payment_api)
        assert calls == 2, "the second breaker refused without calling"
    finally:
        await first_client.aclose()
        await second_client.aclose()
