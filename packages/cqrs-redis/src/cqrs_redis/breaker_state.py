"""`RedisBreakerStateStore`: circuit-breaker state in Redis, so every process sees one circuit.

Each circuit is a hash at `<prefix>:<identifier>`; each operation is one Lua script (atomic, one
round trip) that reads the Redis server's clock, so processes on hosts with drifting clocks
still agree on when a circuit turns half-open. Every write renews the key's TTL, so a circuit
nobody touches for `ttl` seconds expires (closed, with no failures). Example::

    store = RedisBreakerStateStore(redis.asyncio.Redis.from_url(url), prefix="shop:breaker")
    breaker = cqrs.StoredCircuitBreaker(store, failure_threshold=5, reset_timeout=30)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cqrs.breakers.protocol import BreakerPermit, CircuitState

if TYPE_CHECKING:
    import redis.asyncio as aioredis

__all__ = ["RedisBreakerStateStore"]

_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
"""

_READ = (
    _NOW
    + """
local opened = redis.call('HGET', KEYS[1], 'opened_at')
if not opened then return 'closed' end
if now - tonumber(opened) < tonumber(ARGV[1]) then return 'open' end
return 'half_open'
"""
)

# -> {allowed, generation, trial, failures, retry_after}
_CLAIM = (
    _NOW
    + """
local f = redis.call('HMGET', KEYS[1], 'generation', 'failures', 'opened_at', 'trial_until')
local generation = tonumber(f[1]) or 0
local failures = tonumber(f[2]) or 0
if not f[3] then return {1, generation, 0, failures, '0'} end
local waited = now - tonumber(f[3])
local reset_timeout = tonumber(ARGV[1])
if waited < reset_timeout then
  return {0, generation, 0, failures, tostring(reset_timeout - waited)}
end
if f[4] and tonumber(f[4]) > now then return {0, generation, 0, failures, '0'} end
generation = generation + 1
redis.call('HSET', KEYS[1], 'generation', generation,
  'trial_until', tostring(now + tonumber(ARGV[2])))
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, generation, 1, failures, '0'}
"""
)

_FAILURE = (
    _NOW
    + """
local f = redis.call('HMGET', KEYS[1], 'generation', 'opened_at', 'trial_until')
local generation = tonumber(f[1]) or 0
if generation ~= tonumber(ARGV[1]) then return 0 end
if f[2] and not f[3] then return 0 end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
if not f[2] and failures < tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'opened_at', tostring(now), 'generation', generation + 1)
redis.call('HDEL', KEYS[1], 'trial_until')
return 1
"""
)

_SUCCESS = """
local f = redis.call('HMGET', KEYS[1], 'generation', 'opened_at', 'trial_until', 'failures')
if (tonumber(f[1]) or 0) ~= tonumber(ARGV[1]) then return 0 end
if not f[2] then
  if f[4] and f[4] ~= '0' then redis.call('HSET', KEYS[1], 'failures', 0) end
  return 0
end
if not f[3] then return 0 end
redis.call('HSET', KEYS[1], 'failures', 0, 'generation', tonumber(f[1]) + 1)
redis.call('HDEL', KEYS[1], 'opened_at', 'trial_until')
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""

_RELEASE = """
if (tonumber(redis.call('HGET', KEYS[1], 'generation')) or 0) == tonumber(ARGV[1]) then
  redis.call('HDEL', KEYS[1], 'trial_until')
end
return 0
"""

_RESET = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'generation', 1)
redis.call('HSET', KEYS[1], 'failures', 0)
redis.call('HDEL', KEYS[1], 'opened_at', 'trial_until')
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisBreakerStateStore:
    """A `cqrs.BreakerStateStore` in Redis: a hash per circuit under `prefix`.

    `ttl` (seconds) should outlast `reset_timeout`: an open circuit whose key expires closes.
    The client may or may not decode responses. Works with one Redis server (keys of
    different circuits may live on different cluster nodes, each script touches one key).
    """

    def __init__(
        self, client: aioredis.Redis, *, prefix: str = "cqrs:breaker", ttl: int = 86_400
    ) -> None:
        if ttl < 1:
            raise ValueError(f"ttl must be at least one second, got {ttl}")
        self.client = client
        self.prefix = prefix
        self.ttl = ttl
        self._read = client.register_script(_READ)
        self._claim = client.register_script(_CLAIM)
        self._failure = client.register_script(_FAILURE)
        self._success = client.register_script(_SUCCESS)
        self._release = client.register_script(_RELEASE)
        self._reset = client.register_script(_RESET)

    def key(self, identifier: str) -> str:
        """The Redis key of `identifier`'s circuit."""
        return f"{self.prefix}:{identifier}"

    async def read(self, identifier: str, *, reset_timeout: float) -> CircuitState:
        state = _text(await self._read(keys=[self.key(identifier)], args=[reset_timeout]))
        if state == "open":
            return "open"
        return "half_open" if state == "half_open" else "closed"

    async def claim(
        self, identifier: str, *, reset_timeout: float, trial_timeout: float
    ) -> BreakerPermit:
        allowed, generation, trial, failures, retry_after = await self._claim(
            keys=[self.key(identifier)], args=[reset_timeout, trial_timeout, self.ttl]
        )
        return BreakerPermit(
            allowed=bool(allowed),
            generation=int(generation),
            trial=bool(trial),
            failures=int(failures),
            retry_after=float(_text(retry_after)),
        )

    async def record_failure(self, identifier: str, *, generation: int, threshold: int) -> bool:
        opened = await self._failure(
            keys=[self.key(identifier)], args=[generation, threshold, self.ttl]
        )
        return bool(opened)

    async def record_success(self, identifier: str, *, generation: int) -> bool:
        closed = await self._success(keys=[self.key(identifier)], args=[generation, self.ttl])
        return bool(closed)

    async def release_trial(self, identifier: str, *, generation: int) -> None:
        await self._release(keys=[self.key(identifier)], args=[generation])

    async def reset(self, identifier: str) -> None:
        await self._reset(keys=[self.key(identifier)], args=[self.ttl])
