"""python-cqrs 4.x's saga storage calls (`ISagaStorage`'s docstrings) on our memory, SQLite,
PostgreSQL and Redis storages, and a storage written for 4.x's `ISagaStorage` under our engine."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cqrs.dispatcher.exceptions import SagaConcurrencyError
from cqrs.saga.storage.enums import SagaStatus, SagaStepStatus
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.saga.storage.protocol import ISagaStorage
from cqrs.testing._support.services import require_service


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
async def storage(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Any]:
    kind = request.param
    if kind == "memory":
        yield MemorySagaStorage()
        return
    if kind == "redis":
        import redis.asyncio as aioredis

        from cqrs_redis import RedisSagaStorage

        client = aioredis.Redis.from_url(require_service("redis").url)
        yield RedisSagaStorage(client, prefix=f"compat:{uuid.uuid4().hex[:8]}")
        await client.aclose()
        return
    from sqlalchemy.ext.asyncio import create_async_engine

    from cqrs_sqla import SqlAlchemySagaStorage

    url = f"sqlite+aiosqlite:///{tmp_path / 'saga.db'}"
    if kind == "postgres":
        url = require_service("postgres").url
    engine = create_async_engine(url)
    sql = SqlAlchemySagaStorage(engine, table=f"saga_{uuid.uuid4().hex[:10]}")
    await sql.create_schema()
    yield sql
    await sql.drop_schema()
    await engine.dispose()


async def test_create_then_update_and_load_as_4x_does(storage: Any) -> None:
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, "OrderSaga", {"order_id": "1"})
    await storage.update_status(saga_id, SagaStatus.RUNNING)
    status, context, version = await storage.load_saga_state(saga_id, read_for_update=True)
    assert (status, context) == (SagaStatus.RUNNING, {"order_id": "1"})
    await storage.update_context(saga_id, {"order_id": "1", "paid": True}, current_version=version)
    status, context, newer = await storage.load_saga_state(saga_id)
    assert context == {"order_id": "1", "paid": True}
    assert newer > version


async def test_stale_current_version_raises_and_changes_nothing(storage: Any) -> None:
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, "OrderSaga", {"n": 1})
    _, _, version = await storage.load_saga_state(saga_id)
    await storage.update_context(saga_id, {"n": 2})
    with pytest.raises(SagaConcurrencyError):
        await storage.update_context(saga_id, {"n": 3}, current_version=version)
    _, context, _ = await storage.load_saga_state(saga_id)
    assert context == {"n": 2}


async def test_unknown_saga_raises_value_error_on_writes(storage: Any) -> None:
    with pytest.raises(ValueError, match="not found"):
        await storage.update_status(uuid.uuid4(), SagaStatus.RUNNING)
    with pytest.raises(ValueError, match="not found"):
        await storage.log_step(uuid.uuid4(), "Step", "act", SagaStepStatus.STARTED)


async def test_log_step_history_in_order(storage: Any) -> None:
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, "OrderSaga", {})
    await storage.log_step(saga_id, "Reserve", "act", SagaStepStatus.STARTED)
    await storage.log_step(saga_id, "Reserve", "act", SagaStepStatus.COMPLETED)
    await storage.log_step(saga_id, "Pay", "act", SagaStepStatus.FAILED, "declined")
    await storage.log_step(saga_id, "Reserve", "compensate", SagaStepStatus.COMPENSATED)
    history = await storage.get_step_history(saga_id)
    assert [(e.step_name, e.action, e.status, e.details) for e in history] == [
        ("Reserve", "act", SagaStepStatus.STARTED, None),
        ("Reserve", "act", SagaStepStatus.COMPLETED, None),
        ("Pay", "act", SagaStepStatus.FAILED, "declined"),
        ("Reserve", "compensate", SagaStepStatus.COMPENSATED, None),
    ]
    assert [e.step_index for e in history] == [0, 0, 1, 0]


async def test_recovery_candidates_attempts_and_name(storage: Any) -> None:
    running, compensating, done, other = (uuid.uuid4() for _ in range(4))
    for saga_id, name in ((running, "A"), (compensating, "A"), (done, "A"), (other, "B")):
        await storage.create_saga(saga_id, name, {})
    await storage.update_status(compensating, SagaStatus.COMPENSATING)
    await storage.update_status(done, SagaStatus.COMPLETED)
    assert set(await storage.get_sagas_for_recovery(10)) == {running, compensating, other}
    assert set(await storage.get_sagas_for_recovery(10, saga_name="A")) == {running, compensating}
    assert len(await storage.get_sagas_for_recovery(1)) == 1
    assert await storage.get_sagas_for_recovery(10, stale_after_seconds=3600) == []

    await storage.increment_recovery_attempts(running)
    await storage.increment_recovery_attempts(running)
    assert running not in await storage.get_sagas_for_recovery(10, max_recovery_attempts=2)
    assert running in await storage.get_sagas_for_recovery(10, max_recovery_attempts=3)
    await storage.set_recovery_attempts(running, 0)
    assert running in await storage.get_sagas_for_recovery(10, max_recovery_attempts=1)

    await storage.increment_recovery_attempts(other, new_status=SagaStatus.FAILED)
    status, _, _ = await storage.load_saga_state(other)
    assert status == SagaStatus.FAILED
    assert other not in await storage.get_sagas_for_recovery(10)


async def test_a_leased_saga_is_not_offered_for_recovery(storage: Any) -> None:
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, "A", {}, owner="worker-1", lease_seconds=60)
    assert await storage.get_sagas_for_recovery(10) == []
    await storage.update_status(saga_id, SagaStatus.COMPENSATING)
    state = await storage.load_saga_state(saga_id)
    assert state.lease_owner == "worker-1"
    assert state.lease_until > datetime.datetime.now(datetime.UTC)


class FourXMemoryStorage(ISagaStorage):  # type: ignore[misc,valid-type]
    """A storage written to 4.x's `ISagaStorage` docstrings: statuses, a version bumped by
    context and status updates, a log without step indexes, nothing about leases."""

    def __init__(self) -> None:
        self.sagas: dict[uuid.UUID, dict[str, Any]] = {}
        self.logs: dict[uuid.UUID, list[Any]] = {}

    async def create_saga(self, saga_id: uuid.UUID, name: str, context: dict[str, Any]) -> None:
        if saga_id in self.sagas:
            raise ValueError(f"Saga {saga_id} already exists")
        now = datetime.datetime.now(datetime.UTC)
        self.sagas[saga_id] = {
            "name": name,
            "status": SagaStatus.PENDING,
            "context": context,
            "version": 1,
            "updated_at": now,
            "attempts": 0,
        }
        self.logs[saga_id] = []

    def _get(self, saga_id: uuid.UUID) -> dict[str, Any]:
        if saga_id not in self.sagas:
            raise ValueError(f"Saga {saga_id} not found")
        return self.sagas[saga_id]

    async def update_context(
        self, saga_id: uuid.UUID, context: dict[str, Any], current_version: int | None = None
    ) -> None:
        data = self._get(saga_id)
        if current_version is not None and data["version"] != current_version:
            raise SagaConcurrencyError(f"Saga {saga_id} was modified concurrently")
        data.update(context=context, version=data["version"] + 1)

    async def update_status(self, saga_id: uuid.UUID, status: SagaStatus) -> None:
        data = self._get(saga_id)
        data.update(status=status, version=data["version"] + 1)

    async def log_step(
        self,
        saga_id: uuid.UUID,
        step_name: str,
        action: str,
        status: SagaStepStatus,
        details: str | None = None,
    ) -> None:
        self._get(saga_id)
        now = datetime.datetime.now(datetime.UTC)
        self.logs[saga_id].append(
            type(
                "Entry",
                (),
                {
                    "step_name": step_name,
                    "action": action,
                    "status": status,
                    "timestamp": now,
                    "details": details,
                },
            )()
        )

    async def load_saga_state(
        self, saga_id: uuid.UUID, *, read_for_update: bool = False
    ) -> tuple[SagaStatus, dict[str, Any], int]:
        data = self._get(saga_id)
        return data["status"], data["context"], data["version"]

    async def get_step_history(self, saga_id: uuid.UUID) -> list[Any]:
        return list(self.logs.get(saga_id, []))

    async def get_sagas_for_recovery(
        self,
        limit: int,
        max_recovery_attempts: int = 5,
        stale_after_seconds: int | None = None,
        saga_name: str | None = None,
    ) -> list[uuid.UUID]:
        return [
            saga_id
            for saga_id, data in self.sagas.items()
            if data["status"] in (SagaStatus.RUNNING, SagaStatus.COMPENSATING)
            and data["attempts"] < max_recovery_attempts
        ][:limit]

    async def increment_recovery_attempts(
        self, saga_id: uuid.UUID, new_status: SagaStatus | None = None
    ) -> None:
        self._get(saga_id)["attempts"] += 1

    async def set_recovery_attempts(self, saga_id: uuid.UUID, attempts: int) -> None:
        self._get(saga_id)["attempts"] = attempts


async def test_the_adapter_keeps_our_protocol_over_a_4x_storage() -> None:
    from cqrs.saga.storage import Pycqrs4SagaStorage

    inner = FourXMemoryStorage()
    storage = Pycqrs4SagaStorage(inner)
    saga_id = uuid.uuid4()
    state = await storage.create_saga(saga_id, "A", {"n": 0}, owner="w1", lease_seconds=60)
    assert (state.status, state.lease_owner) == (SagaStatus.RUNNING, "w1")
    with pytest.raises(SagaConcurrencyError):
        await storage.create_saga(saga_id, "A", {}, owner="w1", lease_seconds=60)
    assert await storage.acquire(saga_id, owner="w2", lease_seconds=60) is None
    with pytest.raises(SagaConcurrencyError):
        await storage.transition(saga_id, version=state.version, owner="w2", lease_seconds=60)
    with pytest.raises(SagaConcurrencyError):
        await storage.transition(saga_id, version=state.version - 1, owner="w1", lease_seconds=60)
    assert await storage.find_interrupted(stale_after=0) == []
    await storage.release(saga_id, owner="w1")
    assert await storage.find_interrupted(stale_after=0) == [saga_id]
    taken = await storage.acquire(saga_id, owner="w2", lease_seconds=60)
    assert taken is not None
    assert taken.version > state.version
    assert await storage.renew(saga_id, owner="w2", lease_seconds=60)
    assert not await storage.renew(saga_id, owner="w1", lease_seconds=60)
    assert await storage.load_saga_state(uuid.uuid4()) is None
