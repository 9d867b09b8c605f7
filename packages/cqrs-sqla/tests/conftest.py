"""Outbox fixtures on each database: SQLite always, PostgreSQL and MariaDB when reachable."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from cqrs.testing._support.services import require_service
from cqrs_sqla import SqlAlchemyInbox, SqlAlchemyOutboxedEventRepository, SqlAlchemySagaStorage


def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of `backend`'s test database (skipping, or failing on CI, if it is down)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'outbox.db'}"
    return require_service(backend).url


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def outbox_on(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SqlAlchemyOutboxedEventRepository]:
    """An empty outbox in a table of its own, dropped after the test."""
    engine = create_async_engine(database_url(backend, tmp_path_factory))
    repository = SqlAlchemyOutboxedEventRepository(engine, table=f"outbox_{uuid.uuid4().hex[:10]}")
    await repository.create_schema()
    try:
        yield repository
    finally:
        await repository.drop_schema()
        await engine.dispose()


@pytest.fixture
async def inbox_on(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """An empty inbox in a table of its own, dropped after the test."""
    engine = create_async_engine(database_url(backend, tmp_path_factory))
    inbox = SqlAlchemyInbox(engine, table=f"inbox_{uuid.uuid4().hex[:10]}")
    await inbox.create_schema()
    try:
        yield inbox
    finally:
        await inbox.drop_schema()
        await engine.dispose()


@pytest.fixture
async def saga_storage_on(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Any]:
    """An empty saga storage in tables of its own, dropped after the test."""
    engine = create_async_engine(database_url(backend, tmp_path_factory))
    storage = SqlAlchemySagaStorage(engine, table=f"saga_{uuid.uuid4().hex[:10]}")
    await storage.create_schema()
    try:
        yield storage
    finally:
        await storage.drop_schema()
        await engine.dispose()
