"""`SqlAlchemySagaStorage`: saga state and step log in PostgreSQL, MariaDB/MySQL or SQLite.

On PostgreSQL a transition is a single autocommitted statement (the state update and the log
insert in one CTE): one round trip, and so is a lease renewal. Elsewhere each is one short
transaction. Each database's statements are in `cqrs_sqla.dialects`. Example::

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
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cqrs.clock import utcnow
from cqrs.protocols.models import INotificationEvent
from cqrs.saga.models import SagaLogEntry, SagaState, SagaStatus, SagaStepStatus
from cqrs.saga.storage import Pycqrs4StorageMethods, default_owner
from cqrs.saga.storage.protocol import SagaConcurrencyError
from cqrs_sqla.dialects import saga_statements
from cqrs_sqla.outbox import SqlAlchemyOutboxedEventRepository
from cqrs_sqla.schema import add_missing_columns, saga_log_table, saga_table

__all__ = ["SqlAlchemySagaStorage"]

_log = logging.getLogger("cqrs.sqla")


class SqlAlchemySagaStorage(Pycqrs4StorageMethods):
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
        self._sql = saga_statements(engine, self.table, self.log)
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
        """Create both tables if they do not exist, and add the nullable columns a table made
        by an earlier release lacks (the saga table's `trace`)."""
        tables = [self.table, self.log]
        async with self.engine.begin() as conn:
            await conn.run_sync(self.table.metadata.create_all, tables=tables)
            added = await conn.run_sync(add_missing_columns, tables)
        if added:
            _log.info("added the columns %s", ", ".join(added))

    async def drop_schema(self) -> None:
        """Drop both tables."""
        async with self.engine.begin() as conn:
            await conn.run_sync(self.table.metadata.drop_all, tables=[self.log, self.table])

    async def create_saga(
        self,
        saga_id: uuid.UUID,
        saga_name: str,
        context: dict[str, Any],
        *,
        owner: str | None = None,
        lease_seconds: float = 0.0,
        trace: Mapping[str, str] | None = None,
    ) -> SagaState:
        if owner is None:
            owner = default_owner()
        now = utcnow()
        kept = dict(trace) if trace else None
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
            "trace": None if kept is None else json.dumps(kept, separators=(",", ":")),
        }
        try:
            await self._sql.create(values)
        except IntegrityError as exc:
            raise SagaConcurrencyError(f"saga {saga_id} already exists") from exc
        return SagaState(**{**values, "status": SagaStatus.RUNNING, "trace": kept})

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
        now = utcnow()
        params: dict[str, Any] = {
            "saga": saga_id,
            "at_version": version,
            "owner": owner,
            "now": now,
            "next_version": version + 1,
        }
        if status is not None:
            params["new_status"] = status.value
        if context is not None:
            params["new_context"] = context
        if status is not None and status.terminal:
            params["new_owner"] = params["new_until"] = None
        else:
            params["new_owner"] = owner
            params["new_until"] = now + datetime.timedelta(seconds=lease_seconds)
        outbox = None
        if outbox_events:
            if self.outbox is None:
                raise TypeError("this saga storage has no outbox for outbox_events")
            outbox = (self.outbox.table, self.outbox.rows_for(outbox_events))
        log = None if entry is None else _log_params(entry)
        if not await self._sql.transition(params, log, outbox):
            raise self._conflict(saga_id, version)
        return version + 1

    @staticmethod
    def _conflict(saga_id: uuid.UUID, version: int) -> SagaConcurrencyError:
        return SagaConcurrencyError(
            f"saga {saga_id} is no longer at version {version}, or another worker holds its lease"
        )

    @staticmethod
    def _state(row: Any, history: Sequence[Any]) -> SagaState:
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
            history=tuple(_entry(log) for log in history),
            trace=_trace(row.trace),
        )

    async def load_saga_state(
        self, saga_id: uuid.UUID, *, read_for_update: bool = False
    ) -> SagaState | None:
        found = await self._sql.load(saga_id)
        return None if found is None else self._state(*found)

    async def get_step_history(self, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        return [_entry(row) for row in await self._sql.history(saga_id)]

    async def find_interrupted(self, *, stale_after: float, limit: int = 100) -> list[uuid.UUID]:
        now = utcnow()
        stale_before = now - datetime.timedelta(seconds=stale_after)
        return await self._sql.interrupted(stale_before, now, limit)

    async def acquire(
        self, saga_id: uuid.UUID, *, owner: str, lease_seconds: float
    ) -> SagaState | None:
        now = utcnow()
        until = now + datetime.timedelta(seconds=lease_seconds)
        found = await self._sql.acquire(saga_id, owner, now, until)
        return None if found is None else self._state(*found)

    async def release(self, saga_id: uuid.UUID, *, owner: str) -> None:
        await self._sql.release(saga_id, owner)

    async def renew(self, saga_id: uuid.UUID, *, owner: str, lease_seconds: float) -> bool:
        until = utcnow() + datetime.timedelta(seconds=lease_seconds)
        return await self._sql.renew(saga_id, owner, until)


def _log_params(entry: SagaLogEntry) -> dict[str, Any]:
    """A log entry as the `log_<column>` parameters of a transition."""
    return {
        "log_step_index": entry.step_index,
        "log_step_name": entry.step_name,
        "log_action": entry.action,
        "log_status": entry.status.value,
        "log_timestamp": entry.timestamp,
        "log_details": entry.details,
    }


def _entry(row: Any) -> SagaLogEntry:
    return SagaLogEntry(
        saga_id=row.saga_id,
        step_index=row.step_index,
        step_name=row.step_name,
        action=row.action,
        status=SagaStepStatus(row.status),
        timestamp=row.timestamp,
        details=row.details,
    )


def _trace(stored: str | None) -> dict[str, str] | None:
    """The `trace` headers from their stored JSON (`None` when the saga has none)."""
    if not stored:
        return None
    loaded = json.loads(stored)
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else None


def _last(value: str | tuple[str, ...] | None) -> str | None:
    """A URL query parameter's value (the last one if repeated)."""
    return value[-1] if isinstance(value, tuple) else value
