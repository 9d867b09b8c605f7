"""Claiming a batch of outbox rows under a lease, per database dialect.

A row is claimable when it is pending, due, not leased, and every earlier unsettled row of its
partition key (pending or dead) is claimed in the same batch. Rows another worker is claiming
right now are skipped (`SKIP LOCKED`) and, being unsettled, hold back later rows of their key.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cqrs.protocols.outbox import OutboxStatus
from cqrs_sqla import _asyncpg
from cqrs_sqla.schema import naive_utc

__all__: list[str] = []

_PENDING, _DEAD = int(OutboxStatus.PENDING), int(OutboxStatus.DEAD)


def _due(table: sa.Table, now: datetime.datetime) -> Any:
    t = table.c
    return sa.and_(
        t.status == _PENDING,
        t.available_at <= now,
        sa.or_(t.lease_until.is_(None), t.lease_until <= now),
    )


def _not_parked(table: sa.Table, now: Any) -> Any:
    """No earlier unsettled row of the same key is out of reach right now (dead-lettered, waiting
    for its retry, or leased), so rows parked behind one never fill a batch's LIMIT."""
    t = table.c
    blocker = table.alias("blocker")
    b = blocker.c
    out_of_reach = sa.or_(
        b.status == _DEAD,
        b.available_at > now,
        sa.and_(b.lease_until.is_not(None), b.lease_until > now),
    )
    parked = (
        sa.select(sa.literal(1))
        .where(
            b.partition_key == t.partition_key,
            b.id < t.id,
            b.status.in_((_PENDING, _DEAD)),
            out_of_reach,
        )
        .exists()
    )
    return sa.or_(t.partition_key.is_(None), ~parked)


async def claim_rows(
    engine: AsyncEngine,
    table: sa.Table,
    worker_id: str,
    batch_size: int,
    now: datetime.datetime,
    until: datetime.datetime,
) -> Sequence[Any]:
    """Lease up to `batch_size` claimable rows to `worker_id`; returns them in id order."""
    dialect = engine.dialect.name
    rows: Sequence[Any]
    if dialect == "postgresql":
        rows = await _asyncpg.pg_fetch(
            engine,
            _postgresql_claim(engine, table),
            naive_utc(now),
            batch_size,
            worker_id,
            naive_utc(until),
        )
    elif dialect == "sqlite":
        async with engine.connect() as conn:
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
            rows = await _claim_generic(conn, table, worker_id, batch_size, now, until, False)
            await conn.commit()
    else:
        options = {"isolation_level": "READ COMMITTED"}
        async with engine.connect() as conn:
            conn = await conn.execution_options(**options)
            async with conn.begin():
                rows = await _claim_generic(conn, table, worker_id, batch_size, now, until, True)
    return sorted(rows, key=lambda row: row[0])


_RETURNED = (
    "id",
    "event_id",
    "event_name",
    "topic",
    "payload",
    "partition_key",
    "correlation_id",
    "causation_id",
    "created_at",
    "content_type",
    "status",
    "attempts",
    "last_error",
)
"""The columns a relay needs back from a claim (the lease columns it just wrote are not)."""


def returned_columns(table: sa.Table) -> list[sa.Column[Any]]:
    """`table`'s columns a claim returns, in `_RETURNED` order: rows unpack by position."""
    return [table.c[name] for name in _RETURNED]


_postgresql_claims: dict[sa.Table, str] = {}


def _postgresql_claim(engine: AsyncEngine, table: sa.Table) -> str:
    """The claim statement for `table`, built once: lock candidates in id order skipping locked
    rows, keep those no unsettled earlier row of their key holds back, lease and return them.

    Unlike `_not_parked` (which MariaDB and SQLite run fast: they walk the id index and stop at
    the `LIMIT`), a candidate is skipped only when the head of its key (its earliest row: the
    table holds only unsettled rows, so `min(id)`, one index probe) is out of reach. PostgreSQL
    without fresh statistics checks every pending row against every earlier row of its key, a
    quadratic claim (1.3-5 s behind 16,000 rows over 12 keys, 0.15 s this way). Key order does
    not rest on this filter: the `UPDATE` still holds back any row with an earlier unsettled row
    outside the batch.

    Parameters: `$1` now, `$2` batch size, `$3` worker id, `$4` lease end (naive UTC).
    """
    statement = _postgresql_claims.get(table)
    if statement is not None:
        return statement
    name = engine.dialect.identifier_preparer.format_table(table)
    unsettled = f"({_PENDING}, {_DEAD})"
    statement = f"""
        WITH candidates AS (
            SELECT pending.id, pending.partition_key FROM {name} AS pending
            WHERE pending.status = {_PENDING} AND pending.available_at <= $1
              AND (pending.lease_until IS NULL OR pending.lease_until <= $1)
              AND (pending.partition_key IS NULL OR NOT EXISTS (
                  SELECT 1 FROM {name} AS blocker
                  WHERE blocker.id = (
                      SELECT min(head.id) FROM {name} AS head
                      WHERE head.partition_key = pending.partition_key)
                    AND blocker.id < pending.id
                    AND (blocker.status = {_DEAD} OR blocker.available_at > $1
                         OR blocker.lease_until > $1)))
            ORDER BY pending.id
            LIMIT $2
            FOR UPDATE SKIP LOCKED
        )
        UPDATE {name} SET lease_owner = $3, lease_until = $4
        WHERE id IN (
            SELECT candidate.id FROM candidates AS candidate
            WHERE candidate.partition_key IS NULL OR NOT EXISTS (
                SELECT 1 FROM {name} AS earlier
                WHERE earlier.partition_key = candidate.partition_key
                  AND earlier.id < candidate.id AND earlier.status IN {unsettled}
                  AND earlier.id NOT IN (SELECT id FROM candidates)))
        RETURNING {", ".join(_RETURNED)}
    """
    _postgresql_claims[table] = statement
    return statement


async def _claim_generic(
    conn: AsyncConnection,
    table: sa.Table,
    worker_id: str,
    batch_size: int,
    now: datetime.datetime,
    until: datetime.datetime,
    skip_locked: bool,
) -> Sequence[Any]:
    """Lock candidates, find the earliest unsettled row of each key outside them, lease the rest."""
    t = table.c
    query = (
        sa.select(*returned_columns(table))
        .where(_due(table, now), _not_parked(table, now))
        .order_by(t.id)
        .limit(batch_size)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    candidates = (await conn.execute(query)).all()
    if not candidates:
        return []
    ids = [row.id for row in candidates]
    keys = {row.partition_key for row in candidates if row.partition_key is not None}
    first_blocker: dict[str, int] = {}
    if keys:
        blockers = await conn.execute(
            sa.select(t.partition_key, sa.func.min(t.id))
            .where(
                t.partition_key.in_(keys),
                t.status.in_((_PENDING, _DEAD)),
                t.id < max(ids),
                t.id.not_in(ids),
            )
            .group_by(t.partition_key)
        )
        first_blocker = {row[0]: row[1] for row in blockers.all()}
    claimed = [
        row
        for row in candidates
        if row.partition_key is None or row.id < first_blocker.get(row.partition_key, row.id + 1)
    ]
    if claimed:
        await conn.execute(
            sa.update(table)
            .where(t.id.in_([row.id for row in claimed]))
            .values(lease_owner=worker_id, lease_until=until)
        )
    return claimed
