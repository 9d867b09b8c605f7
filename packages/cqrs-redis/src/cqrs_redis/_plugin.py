"""Hook implementations of the redis plugin: saga storages for `redis://` URLs."""

from __future__ import annotations

from typing import Any

from cqrs.plugins import hookimpl


@hookimpl
def cqrs_make_saga_storage(url: str) -> Any:
    if url.partition("://")[0].lower() not in ("redis", "rediss"):
        return None
    from cqrs_redis.saga_storage import RedisSagaStorage

    return RedisSagaStorage.from_url(url)


@hookimpl
def cqrs_list_schemes() -> dict[str, list[str]]:
    return {"saga_storage": ["redis", "rediss"]}
