"""The in-memory breaker state store passes the contract; breakers over a store share circuits."""

from __future__ import annotations

import asyncio
import importlib

import pytest

import cqrs
import cqrs.breakers.contract
from cqrs.breakers.contract import BreakerStateContract
from cqrs.breakers.memory import MemoryBreakerStateStore
from cqrs.breakers.protocol import BreakerPermit, CircuitBreaker, circuit_name
from cqrs.breakers.stored import StoredCircuitBreaker
from cqrs.exceptions import CircuitOpenError


class TestMemoryBreakerState(BreakerStateContract):
    @pytest.fixture
    async def store(self) -> MemoryBreakerStateStore:
        return MemoryBreakerStateStore()


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


class CountingStore(MemoryBreakerStateStore):
    """Counts the store operations a breaker performs (each would be a round trip remotely)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock=clock)
        self.operations: list[str] = []

    async def claim(
        self, identifier: str, *, reset_timeout: float, trial_timeout: float
    ) -> BreakerPermit:
        self.operations.append("claim")
        return await super().claim(
            identifier, reset_timeout=reset_timeout, trial_timeout=trial_timeout
        )

    async def record_success(self, identifier: str, *, generation: int) -> bool:
        self.operations.append("success")
        return await super().record_success(identifier, generation=generation)

    async def record_failure(self, identifier: str, *, generation: int, threshold: int) -> bool:
        self.operations.append("failure")
        return await super().record_failure(identifier, generation=generation, threshold=threshold)


async def down() -> None:
    raise ConnectionError("down")


async def up() -> str:
    return "up"


async def test_exports_and_protocols() -> None:
    breaker = cqrs.StoredCircuitBreaker(cqrs.MemoryBreakerStateStore())
    assert isinstance(breaker, CircuitBreaker)
    assert isinstance(cqrs.MemoryBreakerStateStore(), cqrs.BreakerStateStore)
    assert isinstance(cqrs.MemoryCircuitBreaker(), StoredCircuitBreaker)
    assert circuit_name(Clock) == f"{__name__}.Clock"


FORMER_PATHS = {
    "cqrs.protocols.circuit_breaker": ("CircuitBreaker", "circuit_name"),
    "cqrs.protocols.breaker_state": ("BreakerPermit", "BreakerStateStore", "CircuitState"),
    "cqrs.memory.circuit_breaker": ("CircuitState", "MemoryCircuitBreaker"),
    "cqrs.memory.breaker_state": ("MemoryBreakerStateStore",),
    "cqrs.stored_circuit_breaker": ("StoredCircuitBreaker",),
    "cqrs.testing.breaker_state": ("BreakerStateContract",),
    "cqrs.protocols": ("BreakerPermit", "BreakerStateStore", "CircuitBreaker", "CircuitState"),
    "cqrs.memory": ("MemoryBreakerStateStore", "MemoryCircuitBreaker"),
    "cqrs.testing": ("BreakerStateContract",),
    "cqrs": (
        "BreakerStateStore",
        "CircuitBreaker",
        "MemoryBreakerStateStore",
        "MemoryCircuitBreaker",
        "StoredCircuitBreaker",
    ),
}


@pytest.mark.parametrize(("module_name", "names"), FORMER_PATHS.items(), ids=FORMER_PATHS.keys())
def test_former_paths_name_the_objects_of_cqrs_breakers(
    module_name: str, names: tuple[str, ...]
) -> None:
    module = importlib.import_module(module_name)
    for name in names:
        home = cqrs.breakers.contract if name == "BreakerStateContract" else cqrs.breakers
        assert getattr(module, name) is getattr(home, name), f"{module_name}.{name}"


def test_rejects_nonsense_parameters() -> None:
    store = MemoryBreakerStateStore()
    with pytest.raises(ValueError, match="failure_threshold"):
        StoredCircuitBreaker(store, failure_threshold=0)
    with pytest.raises(ValueError, match="reset_timeout"):
        StoredCircuitBreaker(store, reset_timeout=-1)
    with pytest.raises(ValueError, match="trial_timeout"):
        StoredCircuitBreaker(store, trial_timeout=0)


async def test_two_breakers_over_one_store_share_the_circuit() -> None:
    store = MemoryBreakerStateStore()
    first = StoredCircuitBreaker(store, failure_threshold=2, reset_timeout=30)
    second = StoredCircuitBreaker(store, failure_threshold=2, reset_timeout=30)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await first.call("payments", down)
    with pytest.raises(CircuitOpenError) as refused:
        await second.call("payments", up)
    assert second.is_circuit_breaker_error(refused.value)
    assert refused.value.retry_after == pytest.approx(30, abs=1)
    assert await second.circuit_state("payments") == "open"
    await second.reset_circuit("payments")
    assert await first.call("payments", up) == "up"


async def test_a_healthy_call_costs_one_store_operation() -> None:
    store = CountingStore(Clock())
    breaker = StoredCircuitBreaker(store, failure_threshold=3)
    assert await breaker.call("svc", up) == "up"
    assert store.operations == ["claim"]
    store.operations.clear()
    with pytest.raises(ConnectionError):
        await breaker.call("svc", down)
    assert await breaker.call("svc", up) == "up"
    assert store.operations == ["claim", "failure", "claim", "success"]


async def test_a_hung_trial_loses_its_slot_after_the_trial_timeout() -> None:
    clock = Clock()
    breaker = StoredCircuitBreaker(
        MemoryBreakerStateStore(clock=clock),
        failure_threshold=1,
        reset_timeout=10,
        trial_timeout=5,
    )
    with pytest.raises(ConnectionError):
        await breaker.call("svc", down)
    clock.now += 10
    hang = asyncio.Event()

    async def hung() -> str:
        await hang.wait()
        return "late"

    first_trial = asyncio.create_task(breaker.call("svc", hung))
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpenError):
        await breaker.call("svc", up)
    clock.now += 5
    assert await breaker.call("svc", up) == "up"
    assert await breaker.circuit_state("svc") == "closed"
    # The hung trial answers at last; its lease had expired, so its outcome is ignored.
    hang.set()
    assert await first_trial == "late"
    with pytest.raises(ConnectionError):
        await breaker.call("svc", down)
    assert await breaker.circuit_state("svc") == "open"


async def test_a_cancelled_trial_gives_the_slot_back() -> None:
    clock = Clock()
    breaker = StoredCircuitBreaker(
        MemoryBreakerStateStore(clock=clock), failure_threshold=1, reset_timeout=10
    )
    with pytest.raises(ConnectionError):
        await breaker.call("svc", down)
    clock.now += 10
    never = asyncio.Event()

    async def hang() -> None:
        await never.wait()

    trial = asyncio.create_task(breaker.call("svc", hang))
    await asyncio.sleep(0)
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    assert await breaker.circuit_state("svc") == "half_open"
    assert await breaker.call("svc", up) == "up"
    assert await breaker.circuit_state("svc") == "closed"
