"""Hook implementations of the sqla plugin: outboxes and saga storages for database URLs."""

from __future__ import annotations

from typing import Any

from cqrs.plugins import hookimpl

_SCHEMES = ("postgresql+asyncpg", "mysql+asyncmy", "mariadb+asyncmy", "sqlite+aiosqlite")


@hookimpl
def cqrs_make_outbox_repository(url: str) -> Any:
    if url.partition("://")[0].lower() not in _SCHEMES:
        return None
    from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository

    return SqlAlchemyOutboxedEventRepository.from_url(url)


@hookimpl
def cqrs_make_saga_storage(url: str) -> Any:
    if url.partition("://")[0].lower() not in _SCHEMES:
        return None
    from cqrs_sqla.saga_storage import SqlAlchemySagaStorage

    return SqlAlchemySagaStorage.from_url(url)


@hookimpl
def cqrs_list_schemes() -> dict[str, list[str]]:
    return {"outbox": list(_SCHEMES), "saga_storage": list(_SCHEMES)}
