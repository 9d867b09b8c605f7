"""The outbox's statements in the shape every dialect shares; dialect modules replace what differs.

A row is claimable when it is pending, due, not leased, and every earlier unsettled row of its
partition key (pending or dead) is claimed in the same batch. Rows another worker is claiming
right now are skipped (`SKIP LOCKED` where the database has it) and, being unsettled, hold back
later rows of their key.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cqrs.outbox.protocol import OutboxStatus
from cqrs_sqla.dialects._statements import Statements, constant, moment

__all__ = ["RETURNED", "OutboxStatements", "returned_columns"]

_PENDING, _DEAD = int(OutboxStatus.PENDING), int(OutboxStatus.DEAD)

RETURNED = (
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
    "headers",
)
"""The columns a relay needs back from a claim (the lease columns it just wrote are not)."""


def returned_columns(table: sa.Table) -> list[sa.Column[Any]]:
    """`table`'s columns a claim returns, in `RETURNED` order: rows unpack by position."""
    return [table.c[name] for name in RETURNED]


def unsettled(column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """`column` (a status) is pending or dead: the row still holds its key's place."""
    return column.in_([constant(_PENDING), constant(_DEAD)])


def due(table: sa.FromClause) -> sa.ColumnElement[bool]:
    """The row is pending, available at `:now` and not leased."""
    t = table.c
    now = moment("now")
    return sa.and_(
        t.status == constant(_PENDING),
        t.available_at <= now,
        sa.or_(t.lease_until.is_(None), t.lease_until <= now),
    )


class OutboxStatements(Statements):
    """The outbox statements of one table on one engine, with the claim MariaDB and SQLite run:
    candidates locked in id order, each with the previous unsettled row of its key, then a lease
    on those whose whole earlier key sequence is in the batch. Two statements in a transaction."""

    skip_locked: ClassVar[bool] = False
    """Whether the candidate query skips rows other transactions lock (`SKIP LOCKED`)."""

    def __init__(self, engine: AsyncEngine, table: sa.Table) -> None:
        super().__init__(engine)
        self.table = table
        self.held_back = False
        """Whether the last claim found nothing because other workers hold the keys' heads or
        are claiming them right now (rows wait, just not for this worker yet), rather than
        because none is due. Only PostgreSQL's claim tells; the others leave it false."""

    def among(self) -> sa.ColumnElement[bool]:
        """`id` is one of the `:ids` list, expanded into the statement when it runs."""
        return self.table.c.id.in_(sa.bindparam("ids", expanding=True))

    def _held(self) -> sa.ColumnElement[bool]:
        """The rows among `:ids` still pending and leased to `:worker`."""
        t = self.table.c
        return sa.and_(
            self.among(),
            t.lease_owner == sa.bindparam("worker", type_=t.lease_owner.type),
            t.status == constant(_PENDING),
        )

    # -- claim ----------------------------------------------------------------------------------

    async def claim(
        self, worker_id: str, batch_size: int, now: datetime.datetime, until: datetime.datetime
    ) -> Sequence[Sequence[Any]]:
        """Lease up to `batch_size` claimable rows to `worker_id`; their `RETURNED` columns."""
        async with self.engine.connect() as conn:
            await self._begin_claim(conn)
            candidates = (
                await conn.execute(self._candidates, {"now": now, "batch_size": batch_size})
            ).all()
            claimed: list[Sequence[Any]] = []
            taken: set[int] = set()
            for row in candidates:
                previous = row[-1]
                if previous is None or previous in taken:
                    taken.add(row[0])
                    claimed.append(row[:-1])
            if claimed:
                await conn.execute(
                    self._lease, {"ids": list(taken), "worker": worker_id, "until": until}
                )
            await conn.commit()
        return claimed

    async def _begin_claim(self, conn: AsyncConnection) -> None:
        """Start the claim's transaction (a dialect sets its isolation or lock mode here)."""

    def not_parked(self) -> sa.ColumnElement[bool]:
        """No earlier unsettled row of the same key is out of reach at `:now` (dead-lettered,
        waiting for its retry, or leased), so rows parked behind one never fill a batch."""
        t = self.table.c
        blocker = self.table.alias("blocker")
        b = blocker.c
        now = moment("now")
        out_of_reach = sa.or_(
            b.status == constant(_DEAD),
            b.available_at > now,
            sa.and_(b.lease_until.is_not(None), b.lease_until > now),
        )
        parked = (
            sa.select(sa.literal_column("1"))
            .where(
                b.partition_key == t.partition_key,
                b.id < t.id,
                unsettled(b.status),
                out_of_reach,
            )
            .exists()
        )
        return sa.or_(t.partition_key.is_(None), ~parked)

    @functools.cached_property
    def _candidates(self) -> sa.Select[Any]:
        """Claimable-looking rows in id order, each with the id of the previous unsettled row of
        its key (`NULL` if none): a row is claimed only when that one is claimed too. The
        subquery is a plain read, so it sees rows another claim holds locked."""
        t = self.table.c
        earlier = self.table.alias("earlier")
        e = earlier.c
        previous = (
            sa.select(sa.func.max(e.id))
            .where(e.partition_key == t.partition_key, e.id < t.id, unsettled(e.status))
            .correlate(self.table)
            .scalar_subquery()
        )
        query = (
            sa.select(*returned_columns(self.table), previous)
            .where(due(self.table), self.not_parked())
            .order_by(t.id)
            .limit(sa.bindparam("batch_size", type_=sa.Integer()))
        )
        if self.skip_locked:
            query = query.with_for_update(skip_locked=True)
        return query

    @functools.cached_property
    def _lease(self) -> sa.Update:
        t = self.table.c
        return (
            sa.update(self.table)
            .where(self.among())
            .values(
                lease_owner=sa.bindparam("worker", type_=t.lease_owner.type),
                lease_until=moment("until"),
            )
        )

    # -- settle ---------------------------------------------------------------------------------

    async def _count(self, statement: sa.Executable, params: dict[str, Any]) -> int:
        """Run one statement on a single-statement connection; the rows it matched."""
        return (await self.run(statement, params)).rowcount

    async def delete_published(self, ids: Sequence[int], worker_id: str) -> int:
        """Delete the rows among `ids` still leased to `worker_id`; how many."""
        return await self._count(self._published, {"ids": list(ids), "worker": worker_id})

    async def release(
        self, ids: Sequence[int], worker_id: str, retry_at: datetime.datetime | None
    ) -> None:
        """End `worker_id`'s lease on `ids`, making them due at `retry_at` if given."""
        await self._count(
            self._released, {"ids": list(ids), "worker": worker_id, "retry_at": retry_at}
        )

    async def fail(
        self,
        row_id: int,
        worker_id: str,
        error: str,
        status: OutboxStatus,
        retry_at: datetime.datetime | None,
    ) -> int | None:
        """Charge an attempt to row `row_id` if `worker_id` still holds it, leaving it `status`;
        `None` when it applied, else the row's stored status (`PUBLISHED` once it is gone)."""
        params = {
            "ids": [row_id],
            "worker": worker_id,
            "error": error,
            "new_status": int(status),
            "retry_at": retry_at,
        }
        async with self.single() as conn:
            if (await conn.execute(self._failed, params)).rowcount:
                return None
            current = await conn.scalar(self._status_of, {"row_id": row_id})
        return int(OutboxStatus.PUBLISHED) if current is None else int(current)

    @functools.cached_property
    def _published(self) -> sa.Delete:
        return sa.delete(self.table).where(self._held())

    @functools.cached_property
    def _released(self) -> sa.Update:
        t = self.table.c
        return (
            sa.update(self.table)
            .where(self._held())
            .values(
                lease_owner=sa.null(),
                lease_until=sa.null(),
                available_at=sa.func.coalesce(moment("retry_at"), t.available_at),
            )
        )

    @functools.cached_property
    def _failed(self) -> sa.Update:
        t = self.table.c
        return (
            sa.update(self.table)
            .where(self._held())
            .values(
                attempts=t.attempts + 1,
                last_error=sa.bindparam("error", type_=t.last_error.type),
                lease_owner=sa.null(),
                lease_until=sa.null(),
                status=sa.bindparam("new_status", type_=t.status.type),
                available_at=sa.func.coalesce(moment("retry_at"), t.available_at),
            )
        )

    @functools.cached_property
    def _status_of(self) -> sa.Select[Any]:
        t = self.table.c
        return sa.select(t.status).where(t.id == sa.bindparam("row_id", type_=t.id.type))

    # -- dead letters and stats -----------------------------------------------------------------

    async def dead_letters(self, limit: int) -> Sequence[Sequence[Any]]:
        """The first `limit` dead-lettered rows in id order, their `RETURNED` columns."""
        async with self.single() as conn:
            rows: Sequence[Any] = (await conn.execute(self._dead_letters, {"limit": limit})).all()
        return rows

    async def replay(self, ids: Sequence[int], now: datetime.datetime) -> int:
        """Make the dead letters among `ids` pending again, due at `now`, attempts reset."""
        return await self._count(self._replayed, {"ids": list(ids), "now": now})

    async def discard(self, ids: Sequence[int]) -> int:
        """Delete the dead letters among `ids`."""
        return await self._count(self._discarded, {"ids": list(ids)})

    async def stats(self, now: datetime.datetime) -> Sequence[Any]:
        """Pending, leased, dead, oldest pending `created_at` and delayed, as one row."""
        async with self.single() as conn:
            row: Sequence[Any] = (await conn.execute(self._stats, {"now": now})).one()
        return row

    @functools.cached_property
    def _dead_letters(self) -> sa.Select[Any]:
        t = self.table.c
        return (
            sa.select(*returned_columns(self.table))
            .where(t.status == constant(_DEAD))
            .order_by(t.id)
            .limit(sa.bindparam("limit", type_=sa.Integer()))
        )

    @functools.cached_property
    def _replayed(self) -> sa.Update:
        t = self.table.c
        return (
            sa.update(self.table)
            .where(self.among(), t.status == constant(_DEAD))
            .values(status=constant(_PENDING), attempts=0, available_at=moment("now"))
        )

    @functools.cached_property
    def _discarded(self) -> sa.Delete:
        return sa.delete(self.table).where(self.among(), self.table.c.status == constant(_DEAD))

    @functools.cached_property
    def _stats(self) -> sa.Select[Any]:
        t = self.table.c
        now = moment("now")
        pending = t.status == constant(_PENDING)
        return sa.select(
            _count_of(pending),
            _count_of(sa.and_(pending, t.lease_until > now)),
            _count_of(t.status == constant(_DEAD)),
            sa.func.min(sa.case((pending, t.created_at))),
            _count_of(
                sa.and_(
                    pending,
                    sa.or_(t.lease_until.is_(None), t.lease_until <= now),
                    t.available_at > now,
                )
            ),
        )


def _count_of(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return sa.func.sum(sa.case((condition, 1), else_=0))
