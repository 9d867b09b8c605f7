"""`RedisBreakerStateStore`: circuit-breaker state in Redis, so every process sees one circuit.

Each operation is one Lua script (atomic, one round trip). Example::

    breaker = RedisCircuitBreaker(redis.asyncio.Redis.from_url(url), failure_threshold=5)
    Fallback(step=Primary, fallback=Backup, circuit_breaker=breaker)
"""

from __future__ import annotations

import time
from typing import Any, Literal

import redis.asyncio as aioredis

from cqrs.protocols.breaker_state import BreakerPermit
from cqrs.stored_circuit_breaker import StoredCircuitBreaker

__all__ = ["RedisBreakerStateStore", "RedisCircuitBreaker"]

_PERMIT = """
local opened = redis.call('HGET', KEYS[1], 'opened_at')
if not opened then return {1, 0, '0'} end
local waited = tonumber(ARGV[1]) - tonumber(opened)
if waited < tonumber(ARGV[2]) then return {0, 0, tostring(tonumber(ARGV[2]) - waited)} end
if redis.call('HSETNX', KEYS[1], 'trial', '1') == 0 then return {0, 0, '0'} end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, 1, '0'}
"""

_FAILURE = """
redis.call('HDEL', KEYS[1], 'trial')
redis.call('EXPIRE', KEYS[1], ARGV[4])
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], 'opened_at', ARGV[1])
  return 1
end
local count = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if count >= tonumber(ARGV[2]) and redis.call('HEXISTS', KEYS[1], 'opened_at') == 0 then
  redis.call('HSET', KEYS[1], 'opened_at', ARGV[1])
  return 1
end
return 0
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisBreakerStateStore:
    """A hash per circuit (`<prefix>:<identifier>`), expiring `ttl` seconds after its last use."""

    def __init__(
        self, client: aioredis.Redis, *, prefix: str = "cqrs:breaker", ttl: int = 86_400
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = ttl
        self._permit = client.register_script(_PERMIT)
        self._failure = client.register_script(_FAILURE)

    def _key(self, identifier: str) -> str:
        return f"{self.prefix}:{identifier}"

    async def permit(self, identifier: str, *, reset_timeout: float) -> BreakerPermit:
        allowed, trial, retry_after = await self._permit(
            keys=[self._key(identifier)], args=[time.time(), reset_timeout, self.ttl]
        )
        return BreakerPermit(bool(allowed), bool(trial), float(_text(retry_after)))

    async def record_success(self, identifier: str) -> None:
        await self.client.delete(self._key(identifier))

    async def record_failure(self, identifier: str, *, threshold: int, trial: bool) -> bool:
        opened = await self._failure(
            keys=[self._key(identifier)],
            args=[time.time(), threshold, "1" if trial else "0", self.ttl],
        )
        return bool(opened)

    async def state(self, identifier: str) -> Literal["closed", "open", "half_open"]:
        fields = await self.client.hgetall(self._key(identifier))
        keys = {_text(k) for k in fields}
        if "opened_at" not in keys:
            return "closed"
        return "half_open" if "trial" in keys else "open"


class RedisCircuitBreaker(StoredCircuitBreaker):
    """A `cqrs.CircuitBreaker` whose circuits live in Redis (see `StoredCircuitBreaker`)."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "cqrs:breaker",
        failure_threshold: int = 5,
        reset_timeout: float = 60.0,
        failure_exceptions: tuple[type[BaseException], ...] = (Exception,),
        excluded_exceptions: tuple[type[BaseException], ...] = (),
    ) -> None:
        super().__init__(
            RedisBreakerStateStore(client, prefix=prefix),
            failure_threshold=failure_threshold,
            reset_timeout=reset_timeout,
            failure_exceptions=failure_exceptions,
            excluded_exceptions=excluded_exceptions,
        )
