"""`RedisSagaStorage`: the saga storage contract, a saga end to end with compensation, one round
trip per transition, crash recovery, and the key layout."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

import cqrs
from cqrs.saga import Saga, SagaContext, SagaStatus, SagaStepHandler
from cqrs.saga.bootstrap import bootstrap
from cqrs.saga.models import SagaLogEntry, SagaStepStatus
from cqrs.saga.storage.contract import SagaStorageContract
from cqrs.saga.storage.protocol import SagaStorage
from cqrs.testing._support.saga_crash import (
    CrashPoint,
    CrashWhen,
    check_invariants,
    crash_points,
    run_with_crash,
)
from cqrs.testing._support.services import require_service
from cqrs_redis import RedisSagaStorage


class TestRedisSagaStorage(SagaStorageContract):
    @pytest.fixture
    async def storage(self, redis_client: aioredis.Redis, prefix: str) -> RedisSagaStorage:
        return RedisSagaStorage(redis_client, prefix=prefix)


class TestRedisSagaStorageDecodingClient(SagaStorageContract):
    """The same contract through a client that decodes responses to `str`."""

    @pytest.fixture
    async def storage(self, prefix: str) -> AsyncIterator[RedisSagaStorage]:
        client = aioredis.Redis.from_url(require_service("redis").url, decode_responses=True)
        yield RedisSagaStorage(client, prefix=prefix)
        await client.aclose()


class CountingRedis(aioredis.Redis):
    """Counts commands sent on their own; each is one round trip (a script call is one EVALSHA)."""

    round_trips = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.round_trips += 1
        return await super().execute_command(*args, **options)


@pytest.fixture
async def counting_client() -> AsyncIterator[CountingRedis]:
    client = CountingRedis.from_url(require_service("redis").url)
    yield client
    await client.aclose()


class CountingStorage(RedisSagaStorage):
    """Records the round trips each write of the saga engine costs."""

    def __init__(self, client: CountingRedis, *, prefix: str) -> None:
        super().__init__(client, prefix=prefix)
        self.counting = client
        self.writes: list[tuple[str, int]] = []

    async def create_saga(self, *args: Any, **kwargs: Any) -> Any:
        before = self.counting.round_trips
        state = await super().create_saga(*args, **kwargs)
        self.writes.append(("create", self.counting.round_trips - before))
        return state

    async def transition(self, *args: Any, **kwargs: Any) -> int:
        before = self.counting.round_trips
        version = await super().transition(*args, **kwargs)
        self.writes.append((str(kwargs.get("status") or "-"), self.counting.round_trips - before))
        return version


UNDONE: list[str] = []


class Shipment(SagaContext):
    order_id: str
    reserved: bool = False


class Reserve(SagaStepHandler[Shipment, None]):
    async def act(self, context: Shipment) -> Any:
        context.reserved = True
        return self._generate_step_result(None)

    async def compensate(self, context: Shipment) -> None:
        UNDONE.append("reserve")


class Charge(SagaStepHandler[Shipment, None]):
    async def act(self, context: Shipment) -> Any:
        return self._generate_step_result(None)

    async def compensate(self, context: Shipment) -> None:
        UNDONE.append("charge")


class Ship(SagaStepHandler[Shipment, None]):
    async def act(self, context: Shipment) -> Any:
        raise RuntimeError("no courier")

    async def compensate(self, context: Shipment) -> None:
        UNDONE.append("ship")


class ShipmentSaga(Saga[Shipment]):
    steps = (Reserve, Charge, Ship)


async def test_a_failing_saga_is_compensated_with_one_round_trip_per_transition(
    counting_client: CountingRedis, prefix: str
) -> None:
    storage = CountingStorage(counting_client, prefix=prefix)
    await storage.load_scripts()
    mediator = bootstrap(
        sagas_mapper=lambda m: m.bind(Shipment, ShipmentSaga), saga_storage=storage
    )
    saga_id = uuid.uuid4()
    UNDONE.clear()
    counting_client.round_trips = 0
    with pytest.raises(RuntimeError, match="no courier"):
        await mediator.execute(Shipment(order_id="o-1"), saga_id)

    assert UNDONE == ["charge", "reserve"]
    # create, two acts, the failed act (-> compensating), two compensations (-> compensated)
    assert storage.writes == [
        ("create", 1),
        ("-", 1),
        ("-", 1),
        ("compensating", 1),
        ("-", 1),
        ("compensated", 1),
    ]
    assert counting_client.round_trips == len(storage.writes), "nothing but the transitions"
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert state.status is SagaStatus.COMPENSATED
    assert state.context["reserved"] is True
    assert state.lease_owner is None
    assert [(e.step_name, e.action, e.status.value) for e in state.history] == [
        ("Reserve", "act", "completed"),
        ("Charge", "act", "completed"),
        ("Ship", "act", "failed"),
        ("Charge", "compensate", "compensated"),
        ("Reserve", "compensate", "compensated"),
    ]
    assert "no courier" in (state.history[2].details or "")
    assert await storage.find_interrupted(stale_after=0) == []


def _crash_cases() -> list[Any]:
    return [
        pytest.param(point, when, id=f"{when}-{point}")
        for point in crash_points(4, 2, None)
        for when in ("before", "after")
    ]


@pytest.mark.parametrize(("point", "when"), _crash_cases())
async def test_recovery_after_a_crash_at_every_write(
    redis_client: aioredis.Redis, prefix: str, point: CrashPoint, when: CrashWhen
) -> None:
    """The third of four steps fails; the run dies at one write; recovery (real time, leases of
    0.2 s) compensates without redoing logged work."""
    outcome = await run_with_crash(
        lambda: RedisSagaStorage(redis_client, prefix=prefix), point.index, when, 2
    )
    assert outcome.crashed
    assert outcome.run_error is None
    check_invariants(outcome)


async def test_a_transition_on_a_finished_saga_keeps_it_finished(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    storage = RedisSagaStorage(redis_client, prefix=prefix)
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, "S", {}, owner="w", lease_seconds=0.01)
    version = await storage.transition(
        saga_id, version=1, owner="w", lease_seconds=5, status=SagaStatus.COMPLETED
    )
    await storage.transition(saga_id, version=version, owner="w", lease_seconds=0.01)
    state = await storage.load_saga_state(saga_id)
    assert state is not None
    assert (state.status, state.lease_owner) == (SagaStatus.COMPLETED, None)
    assert await redis_client.zscore(f"{prefix}:active", str(saga_id)) is None
    assert await storage.find_interrupted(stale_after=0) == []


async def test_key_layout(redis_client: aioredis.Redis, prefix: str) -> None:
    storage = RedisSagaStorage(redis_client, prefix=prefix)
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, "OrderSaga", {"n": 1}, owner="w", lease_seconds=5)
    entry = SagaLogEntry(
        saga_id=saga_id,
        step_index=0,
        step_name="Reserve",
        action="act",
        status=SagaStepStatus.COMPLETED,
        timestamp=datetime.datetime.now(datetime.UTC),
    )
    await storage.transition(saga_id, version=1, owner="w", lease_seconds=5, entry=entry)
    saga = await redis_client.hgetall(f"{prefix}:{saga_id}")
    assert saga[b"status"] == b"running"
    assert saga[b"version"] == b"2"
    assert saga[b"lease_owner"] == b"w"
    assert await redis_client.llen(f"{prefix}:{saga_id}:log") == 1
    assert await redis_client.zscore(f"{prefix}:active", str(saga_id)) is not None
    assert RedisSagaStorage(redis_client)._keys(saga_id)[0] == f"cqrs:saga:{saga_id}"


async def test_outbox_events_are_refused(redis_client: aioredis.Redis, prefix: str) -> None:
    storage = RedisSagaStorage(redis_client, prefix=prefix)
    assert storage.writes_outbox is False
    assert isinstance(storage, SagaStorage)
    with pytest.raises(TypeError, match="outbox"):
        await storage.transition(
            uuid.uuid4(), version=1, owner="w", lease_seconds=1, outbox_events=[_event()]
        )


async def test_from_url_owns_and_closes_its_client(prefix: str) -> None:
    storage = RedisSagaStorage.from_url(require_service("redis").url, prefix=prefix)
    saga_id = uuid.uuid4()
    await storage.create_saga(saga_id, "S", {}, owner="w", lease_seconds=5)
    assert (await storage.load_saga_state(saga_id)) is not None
    await storage.close()


def _event() -> Any:
    return cqrs.NotificationEvent[dict[str, int]](event_name="e", topic="t", payload={"n": 1})
