"""`AioBreakerAdapter` guarding saga steps, in memory and with state shared through Redis."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import pytest

import cqrs
from cqrs.adapters.circuit_breaker import AioBreakerAdapter
from cqrs.saga import Saga, SagaContext, SagaStepHandler
from cqrs.saga.bootstrap import bootstrap
from cqrs.saga.fallback import Fallback
from cqrs.testing.services import require_service

CALLS = {"primary": 0, "fallback": 0}


class OrderContext(SagaContext):
    order_id: str
    reservation_id: str | None = None


class ReserveInventoryResponse(cqrs.Response):
    reservation_id: str


class PrimaryStep(SagaStepHandler[OrderContext, ReserveInventoryResponse]):
    async def act(self, context: OrderContext) -> Any:
        CALLS["primary"] += 1
        raise RuntimeError("Service unavailable")


class FallbackStep(SagaStepHandler[OrderContext, ReserveInventoryResponse]):
    async def act(self, context: OrderContext) -> Any:
        CALLS["fallback"] += 1
        context.reservation_id = f"fallback_reservation_{context.order_id}"
        return self._generate_step_result(
            ReserveInventoryResponse(reservation_id=context.reservation_id)
        )


def saga_with(breaker: AioBreakerAdapter) -> type[Saga[OrderContext]]:
    class OrderSagaWithFallback(Saga[OrderContext]):
        steps = (Fallback(step=PrimaryStep, fallback=FallbackStep, circuit_breaker=breaker),)

    return OrderSagaWithFallback


@pytest.fixture(autouse=True)
def _reset() -> None:
    CALLS.update(primary=0, fallback=0)


async def run(saga: type[Saga[OrderContext]], times: int) -> list[Any]:
    mediator = bootstrap(sagas_mapper=lambda m: m.bind(OrderContext, saga))
    results = []
    for n in range(times):
        results += await mediator.execute(OrderContext(order_id=str(n)))
    return results


async def test_the_circuit_opens_after_fail_max_and_the_fallback_answers() -> None:
    breaker = AioBreakerAdapter(fail_max=2, timeout_duration=60)
    results = await run(saga_with(breaker), 5)
    assert CALLS == {"primary": 2, "fallback": 5}
    assert [r.response.reservation_id for r in results][-1] == "fallback_reservation_4"
    from aiobreaker import CircuitBreakerState  # type: ignore[import-untyped]

    assert breaker.breaker(PrimaryStep).current_state is CircuitBreakerState.OPEN
    assert breaker.is_circuit_breaker_error(RuntimeError("x")) is False


async def test_circuits_are_per_identifier() -> None:
    breaker = AioBreakerAdapter(fail_max=1, timeout_duration=60)

    async def boom() -> None:
        raise ValueError("no")

    async def fine() -> str:
        return "ok"

    with pytest.raises(Exception) as first:
        await breaker.call("payments", boom)
    assert breaker.is_circuit_breaker_error(first.value) or isinstance(first.value, ValueError)
    with pytest.raises(Exception) as refused:
        await breaker.call("payments", fine)
    assert breaker.is_circuit_breaker_error(refused.value)
    assert await breaker.call("inventory", fine) == "ok"


async def test_redis_storage_factory_shares_an_open_circuit_between_adapters() -> None:
    service = require_service("redis")
    import redis
    from aiobreaker import CircuitBreakerState  # type: ignore[import-untyped]
    from aiobreaker.storage.redis import CircuitRedisStorage  # type: ignore[import-untyped]

    namespace = f"cqrs-test-{uuid.uuid4().hex[:8]}"
    client = redis.from_url(service.url, decode_responses=False)

    def redis_storage_factory(name: str) -> Any:
        return CircuitRedisStorage(
            state=CircuitBreakerState.CLOSED, redis_object=client, namespace=f"{namespace}:{name}"
        )

    try:
        first = AioBreakerAdapter(
            fail_max=2, timeout_duration=60, storage_factory=redis_storage_factory
        )
        second = AioBreakerAdapter(
            fail_max=2, timeout_duration=60, storage_factory=redis_storage_factory
        )
        await run(saga_with(first), 3)
        assert CALLS["primary"] == 2
        await run(saga_with(second), 3)
        assert CALLS["primary"] == 2, "the second adapter sees the circuit the first opened"
        assert CALLS["fallback"] == 6
    finally:
        for key in client.scan_iter(f"*{namespace}*"):
            client.delete(key)
        client.close()


def test_the_plugin_module_does_not_import_aiobreaker() -> None:
    code = (
        "import sys, cqrs_aiobreaker._plugin, cqrs_aiobreaker; print('aiobreaker' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
