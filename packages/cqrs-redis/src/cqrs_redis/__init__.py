"""Redis adapter for cqrs: saga storage (and shared circuit-breaker state); redis loads lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["RedisBreakerStateStore", "RedisCircuitBreaker", "RedisSagaStorage"]


def __getattr__(name: str) -> Any:
    if name == "RedisSagaStorage":
        from cqrs_redis.saga_storage import RedisSagaStorage

        return RedisSagaStorage
    if name in ("RedisBreakerStateStore", "RedisCircuitBreaker"):
        from cqrs_redis import breaker_state

        return getattr(breaker_state, name)
    raise AttributeError(f"module 'cqrs_redis' has no attribute {name!r}")


if TYPE_CHECKING:
    from cqrs_redis.breaker_state import RedisBreakerStateStore, RedisCircuitBreaker
    from cqrs_redis.saga_storage import RedisSagaStorage
