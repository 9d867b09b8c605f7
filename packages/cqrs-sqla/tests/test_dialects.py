"""Each database gets its own statements, and PostgreSQL's hot paths stay one round trip each."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import create_async_engine

import cqrs
from cqrs.saga.models import SagaLogEntry, SagaStepStatus
from cqrs.testing._support.services import require_service
from cqrs_sqla import SqlAlchemyOutboxedEventRepository, SqlAlchemySagaStorage
from cqrs_sqla.dialects import (
    OutboxStatements,
    SagaStatements,
    _statements,
    mysql,
    postgresql,
    sqlite,
)


def test_each_database_gets_its_dialect_statements(tmp_path: Path) -> None:
    expected = {
        "postgresql+asyncpg://u@127.0.0.1/db": postgresql,
        "mysql+asyncmy://u@127.0.0.1/db": mysql,
        "mariadb+asyncmy://u@127.0.0.1/db": mysql,
        f"sqlite+aiosqlite:///{tmp_path / 'x.db'}": sqlite,
    }
    for url, module in expected.items():
        engine = create_async_engine(url)
        outbox = SqlAlchemyOutboxedEventRepository(engine, table="ob_dialect")
        storage = SqlAlchemySagaStorage(engine, table="saga_dialect")
        assert type(outbox._sql) is module.Outbox, url
        assert type(storage._sql) is module.Saga, url
        assert isinstance(outbox._sql, OutboxStatements)
        assert isinstance(storage._sql, SagaStatements)


class _Counter:
    """The statements an engine sends and the BEGIN/COMMITs (none on autocommit connections):
    SQLAlchemy's events see its own execution, a wrapper sees the compiled statements run on
    the driver (`cqrs_sqla.dialects._driver`)."""

    def __init__(self, engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[str] = []
        sa_event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
        sa_event.listen(engine.sync_engine, "begin", self._transaction)
        sa_event.listen(engine.sync_engine, "commit", self._transaction)
        run = _statements.run_on_driver

        async def counted(engine: Any, compiled: Any, params: Any) -> Any:
            self.sent.append(compiled.sql.split(None, 1)[0].upper())
            return await run(engine, compiled, params)

        monkeypatch.setattr(_statements, "run_on_driver", counted)

    def _statement(self, conn: Any, cursor: Any, text: str, *_: Any) -> None:
        self.sent.append(text.split(None, 1)[0].upper())

    def _transaction(self, conn: Any) -> None:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            self.sent.append("BEGIN/COMMIT")

    async def of(self, operation: Awaitable[Any]) -> list[str]:
        """What awaiting `operation` sends."""
        self.sent.clear()
        await operation
        return list(self.sent)


async def test_postgres_hot_paths_are_one_autocommitted_statement_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A claim, a settlement, a saga creation, a transition with its log entry and a renewal
    each send one statement and no BEGIN or COMMIT on PostgreSQL: one round trip apiece."""
    engine = create_async_engine(require_service("postgres").url)
    counter = _Counter(engine, monkeypatch)
    suffix = uuid.uuid4().hex[:8]
    outbox = SqlAlchemyOutboxedEventRepository(engine, table=f"ob_{suffix}")
    storage = SqlAlchemySagaStorage(engine, table=f"saga_{suffix}")
    await outbox.create_schema()
    await storage.create_schema()
    try:
        await outbox.add_many(
            [
                cqrs.NotificationEvent[dict](event_name="E", topic="t", payload={"n": n})  # type: ignore[type-arg]
                for n in range(3)
            ]
        )
        claimed: list[Any] = []

        async def claim() -> None:
            claimed.extend(await outbox.claim(worker_id="w", batch_size=10, lease_seconds=30))

        assert await counter.of(claim()) == ["WITH"]
        assert len(claimed) == 3
        assert await counter.of(outbox.mark_published(claimed, worker_id="w")) == ["DELETE"]

        saga_id = uuid.uuid4()
        create = storage.create_saga(saga_id, "S", {}, owner="w", lease_seconds=30)
        assert await counter.of(create) == ["INSERT"]
        entry = SagaLogEntry(
            saga_id=saga_id,
            step_index=0,
            step_name="s",
            action="act",
            status=SagaStepStatus.COMPLETED,
            timestamp=datetime.datetime.now(datetime.UTC),
        )
        transition = storage.transition(
            saga_id, version=1, owner="w", lease_seconds=30, context={"a": 1}, entry=entry
        )
        assert await counter.of(transition) == ["WITH"]
        assert await counter.of(storage.renew(saga_id, owner="w", lease_seconds=30)) == ["UPDATE"]
        state = await storage.load_saga_state(saga_id)
        assert state is not None
        assert (state.version, state.context) == (2, {"a": 1})
        assert [e.step_name for e in state.history] == ["s"]
        assert (await outbox.stats()).pending == 0
    finally:
        await storage.drop_schema()
        await outbox.drop_schema()
        await engine.dispose()


def test_only_the_driver_module_reaches_the_driver() -> None:
    """One module runs compiled statements on asyncpg (`dialects/_driver.py`, PostgreSQL's hot
    single statements) and one listens on it (`_listener.py`: `LISTEN` is asyncpg's API only);
    every other module goes through SQLAlchemy's execution."""
    import cqrs_sqla

    source = Path(cqrs_sqla.__file__).parent
    fenced = source / "dialects" / "_driver.py"
    for path in source.rglob("*.py"):
        if path in (fenced, source / "_listener.py"):
            continue
        text = path.read_text()
        for internal in ("raw_connection", "driver_connection", "greenlet_spawn", "import asyncpg"):
            assert internal not in text, f"{path.name} uses {internal}"
    assert "engine.raw_connection()" in fenced.read_text()
