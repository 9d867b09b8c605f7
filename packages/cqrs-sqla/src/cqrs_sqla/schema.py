"""The outbox table: SQLAlchemy metadata for `create_all` or Alembic, and its name checks."""

from __future__ import annotations

import datetime
import os
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

__all__ = [
    "DEFAULT_INBOX_TABLE",
    "add_missing_columns",
    "DEFAULT_TABLE",
    "INBOX_TABLE_ENV",
    "TABLE_ENV",
    "UTCDateTime",
    "inbox_table",
    "saga_log_table",
    "saga_table",
    "metadata",
    "outbox_table",
    "table_name_from_env",
    "validate_identifier",
    "aware_utc",
    "naive_utc",
]

DEFAULT_TABLE = "outbox"
_FILLFACTOR = 40
"""The outbox table's PostgreSQL fill factor: each row is updated once (its lease) before it
is deleted, and that update must find room on the row's own page."""
TABLE_ENV = "OUTBOX_SQLA_TABLE"
"""Environment variable naming the outbox table (the seeds' name)."""
DEFAULT_INBOX_TABLE = "inbox"
INBOX_TABLE_ENV = "INBOX_SQLA_TABLE"
"""Environment variable naming the inbox table."""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

metadata = sa.MetaData()
"""Metadata holding every outbox table built with `outbox_table` (point Alembic at it)."""


def validate_identifier(name: str) -> str:
    """`name` if it is a plain SQL identifier (letters, digits, `_`, at most 63), else raise."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            f"invalid table name {name!r}: use letters, digits and underscores, "
            "starting with a letter or underscore, at most 63 characters"
        )
    return name


def table_name_from_env(variable: str = TABLE_ENV, default: str = DEFAULT_TABLE) -> str:
    """The table named by `variable` (validated), or `default`."""
    return validate_identifier(os.environ.get(variable, default))


class UTCDateTime(sa.types.TypeDecorator[datetime.datetime]):
    """Timestamps stored as naive UTC with microseconds on every backend, read back aware."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(
        self, value: datetime.datetime | None, dialect: sa.Dialect
    ) -> datetime.datetime | None:
        return None if value is None else naive_utc(value)

    def process_result_value(
        self, value: datetime.datetime | None, dialect: sa.Dialect
    ) -> datetime.datetime | None:
        return None if value is None else aware_utc(value)


def naive_utc(value: datetime.datetime) -> datetime.datetime:
    """`value` as the naive UTC datetime the timestamp columns store (naive values are UTC)."""
    if value.tzinfo is None:
        return value
    return value.astimezone(datetime.UTC).replace(tzinfo=None)


def aware_utc(value: datetime.datetime) -> datetime.datetime:
    """A stored timestamp back as an aware UTC datetime (aware values are kept)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)


def add_missing_columns(connection: sa.Connection, tables: list[sa.Table]) -> list[str]:
    """Add to each existing table the nullable columns it lacks (an upgrade: the outbox's
    `headers` arrived after its first release); returns them as `table.column`. Run it with
    `AsyncConnection.run_sync` after `create_all`."""
    inspector = sa.inspect(connection)
    added = []
    for table in tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present or not column.nullable:
                continue
            definition = sa.schema.CreateColumn(column).compile(dialect=connection.dialect)
            preparer = connection.dialect.identifier_preparer
            connection.execute(
                sa.text(f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {definition}")
            )
            added.append(f"{table.name}.{column.name}")
    return added


def _table(
    name: str, target: sa.MetaData | None, *items: sa.schema.SchemaItem, **options: Any
) -> sa.Table:
    """The table `name` in `target` (default: this module's `metadata`), defined on first use."""
    name = validate_identifier(name)
    target = metadata if target is None else target
    if name in target.tables:
        return target.tables[name]
    return sa.Table(name, target, *items, **options)


def outbox_table(name: str | None = None, target: sa.MetaData | None = None) -> sa.Table:
    """The outbox table called `name` (default: from `OUTBOX_SQLA_TABLE`), in `target` metadata.

    Columns: write-order `id`, the event's routing fields and serialized `payload`, and the
    delivery state (`status`, `attempts`, `available_at`, lease, `last_error`), and the
    `headers` stored with the row (JSON text: the trace context an instrumentation captured).
    """
    name = name if name is not None else table_name_from_env()
    return _table(
        name,
        target,
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("event_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("event_name", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition_key", sa.String(255), nullable=True),
        sa.Column("correlation_id", sa.String(255), nullable=True),
        sa.Column("causation_id", sa.String(255), nullable=True),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column(
            "payload",
            sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("available_at", UTCDateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("headers", sa.Text(), nullable=True),
        sa.Index(f"ix_{name}_status_id", "status", "id"),
        sa.Index(f"ix_{name}_key_id", "partition_key", "id"),
        # Pages filled to 40% leave room for every row's second version, so the relay's lease
        # update stays on the row's page (a HOT update: no writes to the four indexes) even in
        # pages filled by a burst of inserts; at 70% more than half the updates moved.
        postgresql_with={"fillfactor": _FILLFACTOR},
    )


def inbox_table(name: str | None = None, target: sa.MetaData | None = None) -> sa.Table:
    """The inbox table called `name` (default: from `INBOX_SQLA_TABLE`, else `inbox`).

    One row per processed `(consumer, message_id)`; the primary key is what deduplicates.
    """
    if name is None:
        name = table_name_from_env(INBOX_TABLE_ENV, DEFAULT_INBOX_TABLE)
    return _table(
        name,
        target,
        sa.Column("consumer", sa.String(200), primary_key=True),
        sa.Column("message_id", sa.Uuid(), primary_key=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )


def saga_table(name: str = "saga", target: sa.MetaData | None = None) -> sa.Table:
    """The saga state table: status, JSON context, optimistic `version`, recovery lease, and
    the `trace` headers captured when the saga was created (compact JSON text, or NULL)."""
    return _table(
        name,
        target,
        sa.Column("saga_id", sa.Uuid(), primary_key=True),
        sa.Column("saga_name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("trace", sa.Text(), nullable=True),
        sa.Index(f"ix_{name}_status_updated", "status", "updated_at"),
    )


def saga_log_table(name: str = "saga_log", target: sa.MetaData | None = None) -> sa.Table:
    """The saga step log: one row per act or compensation outcome, in write order."""
    return _table(
        name,
        target,
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("saga_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("step_name", sa.String(255), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
    )
