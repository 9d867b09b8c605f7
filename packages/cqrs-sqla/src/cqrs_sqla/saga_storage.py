"""`SqlAlchemySagaStorage`: saga state and step log in PostgreSQL, MariaDB/MySQL or SQLite.

On PostgreSQL a transition is a single autocommitted statement (the state update and the log
insert in one CTE): one round trip, and so is a lease renewal. Elsewhere each is one short
transaction. Example::

    storage = SqlAlchemySagaStorage(create_async_engine("postgresql+asyncpg://app@db/app"))
    await storage.create_schema()
    mediator = cqrs.saga.bootstrap.bootstrap(sagas_mapper=..., saga_storage=storage)

From a URL (what `cqrs saga recover --storage` uses), `table=` names the saga table and
`outbox=` the outbox table its steps' notification events go to, on the same database::

    SqlAlchemySagaStorage.from_url("postgresql+asyncpg://app@db/app?table=saga&outbox=outbox")
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from cqrs.protocols.models import INotificationEvent
from cqrs.saga.models import SagaLogEntry, SagaState, SagaStatus, SagaStepStatus
from cqrs.saga.storage.protocol import SagaConcurrencyError
from cqrs_sqla import _asyncpg
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.schema import saga_log_table, saga_table

__all__ = ["SqlAlchemySagaStorage"]

_ACTIVE = (SagaStatus.RUNNING.value, SagaStatus.COMPENSATING.value)


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class SqlAlchemySagaStorage:
    """Sagas in two tables (`saga`, `saga_log` by default), with versioned, leased transitions.

    With an `outbox` on the same database, notification events a step emits are written to the
    outbox in the same transaction as the step's transition (`writes_outbox` is then true).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        table: str = "saga",
        log_table: str | None = None,
        outbox: SqlAlchemyOutboxedEventRepository | None = None,
    ) -> None:
        self.engine = engine
        self.table = saga_table(table)
        self.log = saga_log_table(log_table or f"{table}_log")
        self.outbox = outbox
        self._postgres = engine.dialect.name == "postgresql"
        self._owns_engine = False

    @property
    def writes_outbox(self) -> bool:
        """Whether `transition` accepts `outbox_events` (an outbox was given)."""
        return self.outbox is not None

    @classmethod
    def from_url(cls, url: str, **engine_options: Any) -> SqlAlchemySagaStorage:
        """Build an engine for `url`: a `table=` query parameter names the saga table, and
        `outbox=` an outbox table on the same database for the steps' notification events."""
        parsed = sa.make_url(url)
        table = _last(parsed.query.get("table")) or "saga"
        outbox_name = _last(parsed.query.get("outbox"))
        engine = create_async_engine(
            parsed.difference_update_query(["table", "outbox"]), **engine_options
        )
        outbox = None
        if outbox_name:
            outbox = SqlAlchemyOutboxedEventRepository(engine, table=outbox_name)
        storage = cls(engine, table=table, outbox=outbox)
        storage._owns_engine = True
        return storage

    async def close(self) -> None:
        """Dispose of the engine if `from_url` created it."""
        if self._owns_engine:
            await self.engine.dispose()

    async def create_schema(self) -> None:
        """Create both tables if they do not exist."""
        async with self.engine.begin() as conn:
            await conn.run_sync(self.table.metadata.create_all, tables=[self.table, self.log])

    async def drop_schema(self) -> None:
        """Drop both tables."""
        async with self.engine.begin() as conn:
            await conn.run_sync(self.table.metadata.drop_all, tables=[self.log, self.table])

    async def _autocommit(self) -> AsyncConnection:
        conn = await self.engine.connect()
        return await conn.execution_options(isolation_level="AUTOCOMMIT")

    async def create_saga(
        self,
        saga_id: uuid.UUID,
        saga_name: str,
        context: dict[str, Any],
        *,
        owner: str,
        lease_seconds: float,
    ) -> SagaState:
        now = _utcnow()
        values: dict[str, Any] = {
            "saga_id": saga_id,
            "saga_name": saga_name,
            "status": SagaStatus.RUNNING.value,
            "context": context,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "lease_owner": owner,
            "lease_until": now + datetime.timedelta(seconds=lease_seconds),
        }
        if self._postgres:
            await self._pg_create(values)
        else:
            conn = await self._autocommit()
            try:
                await conn.execute(sa.insert(self.table).values(values))
            except IntegrityError as exc:
                raise SagaConcurrencyError(f"saga {saga_id} already exists") from exc
            finally:
                await conn.close()
        return SagaState(**{**values, "status": SagaStatus.RUNNING})

    async def _pg(self, sql: str, *args: Any) -> str:
        """Run one statement autocommitted on a pooled asyncpg connection: one round trip."""
        return await _asyncpg.pg_execute(self.engine, sql, *args)

    async def _pg_create(self, values: dict[str, Any]) -> None:
        import asyncpg  # type: ignore[import-untyped,import-not-found,unused-ignore]

        sql = (
            f'INSERT INTO "{self.table.name}" (saga_id, saga_name, status, context, version, '
            "created_at, updated_at, lease_owner, lease_until) "
            "VALUES ($1, $2, 'running', $3::json, 1, $4, $4, $5, $6)"
        )
        try:
            await self._pg(
                sql,
                values["saga_id"],
                values["saga_name"],
                json.dumps(values["context"]),
                _naive(values["created_at"]),
                values["lease_owner"],
                _naive(values["lease_until"]),
            )
        except asyncpg.UniqueViolationError as exc:
            raise SagaConcurrencyError(f"saga {values['saga_id']} already exists") from exc

    async def _pg_transition(
        self,
        saga_id: uuid.UUID,
        version: int,
        owner: str,
        values: dict[str, Any],
        entry: SagaLogEntry | None,
    ) -> bool:
        """The state update and the log insert as one statement (a CTE); True if it applied."""
        args: list[Any] = [
            version,
            _naive(values["updated_at"]),
            values["lease_owner"],
            _naive(values["lease_until"]),
            saga_id,
            owner,
        ]
        sets = ["version = $1 + 1", "updated_at = $2", "lease_owner = $3", "lease_until = $4"]
        if "status" in values:
            args.append(values["status"])
            sets.append(f"status = ${len(args)}")
        if "context" in values:
            args.append(json.dumps(values["context"]))
            sets.append(f"context = ${len(args)}::json")
        sql = (
            f'UPDATE "{self.table.name}" SET {", ".join(sets)} WHERE saga_id = $5 '
            "AND version = $1 AND (lease_owner IS NULL OR lease_owner = $6 OR lease_until <= $2)"
        )
        if entry is not None:
            first = len(args) + 1
            args += [
                entry.step_index,
                entry.step_name,
                entry.action,
                entry.status.value,
                _naive(entry.timestamp),
                entry.details,
            ]
            placeholders = ", ".join(f"${n}" for n in range(first, first + 6))
            sql = (
                f"WITH updated AS ({sql} RETURNING saga_id) "
                f'INSERT INTO "{self.log.name}" (saga_id, step_index, step_name, action, status, '
                f'"timestamp", details) SELECT saga_id, {placeholders} FROM updated'
            )
        done = await self._pg(sql, *args)
        return done.endswith(" 1")

    def _lease_free(self, owner: str, now: datetime.datetime) -> Any:
        t = self.table.c
        return sa.or_(t.lease_owner.is_(None), t.lease_owner == owner, t.lease_until <= now)

    async def transition(
        self,
        saga_id: uuid.UUID,
        *,
        version: int,
        owner: str,
        lease_seconds: float,
        status: SagaStatus | None = None,
        context: dict[str, Any] | None = None,
        entry: SagaLogEntry | None = None,
        outbox_events: Sequence[INotificationEvent] = (),
    ) -> int:
        t = self.table.c
        now = _utcnow()
        values: dict[str, Any] = {"version": version + 1, "updated_at": now}
        if status is not None:
            values["status"] = status.value
        if context is not None:
            values["context"] = context
        if status is not None and status.terminal:
            values.update(lease_owner=None, lease_until=None)
        else:
            values.update(
                lease_owner=owner, lease_until=now + datetime.timedelta(seconds=lease_seconds)
            )
        if self._postgres and not outbox_events:
            if not await self._pg_transition(saga_id, version, owner, values, entry):
                raise self._conflict(saga_id, version)
            return version + 1
        update = (
            sa.update(self.table)
            .where(t.saga_id == saga_id, t.version == version, self._lease_free(owner, now))
            .values(values)
        )
        async with self.engine.begin() as conn:
            result = await conn.execute(update)
            if result.rowcount != 1:
                raise self._conflict(saga_id, version)
            if entry is not None:
                await conn.execute(sa.insert(self.log).values(self._entry_row(entry)))
            if outbox_events:
                if self.outbox is None:
                    raise TypeError("this saga storage has no outbox for outbox_events")
                await conn.execute(
                    sa.insert(self.outbox.table), self.outbox.rows_for(outbox_events)
                )
        return version + 1

    @staticmethod
    def _entry_row(entry: SagaLogEntry) -> dict[str, Any]:
        return {
            "saga_id": entry.saga_id,
            "step_index": entry.step_index,
            "step_name": entry.step_name,
            "action": entry.action,
            "status": entry.status.value,
            "timestamp": entry.timestamp,
            "details": entry.details,
        }

    @staticmethod
    def _conflict(saga_id: uuid.UUID, version: int) -> SagaConcurrencyError:
        return SagaConcurrencyError(
            f"saga {saga_id} is no longer at version {version}, or another worker holds its lease"
        )

    def _state(self, row: Any, history: Sequence[SagaLogEntry]) -> SagaState:
        return SagaState(
            saga_id=row.saga_id,
            saga_name=row.saga_name,
            status=SagaStatus(row.status),
            context=dict(row.context),
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            lease_owner=row.lease_owner,
            lease_until=row.lease_until,
            history=tuple(history),
        )

    async def _history(self, conn: AsyncConnection, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        rows = await conn.execute(
            sa.select(self.log).where(self.log.c.saga_id == saga_id).order_by(self.log.c.id)
        )
        return [
            SagaLogEntry(
                saga_id=row.saga_id,
                step_index=row.step_index,
                step_name=row.step_name,
                action=row.action,
                status=SagaStepStatus(row.status),
                timestamp=row.timestamp,
                details=row.details,
            )
            for row in rows
        ]

    async def load_saga_state(self, saga_id: uuid.UUID) -> SagaState | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(self.table).where(self.table.c.saga_id == saga_id))
            ).one_or_none()
            if row is None:
                return None
            return self._state(row, await self._history(conn, saga_id))

    async def get_step_history(self, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        async with self.engine.connect() as conn:
            return await self._history(conn, saga_id)

    async def find_interrupted(self, *, stale_after: float, limit: int = 100) -> list[uuid.UUID]:
        t = self.table.c
        now = _utcnow()
        query = (
            sa.select(t.saga_id)
            .where(
                t.status.in_(_ACTIVE),
                t.updated_at <= now - datetime.timedelta(seconds=stale_after),
                sa.or_(t.lease_until.is_(None), t.lease_until <= now),
            )
            .order_by(t.updated_at)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def acquire(
        self, saga_id: uuid.UUID, *, owner: str, lease_seconds: float
    ) -> SagaState | None:
        t = self.table.c
        now = _utcnow()
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sa.update(self.table)
                .where(t.saga_id == saga_id, self._lease_free(owner, now))
                .values(
                    version=t.version + 1,
                    lease_owner=owner,
                    lease_until=now + datetime.timedelta(seconds=lease_seconds),
                )
            )
            if result.rowcount != 1:
                return None
            row = (await conn.execute(sa.select(self.table).where(t.saga_id == saga_id))).one()
            return self._state(row, await self._history(conn, saga_id))

    async def release(self, saga_id: uuid.UUID, *, owner: str) -> None:
        t = self.table.c
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(self.table)
                .where(t.saga_id == saga_id, t.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    async def renew(self, saga_id: uuid.UUID, *, owner: str, lease_seconds: float) -> bool:
        until = _utcnow() + datetime.timedelta(seconds=lease_seconds)
        if self._postgres:
            done = await self._pg(
                f'UPDATE "{self.table.name}" SET lease_until = $1 '
                "WHERE saga_id = $2 AND lease_owner = $3",
                _naive(until),
                saga_id,
                owner,
            )
            return done.endswith(" 1")
        t = self.table.c
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sa.update(self.table)
                .where(t.saga_id == saga_id, t.lease_owner == owner)
                .values(lease_until=until)
            )
        return bool(result.rowcount == 1)


def _last(value: str | tuple[str, ...] | None) -> str | None:
    """A URL query parameter's value (the last one if repeated)."""
    return value[-1] if isinstance(value, tuple) else value


def _naive(moment: datetime.datetime | None) -> datetime.datetime | None:
    """`moment` as naive UTC, how the tables store timestamps."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(datetime.UTC).replace(tzinfo=None)
