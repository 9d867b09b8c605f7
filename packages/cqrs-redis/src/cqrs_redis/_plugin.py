"""Hook implementations of the redis plugin: saga storages for `redis://` URLs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cqrs.plugins import SAGA_STORAGE, SchemeDeclaration, hookimpl

if TYPE_CHECKING:
    from cqrs.faults import Fault


@hookimpl
def cqrs_declare_schemes() -> list[SchemeDeclaration]:
    """`redis://` and `rediss://`: a `RedisSagaStorage` with a client of its own."""
    factory = "cqrs_redis.saga_storage:RedisSagaStorage.from_url"
    return [
        SchemeDeclaration(SAGA_STORAGE, "redis", factory, "Redis saga storage"),
        SchemeDeclaration(SAGA_STORAGE, "rediss", factory, "Redis saga storage over TLS"),
    ]


@hookimpl
def cqrs_classify_error(error: BaseException) -> Fault | None:
    """redis-py's connection, timeout, loading and read-only errors are destination faults."""
    if not type(error).__module__.startswith("redis"):
        return None
    from cqrs.faults import Fault

    names = {cls.__name__ for cls in type(error).__mro__}
    unavailable = {"ConnectionError", "TimeoutError", "BusyLoadingError", "ReadOnlyError"}
    return Fault.DESTINATION if names & unavailable else None
