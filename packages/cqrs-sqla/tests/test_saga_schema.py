"""The saga table of an earlier release (no `trace` column) is upgraded by `create_schema`, and
the sagas it already holds still load."""

from __future__ import annotations

import datetime
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from cqrs.saga.models import SagaStatus
from cqrs_sqla import SqlAlchemySagaStorage, saga_table

from .conftest import database_url

_TRACE = {"correlation_id": "c-1", "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}


def _without_trace(name: str) -> sa.Table:
    """The saga table `name` as it was before the `trace` column, in a metadata of its own."""
    current = saga_table(name, sa.MetaData())
    return sa.Table(
        name,
        sa.MetaData(),
        *(
            sa.Column(
                column.name,
                column.type,
                primary_key=column.primary_key,
                nullable=column.nullable,
            )
            for column in current.columns
            if column.name != "trace"
        ),
    )


async def test_create_schema_adds_the_trace_column_to_an_older_saga_table(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    engine = create_async_engine(database_url(backend, tmp_path_factory))
    name = f"saga_{uuid.uuid4().hex[:10]}"
    older = _without_trace(name)
    old_id = uuid.uuid4()
    now = datetime.datetime.now(datetime.UTC)
    async with engine.begin() as conn:
        await conn.run_sync(older.metadata.create_all)
        await conn.execute(
            sa.insert(older),
            {
                "saga_id": old_id,
                "saga_name": "OrderSaga",
                "status": SagaStatus.RUNNING.value,
                "context": {"order_id": "o-1"},
                "version": 1,
                "created_at": now,
                "updated_at": now,
            },
        )
    storage = SqlAlchemySagaStorage(engine, table=name)
    try:
        await storage.create_schema()
        await storage.create_schema()
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda sync: {column["name"] for column in sa.inspect(sync).get_columns(name)}
            )
        assert "trace" in columns
        old = await storage.load_saga_state(old_id)
        assert old is not None
        assert (old.context, old.trace) == ({"order_id": "o-1"}, None)
        created = await storage.create_saga(
            uuid.uuid4(), "OrderSaga", {}, owner="w", lease_seconds=30, trace=_TRACE
        )
        loaded = await storage.load_saga_state(created.saga_id)
        assert loaded is not None
        assert loaded.trace == _TRACE
    finally:
        await storage.drop_schema()
        await engine.dispose()
