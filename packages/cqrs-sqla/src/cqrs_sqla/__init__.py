"""SQLAlchemy 2 (asyncio) adapter for cqrs: the outbox, the inbox and the saga storage.

Works on PostgreSQL (asyncpg), MariaDB/MySQL (asyncmy) and SQLite (aiosqlite). Names are
resolved on first access, so loading the plugin does not import SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "DEFAULT_INBOX_TABLE",
    "DEFAULT_TABLE",
    "INBOX_TABLE_ENV",
    "TABLE_ENV",
    "SqlAlchemyInbox",
    "SqlAlchemyOutboxedEventRepository",
    "SqlAlchemySagaStorage",
    "inbox_table",
    "metadata",
    "outbox_table",
    "saga_log_table",
    "saga_table",
    "table_name_from_env",
    "validate_identifier",
]

_EXPORTS = dict.fromkeys(__all__, "cqrs_sqla.schema")
_EXPORTS["SqlAlchemyOutboxedEventRepository"] = "cqrs_sqla.outbox"
_EXPORTS["SqlAlchemyInbox"] = "cqrs_sqla.inbox"
_EXPORTS["SqlAlchemySagaStorage"] = "cqrs_sqla.saga_storage"


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cqrs_sqla' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from cqrs_sqla.inbox import SqlAlchemyInbox
    from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
    from cqrs_sqla.saga_storage import SqlAlchemySagaStorage
    from cqrs_sqla.schema import (
        DEFAULT_INBOX_TABLE,
        DEFAULT_TABLE,
        INBOX_TABLE_ENV,
        TABLE_ENV,
        inbox_table,
        metadata,
        outbox_table,
        saga_log_table,
        saga_table,
        table_name_from_env,
        validate_identifier,
    )
