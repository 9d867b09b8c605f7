"""Which database errors mean the database is unavailable (retry) rather than the data is bad.

Used by the plugin's `cqrs_classify_error` hook: a relay, consumer or handler that meets one of
these waits and retries instead of charging or dead-lettering a message.
"""

from __future__ import annotations

from cqrs.faults import Fault

__all__: list[str] = []

_SQLSTATE_CLASSES = ("08", "28", "3D", "40", "53", "57")
"""Connection exception, invalid authorization, unknown database, transaction rollback
(deadlock, serialization), insufficient resources, operator intervention (shutdown)."""

_SQLALCHEMY_UNAVAILABLE = frozenset(
    {"OperationalError", "InterfaceError", "DisconnectionError", "TimeoutError"}
)
"""SQLAlchemy's errors for a lost, refused or exhausted connection (a pool timeout included)."""

_DRIVER_UNAVAILABLE = frozenset(
    {"OperationalError", "InterfaceError", "ConnectionDoesNotExistError", "InternalClientError"}
)
"""asyncpg / asyncmy / sqlite3 errors about the connection rather than the statement."""


def classify_database(error: BaseException) -> Fault | None:
    """`Fault.DESTINATION` when a database error says the database is unavailable."""
    module = type(error).__module__
    name = type(error).__name__
    if module.startswith("sqlalchemy"):
        if name in _SQLALCHEMY_UNAVAILABLE or getattr(error, "connection_invalidated", False):
            return Fault.DESTINATION
        return None
    if module.startswith(("asyncpg", "asyncmy", "pymysql", "aiosqlite", "sqlite3")):
        sqlstate = getattr(error, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_SQLSTATE_CLASSES):
            return Fault.DESTINATION
        if name in _DRIVER_UNAVAILABLE or "ConnectionError" in name:
            return Fault.DESTINATION
    return None
