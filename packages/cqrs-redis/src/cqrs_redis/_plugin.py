"""Hook implementations of the redis plugin: saga storages for `redis://` URLs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cqrs.plugins import hookimpl

if TYPE_CHECKING:
    from cqrs.faults import Fault
    from cqrs.saga.storage.protocol import SagaStorage


@hookimpl
def cqrs_make_saga_storage(url: str) -> SagaStorage | None:
    """A `RedisSagaStorage` for `redis://` and `rediss://` URLs, with a client of its own."""
    if url.partition("://")[0].lower() not in ("redis", "rediss"):
        return None
    from cqrs_redis.saga_storage import RedisSagaStorage

    return RedisSagaStorage.from_url(url)


@hookimpl
def cqrs_list_schemes() -> dict[str, list[str]]:
    """The schemes this plugin owns, by role."""
    return {"saga_storage": ["redis", "rediss"]}


@hookimpl
def cqrs_classify_error(error: BaseException) -> Fault | None:
    """redis-py's connection, timeout, loading and read-only errors are destination faults."""
    if not type(error).__module__.startswith("redis"):
        return None
    from cqrs.faults import Fault

    names = {cls.__name__ for cls in type(error).__mro__}
    unavailable = {"ConnectionError", "TimeoutError", "BusyLoadingError", "ReadOnlyError"}
    return Fault.DESTINATION if names & unavailable else None
