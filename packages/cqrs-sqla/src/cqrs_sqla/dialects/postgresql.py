"""PostgreSQL (asyncpg): every hot operation is one autocommitted statement, one round trip.

The claim locks, filters, leases and returns in one statement (`WITH candidates AS (SELECT ...
FOR UPDATE SKIP LOCKED) UPDATE ... RETURNING`); settling takes the batch's ids as one array
parameter; a saga transition writes its state and its log entry in one statement (a
data-modifying CTE).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
from collections.abc import Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cqrs.outbox.protocol import OutboxStatus
from cqrs_sqla.dialects._outbox import RETURNED, OutboxStatements, returned_columns
from cqrs_sqla.dialects._saga import LOG_COLUMNS, SagaStatements
from cqrs_sqla.dialects._statements import moment

__all__ = ["Outbox", "Saga", "notify_channel", "notify_ddl", "drop_notify_ddl"]

_PENDING = int(OutboxStatus.PENDING)
_IDS = postgresql.ARRAY(sa.BigInteger())
_MAX_NAME = 63
_TRIGGER = "cqrs_outbox_notify"


def _name(prefix: str, table: sa.Table) -> str:
    """`prefix` + the table's name, shortened with a hash suffix past PostgreSQL's 63 bytes
    (a longer `LISTEN` name would be cut silently and never match `pg_notify`)."""
    name = prefix + table.name
    if len(name.encode()) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(table.fullname.encode()).hexdigest()[:8]
    return f"{name.encode()[: _MAX_NAME - 9].decode(errors='ignore')}_{digest}"


def notify_channel(table: sa.Table) -> str:
    """The `LISTEN` channel on which inserts into the outbox `table` are announced."""
    return _name("cqrs_outbox_", table)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _function(table: sa.Table) -> str:
    function = _quote(_name("cqrs_outbox_notify_", table))
    return function if table.schema is None else f"{_quote(table.schema)}.{function}"


def _table(table: sa.Table) -> str:
    name = _quote(table.name)
    return name if table.schema is None else f"{_quote(table.schema)}.{name}"


def notify_ddl(table: sa.Table) -> list[str]:
    """Statements (idempotent) adding a statement-level `AFTER INSERT` trigger that sends
    `pg_notify(notify_channel(table), '')`: delivered at commit, once per transaction since
    PostgreSQL folds identical notifications, so the writer pays no extra round trip."""
    channel = notify_channel(table).replace("'", "''")
    function = _function(table)
    return [
        f"SELECT pg_advisory_xact_lock(hashtext('{channel}'))",
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN PERFORM pg_notify('{channel}', ''); RETURN NULL; END $$",
        f"DROP TRIGGER IF EXISTS {_TRIGGER} ON {_table(table)}",
        f"CREATE TRIGGER {_TRIGGER} AFTER INSERT ON {_table(table)} "
        f"FOR EACH STATEMENT EXECUTE PROCEDURE {function}()",
    ]


def drop_notify_ddl(table: sa.Table) -> list[str]:
    """Statements removing what `notify_ddl` added (the trigger goes with its table)."""
    return [f"DROP FUNCTION IF EXISTS {_function(table)}() CASCADE"]


class Outbox(OutboxStatements):
    """The outbox on PostgreSQL: the claim and each settlement are single statements."""

    autocommit: ClassVar[bool] = True
    on_driver: ClassVar[bool] = True

    def __init__(self, engine: AsyncEngine, table: sa.Table) -> None:
        super().__init__(engine, table)
        self.cursor = ""
        """The last key the previous claim reached; the next claim's walk starts after it, so
        successive claims (and the relays sharing this outbox object) sweep the keys."""

    def among(self) -> sa.ColumnElement[bool]:
        """`id = ANY(:ids)`: one array parameter for any batch size, one cached plan."""
        return self.table.c.id == sa.any_(sa.bindparam("ids", type_=_IDS))

    async def claim(
        self, worker_id: str, batch_size: int, now: datetime.datetime, until: datetime.datetime
    ) -> Sequence[Sequence[Any]]:
        params = {
            "now": now,
            "batch_size": batch_size,
            "worker": worker_id,
            "until": until,
            "cursor": self.cursor,
        }
        rows = (await self.run(self._claim, params)).all()
        if rows and rows[0][-1] is not None:  # every row carries the key the walk reached
            self.cursor = rows[0][-1]
        self.held_back = len(rows) == 1 and rows[0][0] is None
        if self.held_back:
            return []
        return sorted((row[:-1] for row in rows), key=_first)

    @functools.cached_property
    def _claim(self) -> sa.TextualSelect:
        """Walk the partition keys after `:cursor` (a loose index scan: one probe per key,
        wrapping round once), locking each key's first row (its head: the table holds only
        unsettled rows) that is due as the walk reaches it, up to `:batch_size` keys; share
        the batch between them, lock each key's following rows skipping locked ones, keep the
        unbroken prefix from the head, and lease it; rows without a key are taken in id order
        beside them.

        A due head another claim holds locked (relays woken by the same commit) ends the walk:
        the keys before it are taken, the rest are left to the claim that got there first, so
        concurrent claims neither split hot keys between relays nor lock rows the other one
        wants. When that key is the first one reached, the next walk starts after it, so a row
        locked for long (by anything) holds back its own key, and the others for one claim.

        A claim costs a few index probes per key it visits, not per row it passes: when every
        key is held by batches in flight (several relays, hot keys) the claim finds nothing
        after one probe per key, where a scan in id order tested every pending row (76 ms
        behind 20,000 rows over 1,000 keys, 10 ms this way). The last column returned is the
        key the walk reached, where the next claim starts; a claim that took nothing while
        another worker leases a key's head, or locks the rows it found due, returns one row of
        `NULL`s and that key instead (`held_back`).
        """
        preparer = self.engine.dialect.identifier_preparer
        t = preparer.format_table(self.table)
        returned = ", ".join(preparer.quote(name) for name in RETURNED)
        nulls = ", ".join("NULL" for _ in RETURNED)
        head = "partition_key, id, status, available_at, lease_until"
        by_key = "ORDER BY partition_key, id LIMIT 1"
        due = (
            f"{{a}}.status = {_PENDING} AND {{a}}.available_at <= :now "
            "AND ({a}.lease_until IS NULL OR {a}.lease_until <= :now)"
        )
        sql = f"""
WITH RECURSIVE walk(k, id, status, available_at, lease_until, wrapped, n, got) AS (
    SELECT first.*, 1, head.id IS NOT NULL FROM (
        (SELECT {head}, false FROM {t} WHERE partition_key > :cursor {by_key})
        UNION ALL
        (SELECT {head}, true FROM {t} WHERE partition_key IS NOT NULL {by_key})
        LIMIT 1
    ) AS first
    LEFT JOIN LATERAL (
        SELECT q.id FROM {t} AS q WHERE q.id = first.id AND {due.format(a="q")}
        FOR UPDATE SKIP LOCKED
    ) AS head ON true
  UNION ALL
    SELECT step.*, w.n + 1, head.id IS NOT NULL FROM walk AS w CROSS JOIN LATERAL (
        (SELECT {head}, w.wrapped FROM {t} WHERE partition_key > w.k {by_key})
        UNION ALL
        (SELECT {head}, true FROM {t} WHERE NOT w.wrapped AND partition_key IS NOT NULL {by_key})
        LIMIT 1
    ) AS step
    LEFT JOIN LATERAL (
        SELECT q.id FROM {t} AS q
        WHERE q.id = step.id AND NOT (step.wrapped AND step.partition_key > :cursor)
            AND {due.format(a="q")}
        FOR UPDATE SKIP LOCKED
    ) AS head ON true
    WHERE NOT (w.wrapped AND w.k > :cursor) AND (w.got OR NOT ({due.format(a="w")}))
),
reached_heads AS MATERIALIZED (
    SELECT w.k, w.id, w.n, w.got FROM walk AS w
    WHERE NOT (w.wrapped AND w.k > :cursor) AND {due.format(a="w")}
    LIMIT :batch_size
),
heads AS (
    SELECT k, id, n FROM reached_heads WHERE got
),
shares AS (
    SELECT k, id, :batch_size / count(*) OVER ()
        + CASE WHEN row_number() OVER (ORDER BY n) <= :batch_size % count(*) OVER ()
               THEN 1 ELSE 0 END AS share
    FROM heads
),
candidates AS (
    SELECT l.id FROM shares AS s CROSS JOIN LATERAL (
        SELECT locked.id, locked.pos, row_number() OVER (ORDER BY locked.id) AS got
        FROM (
            SELECT seq.id, seq.pos
            FROM (
                SELECT first.id, row_number() OVER (ORDER BY first.id) AS pos
                FROM (
                    SELECT s.id WHERE s.share = 1
                    UNION ALL
                    (SELECT e.id FROM {t} AS e
                     WHERE s.share > 1 AND e.partition_key = s.k
                     ORDER BY e.partition_key, e.id LIMIT s.share)
                ) AS first
            ) AS seq
            CROSS JOIN LATERAL (
                SELECT q.id FROM {t} AS q WHERE q.id = seq.id AND {due.format(a="q")}
                FOR UPDATE SKIP LOCKED
            ) AS lock
        ) AS locked
    ) AS l
    WHERE l.pos = l.got
),
loose AS (
    SELECT q.id FROM {t} AS q
    WHERE q.partition_key IS NULL AND {due.format(a="q")}
    ORDER BY q.id
    LIMIT greatest(:batch_size - (SELECT count(*) FROM candidates), :batch_size / 4)
    FOR UPDATE SKIP LOCKED
),
claimed AS (
    UPDATE {t} SET lease_owner = :worker, lease_until = :until
    WHERE id IN (SELECT id FROM candidates UNION ALL SELECT id FROM loose)
    RETURNING {returned}
),
reached AS (
    SELECT k FROM reached_heads ORDER BY got DESC, n DESC LIMIT 1
)
SELECT claimed.*, (SELECT k FROM reached) FROM claimed
UNION ALL
SELECT {nulls}, (SELECT k FROM reached) WHERE NOT EXISTS (SELECT 1 FROM claimed)
    AND (EXISTS (SELECT 1 FROM reached_heads)
         OR EXISTS (SELECT 1 FROM walk WHERE walk.lease_until > :now))
"""
        c = self.table.c
        return (
            sa.text(sql)
            .bindparams(
                moment("now"),
                moment("until"),
                sa.bindparam("worker", type_=c.lease_owner.type),
                sa.bindparam("batch_size", type_=sa.Integer()),
                sa.bindparam("cursor", type_=c.partition_key.type),
            )
            .columns(*returned_columns(self.table), sa.column("reached", c.partition_key.type))
        )


class Saga(SagaStatements):
    """Sagas on PostgreSQL: a transition with its log entry is one statement, one round trip."""

    autocommit: ClassVar[bool] = True
    on_driver: ClassVar[bool] = True

    def applies_in_one_statement(self, entry: dict[str, Any] | None) -> bool:
        return True

    async def apply_alone(self, params: dict[str, Any], entry: dict[str, Any] | None) -> bool:
        statement = self.statement(params, with_entry=entry is not None)
        result = await self.run(statement, params if entry is None else params | entry)
        return result.rowcount == 1

    async def apply(
        self, conn: AsyncConnection, params: dict[str, Any], entry: dict[str, Any] | None
    ) -> bool:
        if entry is None:
            result = await conn.execute(self.statement(params, with_entry=False), params)
        else:
            result = await conn.execute(self.statement(params, with_entry=True), params | entry)
        return result.rowcount == 1

    def build_transition(self, status: bool, context: bool, with_entry: bool) -> sa.Executable:
        """The state update; with an entry, `WITH updated AS (UPDATE ... RETURNING saga_id)
        INSERT INTO log SELECT ... FROM updated`: the log row exists only if the update applied."""
        update = self.state_update(status, context)
        if not with_entry:
            return update
        updated = update.returning(self.table.c.saga_id).cte("updated")
        entry = sa.select(updated.c.saga_id, *self.log_values())
        return sa.insert(self.log).from_select(LOG_COLUMNS, entry)


def _first(row: Sequence[Any]) -> Any:
    return row[0]
