"""`RedisSagaStorage` passes the saga storage contract, runs a saga end to end, and makes one
round trip per transition."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis

import cqrs
from cqrs.saga import Saga, SagaContext, SagaStatus, SagaStepHandler
from cqrs.saga.bootstrap import bootstrap
from cqrs.testing.saga_storage import SagaStorageContract
from cqrs_redis import RedisSagaStorage


class TestRedisSagaStorage(SagaStorageContract):
    @pytest.fixture
    async def storage(self, redis_client: aioredis.Redis, prefix: str) -> RedisSagaStorage:
        return RedisSagaStorage(redis_client, prefix=prefix)


UNDONE: list[str] = []


class Shipment(SagaContext):
    order_id: str


class Reserve(SagaStepHandler[Shipment, None]):
    async def act(self, context: Shipment) -> Any:
        return self._generate_step_result(None)

    async def compensate(self, context: Shipment) -> None:
        UNDONE.append("reserve")


class Charge(Reserve):
    async def compensate(self, context: Shipment) -> None:
        UNDONE.append("charge")


class Ship(SagaStepHandler[Shipment, None]):
    async def act(self, context: Shipment) -> Any:
        raise RuntimeError("no courier")


class ShipmentSaga(Saga[Shipment]):
    steps = (Reserve, Charge, Ship)


class CountingRedis(aioredis.Redis):
    """Counts the commands sent (a script call or a pipeline flush is one round trip)."""

    round_trips = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        CountingRedis.round_trips += 1
        return await super().execute_command(*args, **options)


async def test_a_failing_saga_is_compensated_with_one_round_trip_per_transition(
    prefix: str,
) -> None:
    from cqrs.testing.services import require_service

    client = CountingRedis.from_url(require_service("redis").url)
    storage = RedisSagaStorage(client, prefix=prefix)
    mediator = bootstrap(
        sagas_mapper=lambda m: m.bind(Shipment, ShipmentSaga), saga_storage=storage
    )
    await client.ping()
    saga_id = uuid.uuid4()
    UNDONE.clear()
    CountingRedis.round_trips = 0
    with pytest.raises(RuntimeError, match="no courier"):
        await mediator.execute(Shipment(order_id="o-1"), saga_id)
    transitions = 1 + 2 + 1 + 2  # create, two acts, the failure, two compensations
    assert CountingRedis.round_trips <= transitions + 5, (
        "at most one per transition (+ script loads)"
    )
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert state.status is SagaStatus.COMPENSATED
    assert UNDONE == ["charge", "reserve"]
    assert [(e.step_name, e.action, e.status.value) for e in state.history] == [
        ("Reserve", "act", "completed"),
        ("Charge", "act", "completed"),
        ("Ship", "act", "failed"),
        ("Charge", "compensate", "compensated"),
        ("Reserve", "compensate", "compensated"),
    ]
    await client.aclose()


async def test_transitions_after_warm_up_cost_one_round_trip_each(prefix: str) -> None:
    from cqrs.testing.services import require_service

    client = CountingRedis.from_url(require_service("redis").url)
    storage = RedisSagaStorage(client, prefix=prefix)
    warm = await storage.create_saga(uuid.uuid4(), "warm", {}, owner="w", lease_seconds=5)
    await storage.transition(warm.saga_id, version=1, owner="w", lease_seconds=5)
    saga_id = uuid.uuid4()
    CountingRedis.round_trips = 0
    state = await storage.create_saga(saga_id, "s", {"n": 1}, owner="w", lease_seconds=5)
    version = await storage.transition(
        saga_id, version=state.version, owner="w", lease_seconds=5, context={"n": 2}
    )
    await storage.transition(
        saga_id, version=version, owner="w", lease_seconds=5, status=SagaStatus.COMPLETED
    )
    assert CountingRedis.round_trips == 3, "one round trip for the create and for each transition"
    await client.aclose()


def test_the_plugin_module_does_not_import_redis() -> None:
    code = "import sys, cqrs_redis._plugin, cqrs_redis; print('redis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_plugin_builds_a_storage_for_redis_urls() -> None:
    from cqrs_redis import _plugin

    assert _plugin.cqrs_make_saga_storage(url="postgresql+asyncpg://x/y") is None
    assert isinstance(
        _plugin.cqrs_make_saga_storage(url="redis://127.0.0.1:6379/0"), RedisSagaStorage
    )
    assert isinstance(cqrs.saga.storage.SagaStorage, type)
