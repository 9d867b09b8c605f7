"""The saga storage's statements in the shape every dialect shares; dialect modules replace what
differs.

Every write to a saga is fenced: a transition applies only at the version the driver read and
while no other worker holds a live lease, so two drivers never both advance one saga.
"""

from __future__ import annotations

import datetime
import functools
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cqrs.saga.models import SagaStatus
from cqrs_sqla.dialects._statements import Statements, moment

__all__ = ["LOG_COLUMNS", "SagaStatements"]

LOG_COLUMNS = ("saga_id", "step_index", "step_name", "action", "status", "timestamp", "details")
"""The step log's columns a transition writes; its parameters are `log_<column>` (but the saga
id, which is the transition's `saga`)."""

_ACTIVE = (SagaStatus.RUNNING.value, SagaStatus.COMPENSATING.value)


class SagaStatements(Statements):
    """The saga and step log statements of one pair of tables on one engine.

    A transition is the fenced state update, then its log entry, in one short transaction.
    """

    def __init__(self, engine: AsyncEngine, table: sa.Table, log: sa.Table) -> None:
        super().__init__(engine)
        self.table = table
        self.log = log
        self._transitions: dict[tuple[bool, bool, bool], sa.Executable] = {}

    def lease_free(self) -> sa.ColumnElement[bool]:
        """No worker but `:owner` holds a live lease at `:now`."""
        t = self.table.c
        return sa.or_(
            t.lease_owner.is_(None),
            t.lease_owner == sa.bindparam("owner", type_=t.lease_owner.type),
            t.lease_until <= moment("now"),
        )

    def _saga(self) -> sa.BindParameter[Any]:
        return sa.bindparam("saga", type_=self.table.c.saga_id.type)

    # -- create and transition ------------------------------------------------------------------

    async def create(self, values: dict[str, Any]) -> None:
        """Insert a saga row (`values` by column); raises `IntegrityError` if the id exists."""
        await self.run(self._insert, values)

    async def transition(
        self,
        params: dict[str, Any],
        entry: dict[str, Any] | None,
        outbox: tuple[sa.Table, Sequence[dict[str, Any]]] | None = None,
    ) -> bool:
        """Apply a fenced transition, its log entry and outbox rows together; False if refused.

        `params`: `saga`, `at_version`, `owner`, `now` (the fence), `next_version`, `new_owner`,
        `new_until`, and `new_status` / `new_context` when they change. `entry`: the log row's
        `log_<column>` values. `outbox`: a table and the rows to insert into it.
        """
        if outbox is None and self.applies_in_one_statement(entry):
            return await self.apply_alone(params, entry)
        async with self.engine.begin() as conn:
            if not await self.apply(conn, params, entry):
                return False
            if outbox is not None:
                await conn.execute(sa.insert(outbox[0]), list(outbox[1]))
        return True

    def applies_in_one_statement(self, entry: dict[str, Any] | None) -> bool:
        """Whether `apply` sends one statement here (it then needs no transaction)."""
        return entry is None

    async def apply_alone(self, params: dict[str, Any], entry: dict[str, Any] | None) -> bool:
        """`apply` when it is one statement: committed on return."""
        async with self.single() as conn:
            return await self.apply(conn, params, entry)

    async def apply(
        self, conn: AsyncConnection, params: dict[str, Any], entry: dict[str, Any] | None
    ) -> bool:
        """The state update, then the log entry if it applied; True if it applied."""
        if (await conn.execute(self.statement(params, with_entry=False), params)).rowcount != 1:
            return False
        if entry is not None:
            await conn.execute(self._log_entry, {"saga": params["saga"], **entry})
        return True

    def statement(self, params: dict[str, Any], *, with_entry: bool) -> sa.Executable:
        """The statement of a transition setting what `params` carries, built once per shape."""
        key = ("new_status" in params, "new_context" in params, with_entry)
        statement = self._transitions.get(key)
        if statement is None:
            statement = self._transitions[key] = self.build_transition(*key)
        return statement

    def build_transition(self, status: bool, context: bool, with_entry: bool) -> sa.Executable:
        """A transition shape's statement: here the state update alone (the entry follows it)."""
        return self.state_update(status, context)

    def state_update(self, status: bool, context: bool) -> sa.Update:
        """`UPDATE` of the saga at `:at_version` whose lease is free for `:owner`."""
        t = self.table.c
        values: dict[str, Any] = {
            "version": sa.bindparam("next_version", type_=t.version.type),
            "updated_at": moment("now"),
            "lease_owner": sa.bindparam("new_owner", type_=t.lease_owner.type),
            "lease_until": moment("new_until"),
        }
        if status:
            values["status"] = sa.bindparam("new_status", type_=t.status.type)
        if context:
            values["context"] = sa.bindparam("new_context", type_=t.context.type)
        return (
            sa.update(self.table)
            .where(
                t.saga_id == self._saga(),
                t.version == sa.bindparam("at_version", type_=t.version.type),
                self.lease_free(),
            )
            .values(values)
        )

    def log_values(self) -> list[sa.ColumnElement[Any]]:
        """The log row's parameters after its saga id, in `LOG_COLUMNS` order."""
        return [
            sa.bindparam(f"log_{name}", type_=self.log.c[name].type) for name in LOG_COLUMNS[1:]
        ]

    @functools.cached_property
    def _insert(self) -> sa.Insert:
        return sa.insert(self.table)

    @functools.cached_property
    def _log_entry(self) -> sa.Insert:
        values = [self._saga(), *self.log_values()]
        return sa.insert(self.log).values(dict(zip(LOG_COLUMNS, values, strict=True)))

    # -- leases ---------------------------------------------------------------------------------

    async def acquire(
        self, saga_id: uuid.UUID, owner: str, now: datetime.datetime, until: datetime.datetime
    ) -> tuple[Any, Sequence[Any]] | None:
        """Take the lease of a saga no one else holds (bumping its version); its row and log."""
        params = {"saga": saga_id, "owner": owner, "now": now, "new_until": until}
        async with self.engine.begin() as conn:
            if (await conn.execute(self._acquired, params)).rowcount != 1:
                return None
            row = (await conn.execute(self._state_of, {"saga": saga_id})).one()
            return row, (await conn.execute(self._history_of, {"saga": saga_id})).all()

    async def renew(self, saga_id: uuid.UUID, owner: str, until: datetime.datetime) -> bool:
        """Move the end of `owner`'s lease to `until`; False if `owner` no longer holds it."""
        params = {"saga": saga_id, "owner": owner, "new_until": until}
        return (await self.run(self._renewed, params)).rowcount == 1

    async def release(self, saga_id: uuid.UUID, owner: str) -> None:
        """Drop `owner`'s lease, if it still holds it."""
        await self.run(self._released, {"saga": saga_id, "owner": owner})

    @functools.cached_property
    def _acquired(self) -> sa.Update:
        t = self.table.c
        return (
            sa.update(self.table)
            .where(t.saga_id == self._saga(), self.lease_free())
            .values(
                version=t.version + 1,
                lease_owner=sa.bindparam("owner", type_=t.lease_owner.type),
                lease_until=moment("new_until"),
            )
        )

    def _held_by_owner(self) -> sa.ColumnElement[bool]:
        t = self.table.c
        return sa.and_(
            t.saga_id == self._saga(),
            t.lease_owner == sa.bindparam("owner", type_=t.lease_owner.type),
        )

    @functools.cached_property
    def _renewed(self) -> sa.Update:
        return (
            sa.update(self.table)
            .where(self._held_by_owner())
            .values(lease_until=moment("new_until"))
        )

    @functools.cached_property
    def _released(self) -> sa.Update:
        return (
            sa.update(self.table)
            .where(self._held_by_owner())
            .values(lease_owner=sa.null(), lease_until=sa.null())
        )

    # -- reading --------------------------------------------------------------------------------

    async def load(self, saga_id: uuid.UUID) -> tuple[Any, Sequence[Any]] | None:
        """A saga's row and its log rows in write order, or `None`."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(self._state_of, {"saga": saga_id})).one_or_none()
            if row is None:
                return None
            return row, (await conn.execute(self._history_of, {"saga": saga_id})).all()

    async def history(self, saga_id: uuid.UUID) -> Sequence[Any]:
        """A saga's log rows in write order."""
        async with self.single() as conn:
            rows: Sequence[Any] = (await conn.execute(self._history_of, {"saga": saga_id})).all()
        return rows

    async def interrupted(
        self, stale_before: datetime.datetime, now: datetime.datetime, limit: int
    ) -> list[uuid.UUID]:
        """Active sagas untouched since `stale_before` whose lease is free, oldest first."""
        params = {"stale_before": stale_before, "now": now, "limit": limit}
        async with self.single() as conn:
            return list((await conn.execute(self._interrupted, params)).scalars())

    @functools.cached_property
    def _state_of(self) -> sa.Select[Any]:
        return sa.select(self.table).where(self.table.c.saga_id == self._saga())

    @functools.cached_property
    def _history_of(self) -> sa.Select[Any]:
        log = self.log.c
        return sa.select(self.log).where(log.saga_id == self._saga()).order_by(log.id)

    @functools.cached_property
    def _interrupted(self) -> sa.Select[Any]:
        t = self.table.c
        now = moment("now")
        return (
            sa.select(t.saga_id)
            .where(
                t.status.in_(_ACTIVE),
                t.updated_at <= moment("stale_before"),
                sa.or_(t.lease_until.is_(None), t.lease_until <= now),
            )
            .order_by(t.updated_at)
            .limit(sa.bindparam("limit", type_=sa.Integer()))
        )
