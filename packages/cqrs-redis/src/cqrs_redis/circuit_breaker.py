"""`RedisCircuitBreaker`: a `cqrs.CircuitBreaker` whose circuits every process shares in Redis.

Example::

    breaker = RedisCircuitBreaker(redis.asyncio.Redis.from_url(url), failure_threshold=5)
    Fallback(step=ReserveInventory, fallback=ReserveLater, circuit_breaker=breaker)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cqrs.breakers.stored import StoredCircuitBreaker
from cqrs_redis.breaker_state import RedisBreakerStateStore

if TYPE_CHECKING:
    import redis.asyncio as aioredis

__all__ = ["RedisCircuitBreaker"]


class RedisCircuitBreaker(StoredCircuitBreaker):
    """A `StoredCircuitBreaker` over a `RedisBreakerStateStore` built on `client`.

    Failures seen by one process open the circuit for all of them; after `reset_timeout` one
    trial call, from whichever process claims it first, decides whether it closes.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "cqrs:breaker",
        ttl: int = 86_400,
        failure_threshold: int = 5,
        reset_timeout: float = 60.0,
        failure_exceptions: tuple[type[BaseException], ...] = (Exception,),
        excluded_exceptions: tuple[type[BaseException], ...] = (),
        trial_timeout: float | None = None,
    ) -> None:
        super().__init__(
            RedisBreakerStateStore(client, prefix=prefix, ttl=ttl),
            failure_threshold=failure_threshold,
            reset_timeout=reset_timeout,
            failure_exceptions=failure_exceptions,
            excluded_exceptions=excluded_exceptions,
            trial_timeout=trial_timeout,
        )
