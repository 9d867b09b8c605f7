"""A Redis client and a key prefix of its own for each test; the prefix's keys are deleted after."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from cqrs.testing._support.services import require_service


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(require_service("redis").url)
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis_client: aioredis.Redis) -> AsyncIterator[str]:
    value = f"cqrs-test:{uuid.uuid4().hex[:10]}"
    yield value
    async for key in redis_client.scan_iter(f"{value}*"):
        await redis_client.delete(key)
