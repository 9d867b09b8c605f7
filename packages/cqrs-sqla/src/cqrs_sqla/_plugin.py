"""Hook implementations of the sqla plugin: outboxes, inboxes and saga storages on databases."""

from __future__ import annotations

from typing import Any

from cqrs.plugins import INBOX, OUTBOX, SAGA_STORAGE, SchemeDeclaration, hookimpl


@hookimpl
def cqrs_declare_schemes() -> list[SchemeDeclaration]:
    """Each SQLAlchemy async driver URL: an outbox, an inbox and a saga storage on its database."""
    databases = {
        "postgresql+asyncpg": "PostgreSQL (asyncpg)",
        "mysql+asyncmy": "MySQL (asyncmy)",
        "mariadb+asyncmy": "MariaDB (asyncmy)",
        "sqlite+aiosqlite": "SQLite (aiosqlite)",
    }
    outbox = "cqrs_sqla.outbox:SqlAlchemyOutboxedEventRepository.from_url"
    inbox = "cqrs_sqla.inbox:SqlAlchemyInbox.from_url"
    storage = "cqrs_sqla.saga_storage:SqlAlchemySagaStorage.from_url"
    return [
        *(SchemeDeclaration(OUTBOX, s, outbox, f"outbox on {db}") for s, db in databases.items()),
        *(SchemeDeclaration(INBOX, s, inbox, f"inbox on {db}") for s, db in databases.items()),
        *(
            SchemeDeclaration(SAGA_STORAGE, s, storage, f"saga storage on {db}")
            for s, db in databases.items()
        ),
    ]


@hookimpl
def cqrs_classify_error(error: BaseException) -> Any:
    """Database errors that mean "unavailable" (connection, credentials, shutdown, deadlock)."""
    if not type(error).__module__.startswith(_DATABASE_MODULES):
        return None
    from cqrs_sqla._errors import classify_database

    return classify_database(error)


_DATABASE_MODULES = ("sqlalchemy", "asyncpg", "asyncmy", "pymysql", "aiosqlite", "sqlite3")
