"""The plugin classifies redis-py's connection errors as destination faults."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from cqrs.faults import Fault, classify


async def test_an_unreachable_redis_is_a_destination_fault() -> None:
    client = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=2)
    try:
        with pytest.raises(redis.exceptions.ConnectionError) as raised:
            await client.ping()
    finally:
        await client.aclose()
    assert classify(raised.value) is Fault.DESTINATION


def test_a_response_error_is_not_a_destination_fault() -> None:
    assert classify(redis.exceptions.ResponseError("WRONGTYPE")) is Fault.MESSAGE
