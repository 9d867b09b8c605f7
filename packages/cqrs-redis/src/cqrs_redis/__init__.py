"""Redis for cqrs: saga storage and circuit-breaker state shared by every process.

Names resolve on first access, so importing `cqrs_redis` (or its plugin) does not load `redis`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["RedisBreakerStateStore", "RedisCircuitBreaker", "RedisSagaStorage"]

_MODULES = {
    "RedisBreakerStateStore": "cqrs_redis.breaker_state",
    "RedisCircuitBreaker": "cqrs_redis.circuit_breaker",
    "RedisSagaStorage": "cqrs_redis.saga_storage",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'cqrs_redis' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from cqrs_redis.breaker_state import RedisBreakerStateStore
    from cqrs_redis.circuit_breaker import RedisCircuitBreaker
    from cqrs_redis.saga_storage import RedisSagaStorage
