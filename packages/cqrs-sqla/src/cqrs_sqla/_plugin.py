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


@hookimpl
def cqrs_classify_error(error: BaseException) -> Any:
    """Database errors that mean "unavailable" (connection, credentials, shutdown, deadlock)."""
    if not type(error).__module__.startswith(_DATABASE_MODULES):
        return None
    from cqrs_sqla._errors import classify_database

    return classify_database(error)


_DATABASE_MODULES = ("sqlalchemy", "asyncpg", "asyncmy", "pymysql", "aiosqlite", "sqlite3")
