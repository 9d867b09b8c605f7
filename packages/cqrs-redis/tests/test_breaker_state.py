"""Redis breaker state: the contract, and two breakers (two "processes") sharing one circuit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from cqrs.breakers.contract import BreakerStateContract
from cqrs.exceptions import CircuitOpenError
from cqrs.testing._support.services import require_service
from cqrs_redis import RedisBreakerStateStore, RedisCircuitBreaker


class TestRedisBreakerState(BreakerStateContract):
    @pytest.fixture
    async def store(self, redis_client: aioredis.Redis, prefix: str) -> RedisBreakerStateStore:
        return RedisBreakerStateStore(redis_client, prefix=prefix)


class TestRedisBreakerStateDecodingClient(BreakerStateContract):
    """The same contract through a client that decodes responses to `str`."""

    @pytest.fixture
    async def store(self, prefix: str) -> AsyncIterator[RedisBreakerStateStore]:
        client = aioredis.Redis.from_url(require_service("redis").url, decode_responses=True)
        yield RedisBreakerStateStore(client, prefix=prefix)
        await client.aclose()


@pytest.fixture
async def two_clients() -> AsyncIterator[tuple[aioredis.Redis, aioredis.Redis]]:
    url = require_service("redis").url
    first, second = aioredis.Redis.from_url(url), aioredis.Redis.from_url(url)
    yield first, second
    await first.aclose()
    await second.aclose()


async def test_two_processes_see_the_same_open_circuit(
    two_clients: tuple[aioredis.Redis, aioredis.Redis], prefix: str
) -> None:
    first_client, second_client = two_clients
    first = RedisCircuitBreaker(first_client, prefix=prefix, failure_threshold=2, reset_timeout=30)
    second = RedisCircuitBreaker(
        second_client, prefix=prefix, failure_threshold=2, reset_timeout=30
    )
    calls = 0

    async def payment_api() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("payment API down")

    for _ in range(2):
        with pytest.raises(ConnectionError):
            await first.call("payments", payment_api)
    with pytest.raises(CircuitOpenError) as refused:
        await second.call("payments", payment_api)
    assert calls == 2, "the second breaker refused without calling"
    assert second.is_circuit_breaker_error(refused.value)
    assert 29 < refused.value.retry_after <= 30
    assert await second.circuit_state("payments") == "open"
    assert await first.circuit_state("other") == "closed"

    await first.reset_circuit("payments")

    async def healthy() -> str:
        return "ok"

    assert await second.call("payments", healthy) == "ok"


async def test_one_trial_across_processes_and_its_success_closes_for_all(
    two_clients: tuple[aioredis.Redis, aioredis.Redis], prefix: str
) -> None:
    first_client, second_client = two_clients
    # reset_timeout=0: an open circuit is half-open at once, so the test does not sleep.
    first = RedisCircuitBreaker(first_client, prefix=prefix, failure_threshold=1, reset_timeout=0)
    second = RedisCircuitBreaker(
        second_client, prefix=prefix, failure_threshold=1, reset_timeout=0, trial_timeout=60
    )

    async def down() -> None:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        await first.call("inventory", down)
    store = second.store
    trial = await store.claim("inventory", reset_timeout=0, trial_timeout=60)
    assert trial.trial

    async def healthy() -> str:
        return "ok"

    with pytest.raises(CircuitOpenError):
        await first.call("inventory", healthy)
    assert await store.record_success("inventory", generation=trial.generation)
    assert await first.call("inventory", healthy) == "ok"
    assert await second.circuit_state("inventory") == "closed"


async def test_keys_are_namespaced_and_expire(redis_client: aioredis.Redis, prefix: str) -> None:
    store = RedisBreakerStateStore(redis_client, prefix=prefix, ttl=120)
    permit = await store.claim("svc", reset_timeout=60, trial_timeout=60)
    assert await redis_client.exists(f"{prefix}:svc") == 0, "a healthy call writes nothing"
    await store.record_failure("svc", generation=permit.generation, threshold=5)
    assert store.key("svc") == f"{prefix}:svc"
    assert 0 < await redis_client.ttl(f"{prefix}:svc") <= 120
    default = RedisBreakerStateStore(redis_client)
    assert default.key("svc") == "cqrs:breaker:svc"
    with pytest.raises(ValueError, match="ttl"):
        RedisBreakerStateStore(redis_client, ttl=0)


async def test_an_expired_circuit_is_closed(redis_client: aioredis.Redis, prefix: str) -> None:
    store = RedisBreakerStateStore(redis_client, prefix=prefix)
    permit = await store.claim("svc", reset_timeout=60, trial_timeout=60)
    assert await store.record_failure("svc", generation=permit.generation, threshold=1)
    assert await store.read("svc", reset_timeout=60) == "open"
    await redis_client.pexpire(store.key("svc"), 1)
    while await redis_client.exists(store.key("svc")):
        await redis_client.ping()
    assert await store.read("svc", reset_timeout=60) == "closed"
    assert (await store.claim("svc", reset_timeout=60, trial_timeout=60)).allowed
