"""`AioBreakerAdapter` guarding saga steps and plain calls, in memory and sharing state in Redis."""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import aiobreaker  # type: ignore[import-untyped]
import pytest
import redis
from aiobreaker.storage.redis import CircuitRedisStorage  # type: ignore[import-untyped]

import cqrs
from cqrs.adapters.circuit_breaker import AioBreakerAdapter
from cqrs.saga import Saga, SagaContext, SagaStepHandler
from cqrs.saga.bootstrap import bootstrap
from cqrs.saga.fallback import Fallback
from cqrs.testing._support.services import require_service
from cqrs_aiobreaker import AioBreakerAdapter as PackageAdapter

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

    async def compensate(self, context: OrderContext) -> None:
        pass


class FallbackStep(SagaStepHandler[OrderContext, ReserveInventoryResponse]):
    async def act(self, context: OrderContext) -> Any:
        CALLS["fallback"] += 1
        context.reservation_id = f"fallback_reservation_{context.order_id}"
        return self._generate_step_result(
            ReserveInventoryResponse(reservation_id=context.reservation_id)
        )

    async def compensate(self, context: OrderContext) -> None:
        context.reservation_id = None


def saga_with(breaker: AioBreakerAdapter) -> type[Saga[OrderContext]]:
    class OrderSagaWithFallback(Saga[OrderContext]):
        steps = (Fallback(step=PrimaryStep, fallback=FallbackStep, circuit_breaker=breaker),)

    return OrderSagaWithFallback


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    CALLS.update(primary=0, fallback=0)


async def run(saga: type[Saga[OrderContext]], orders: int) -> list[str]:
    """Run `orders` sagas through a fresh `SagaMediator`; return their reservation ids."""
    mediator = bootstrap(sagas_mapper=lambda m: m.bind(OrderContext, saga))
    reservations = []
    for n in range(orders):
        for result in await mediator.execute(OrderContext(order_id=f"o{n}")):
            reservations.append(result.response.reservation_id)
    return reservations


async def down() -> None:
    raise ConnectionError("down")


async def echo(value: int, *, plus: int = 0) -> int:
    return value + plus


def test_the_seed_path_and_the_package_give_one_class() -> None:
    assert AioBreakerAdapter is PackageAdapter
    assert isinstance(AioBreakerAdapter(), cqrs.CircuitBreaker)


def test_rejects_nonsense_parameters() -> None:
    with pytest.raises(ValueError, match="fail_max"):
        AioBreakerAdapter(fail_max=0)
    with pytest.raises(ValueError, match="timeout_duration"):
        AioBreakerAdapter(timeout_duration=-1)


async def test_after_fail_max_failures_the_primary_is_no_longer_called() -> None:
    breaker = AioBreakerAdapter(fail_max=2, timeout_duration=60)
    reservations = await run(saga_with(breaker), 5)
    assert CALLS == {"primary": 2, "fallback": 5}
    assert reservations == [f"fallback_reservation_o{n}" for n in range(5)]
    state = breaker.breaker(PrimaryStep).current_state
    assert state is aiobreaker.CircuitBreakerState.OPEN


async def test_calls_pass_arguments_and_results() -> None:
    breaker = AioBreakerAdapter()
    assert await breaker.call("svc", echo, 40, plus=2) == 42


async def test_the_failure_that_opens_the_circuit_is_a_breaker_error_caused_by_it() -> None:
    breaker = AioBreakerAdapter(fail_max=2, timeout_duration=60)
    with pytest.raises(ConnectionError):
        await breaker.call("svc", down)
    with pytest.raises(aiobreaker.CircuitBreakerError) as opened:
        await breaker.call("svc", down)
    assert isinstance(opened.value.__cause__, ConnectionError)
    assert breaker.is_circuit_breaker_error(opened.value)
    with pytest.raises(aiobreaker.CircuitBreakerError) as refused:
        await breaker.call("svc", echo, 1)
    assert refused.value.__cause__ is None


async def test_with_raise_opening_failure_that_failure_is_raised_as_itself() -> None:
    breaker = AioBreakerAdapter(fail_max=2, timeout_duration=60, raise_opening_failure=True)
    for _ in range(2):
        with pytest.raises(ConnectionError) as failed:
            await breaker.call("svc", down)
        assert not breaker.is_circuit_breaker_error(failed.value)
    with pytest.raises(aiobreaker.CircuitBreakerError) as refused:
        await breaker.call("svc", echo, 1)
    assert breaker.is_circuit_breaker_error(refused.value)


async def test_circuits_are_per_identifier_and_types_share_their_name() -> None:
    breaker = AioBreakerAdapter(fail_max=1, timeout_duration=60, raise_opening_failure=True)
    with pytest.raises(RuntimeError):
        await breaker.call(PrimaryStep, PrimaryStep().act, OrderContext(order_id="x"))
    with pytest.raises(aiobreaker.CircuitBreakerError):
        await breaker.call(f"{__name__}.PrimaryStep", echo, 1)
    assert await breaker.call("inventory", echo, 7) == 7
    assert breaker.breaker(PrimaryStep).name == f"{__name__}.PrimaryStep"


async def test_excluded_exceptions_and_predicates_do_not_count() -> None:
    breaker = AioBreakerAdapter(
        fail_max=1,
        exclude=[LookupError, lambda exc: isinstance(exc, ValueError) and "business" in str(exc)],
    )

    async def missing() -> None:
        raise KeyError("missing")

    async def rejected() -> None:
        raise ValueError("business rule")

    for failing, error in ((missing, KeyError), (rejected, ValueError)):
        for _ in range(3):
            with pytest.raises(error):
                await breaker.call("svc", failing)
    assert await breaker.call("svc", echo, 3) == 3


async def test_after_the_timeout_a_good_trial_closes_the_circuit() -> None:
    breaker = AioBreakerAdapter(fail_max=1, timeout_duration=datetime.timedelta(0))
    with pytest.raises(aiobreaker.CircuitBreakerError):
        await breaker.call("svc", down)
    assert breaker.breaker("svc").current_state is aiobreaker.CircuitBreakerState.OPEN
    assert await breaker.call("svc", echo, 5) == 5
    assert breaker.breaker("svc").current_state is aiobreaker.CircuitBreakerState.CLOSED


async def test_state_changes_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cqrs.circuit_breaker")
    breaker = AioBreakerAdapter(fail_max=1, timeout_duration=datetime.timedelta(0))
    with pytest.raises(aiobreaker.CircuitBreakerError):
        await breaker.call("svc", down)
    await breaker.call("svc", echo, 1)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "circuit 'svc' is open"),
        (logging.INFO, "circuit 'svc' is half-open"),
        (logging.INFO, "circuit 'svc' is closed"),
    ]


@pytest.fixture
def namespace() -> Iterator[str]:
    """A key namespace of its own in Redis, deleted after the test."""
    value = f"cqrs-test-{uuid.uuid4().hex[:10]}"
    client = redis.from_url(require_service("redis").url)
    yield value
    for key in client.scan_iter(f"{value}*"):
        client.delete(key)
    client.close()


def redis_adapter(namespace: str) -> tuple[AioBreakerAdapter, redis.Redis]:
    """An adapter with its own sync client (one "process"), storing circuits the seeds' way."""
    client = redis.from_url(require_service("redis").url, decode_responses=False)

    def redis_storage_factory(name: str) -> Any:
        return CircuitRedisStorage(
            state=aiobreaker.CircuitBreakerState.CLOSED,
            redis_object=client,
            namespace=f"{namespace}:{name}",
        )

    adapter = AioBreakerAdapter(
        fail_max=2, timeout_duration=60, storage_factory=redis_storage_factory
    )
    return adapter, client


async def test_a_redis_storage_factory_shares_an_open_circuit(namespace: str) -> None:
    first, first_client = redis_adapter(namespace)
    second, second_client = redis_adapter(namespace)
    try:
        await run(saga_with(first), 3)
        assert CALLS == {"primary": 2, "fallback": 3}
        await run(saga_with(second), 3)
        assert CALLS == {"primary": 2, "fallback": 6}, "the second adapter saw the open circuit"
        with pytest.raises(aiobreaker.CircuitBreakerError):
            await second.call(PrimaryStep, echo, 1)
        assert first_client.get(f"{namespace}:{__name__}.PrimaryStep:aiobreaker:state") == b"OPEN"
    finally:
        first_client.close()
        second_client.close()
