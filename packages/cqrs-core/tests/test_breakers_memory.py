"""The in-memory circuit breaker: opening, half-open trials, exclusions and independent circuits."""

from __future__ import annotations

import asyncio
import logging

import pytest

import cqrs
from cqrs.breakers import CircuitBreaker, MemoryCircuitBreaker
from cqrs.exceptions import CircuitOpenError


class FakeClock:
    """A clock the test moves by hand, so timeouts pass without sleeping."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Dependency:
    """A coroutine function that raises `error` (if set) and counts its calls."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.calls = 0

    async def __call__(self, value: int = 0, *, extra: int = 0) -> int:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return value + extra


class PaymentGateway:
    pass


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> MemoryCircuitBreaker:
    return MemoryCircuitBreaker(failure_threshold=3, reset_timeout=30.0, clock=clock)


async def fail(breaker: MemoryCircuitBreaker, identifier: type | str, times: int) -> None:
    """Record `times` failures (ConnectionError) on `identifier`'s circuit."""
    dependency = Dependency(ConnectionError("down"))
    for _ in range(times):
        with pytest.raises(ConnectionError):
            await breaker.call(identifier, dependency)


def test_satisfies_the_protocol() -> None:
    assert isinstance(MemoryCircuitBreaker(), CircuitBreaker)
    assert cqrs.MemoryCircuitBreaker is MemoryCircuitBreaker


def test_rejects_nonsense_parameters() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        MemoryCircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError, match="reset_timeout"):
        MemoryCircuitBreaker(reset_timeout=-1.0)


async def test_closed_circuit_passes_arguments_and_returns_the_result(
    breaker: MemoryCircuitBreaker,
) -> None:
    dependency = Dependency()
    assert await breaker.call("svc", dependency, 40, extra=2) == 42
    assert dependency.calls == 1
    assert breaker.state("svc") == "closed"


async def test_unused_circuit_is_closed(breaker: MemoryCircuitBreaker) -> None:
    assert breaker.state("never-called") == "closed"
    assert breaker.state(PaymentGateway) == "closed"


async def test_opens_after_threshold_consecutive_failures(breaker: MemoryCircuitBreaker) -> None:
    await fail(breaker, "svc", 2)
    assert breaker.state("svc") == "closed"
    await fail(breaker, "svc", 1)
    assert breaker.state("svc") == "open"

    dependency = Dependency()
    with pytest.raises(CircuitOpenError) as info:
        await breaker.call("svc", dependency)
    assert dependency.calls == 0
    assert info.value.name == "svc"
    assert info.value.retry_after == pytest.approx(30.0)


async def test_retry_after_counts_down(breaker: MemoryCircuitBreaker, clock: FakeClock) -> None:
    await fail(breaker, "svc", 3)
    clock.advance(12.5)
    with pytest.raises(CircuitOpenError) as info:
        await breaker.call("svc", Dependency())
    assert info.value.retry_after == pytest.approx(17.5)


async def test_success_resets_the_failure_count(breaker: MemoryCircuitBreaker) -> None:
    await fail(breaker, "svc", 2)
    await breaker.call("svc", Dependency())
    await fail(breaker, "svc", 2)
    assert breaker.state("svc") == "closed"
    await fail(breaker, "svc", 1)
    assert breaker.state("svc") == "open"


async def test_excluded_exceptions_do_not_count(clock: FakeClock) -> None:
    breaker = MemoryCircuitBreaker(
        failure_threshold=2, excluded_exceptions=(LookupError,), clock=clock
    )
    not_found = Dependency(KeyError("missing"))
    for _ in range(5):
        with pytest.raises(KeyError):
            await breaker.call("svc", not_found)
    assert not_found.calls == 5
    assert breaker.state("svc") == "closed"


async def test_excluded_exception_breaks_a_run_of_failures(clock: FakeClock) -> None:
    breaker = MemoryCircuitBreaker(
        failure_threshold=2, excluded_exceptions=(LookupError,), clock=clock
    )
    await fail(breaker, "svc", 1)
    with pytest.raises(KeyError):
        await breaker.call("svc", Dependency(KeyError("missing")))
    await fail(breaker, "svc", 1)
    assert breaker.state("svc") == "closed"


async def test_only_failure_exceptions_count(clock: FakeClock) -> None:
    breaker = MemoryCircuitBreaker(
        failure_threshold=1, failure_exceptions=(ConnectionError, TimeoutError), clock=clock
    )
    with pytest.raises(ValueError):
        await breaker.call("svc", Dependency(ValueError("bad input")))
    assert breaker.state("svc") == "closed"
    with pytest.raises(TimeoutError):
        await breaker.call("svc", Dependency(TimeoutError()))
    assert breaker.state("svc") == "open"


async def test_excluded_wins_over_failure_exceptions(clock: FakeClock) -> None:
    breaker = MemoryCircuitBreaker(
        failure_threshold=1,
        failure_exceptions=(OSError,),
        excluded_exceptions=(FileNotFoundError,),
        clock=clock,
    )
    with pytest.raises(FileNotFoundError):
        await breaker.call("svc", Dependency(FileNotFoundError()))
    assert breaker.state("svc") == "closed"
    with pytest.raises(ConnectionError):
        await breaker.call("svc", Dependency(ConnectionError()))
    assert breaker.state("svc") == "open"


async def test_half_open_after_reset_timeout(
    breaker: MemoryCircuitBreaker, clock: FakeClock
) -> None:
    await fail(breaker, "svc", 3)
    clock.advance(29.9)
    assert breaker.state("svc") == "open"
    clock.advance(0.1)
    assert breaker.state("svc") == "half_open"


async def test_successful_trial_closes_the_circuit(
    breaker: MemoryCircuitBreaker, clock: FakeClock
) -> None:
    await fail(breaker, "svc", 3)
    clock.advance(30.0)
    dependency = Dependency()
    assert await breaker.call("svc", dependency, 7) == 7
    assert breaker.state("svc") == "closed"
    # The failure count starts over: it takes the full threshold to open again.
    await fail(breaker, "svc", 2)
    assert breaker.state("svc") == "closed"


async def test_failed_trial_reopens_with_a_fresh_timeout(
    breaker: MemoryCircuitBreaker, clock: FakeClock
) -> None:
    await fail(breaker, "svc", 3)
    clock.advance(45.0)
    await fail(breaker, "svc", 1)  # one failed trial is enough, whatever the threshold
    assert breaker.state("svc") == "open"
    with pytest.raises(CircuitOpenError) as info:
        await breaker.call("svc", Dependency())
    assert info.value.retry_after == pytest.approx(30.0)
    clock.advance(29.0)
    assert breaker.state("svc") == "open"
    clock.advance(1.0)
    assert breaker.state("svc") == "half_open"


async def test_half_open_lets_exactly_one_trial_through(
    breaker: MemoryCircuitBreaker, clock: FakeClock
) -> None:
    await fail(breaker, "svc", 3)
    clock.advance(30.0)
    release = asyncio.Event()
    started = 0

    async def slow_trial() -> str:
        nonlocal started
        started += 1
        await release.wait()
        return "ok"

    trial = asyncio.create_task(breaker.call("svc", slow_trial))
    await asyncio.sleep(0)  # let the trial start and take the half-open slot
    assert started == 1
    others = await asyncio.gather(
        *(breaker.call("svc", slow_trial) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(result, CircuitOpenError) for result in others)
    assert started == 1
    assert breaker.state("svc") == "half_open"

    release.set()
    assert await trial == "ok"
    assert breaker.state("svc") == "closed"
    assert await breaker.call("svc", slow_trial) == "ok"
    assert started == 2


async def test_cancelled_trial_frees_the_slot_without_closing(
    breaker: MemoryCircuitBreaker, clock: FakeClock
) -> None:
    await fail(breaker, "svc", 3)
    clock.advance(30.0)
    never = asyncio.Event()

    async def hang() -> None:
        await never.wait()

    trial = asyncio.create_task(breaker.call("svc", hang))
    await asyncio.sleep(0)
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    assert breaker.state("svc") == "half_open"
    dependency = Dependency()
    assert await breaker.call("svc", dependency, 1) == 1
    assert dependency.calls == 1
    assert breaker.state("svc") == "closed"


async def test_late_outcomes_from_before_opening_are_ignored(
    breaker: MemoryCircuitBreaker, clock: FakeClock
) -> None:
    release = asyncio.Event()

    async def slow_success() -> str:
        await release.wait()
        return "late"

    in_flight = asyncio.create_task(breaker.call("svc", slow_success))
    await asyncio.sleep(0)
    await fail(breaker, "svc", 3)
    assert breaker.state("svc") == "open"
    release.set()
    assert await in_flight == "late"
    # A call started while the circuit was closed does not close it once it has opened.
    assert breaker.state("svc") == "open"


async def test_circuits_are_independent(breaker: MemoryCircuitBreaker) -> None:
    await fail(breaker, PaymentGateway, 3)
    assert breaker.state(PaymentGateway) == "open"
    assert breaker.state("other") == "closed"
    assert await breaker.call("other", Dependency(), 5) == 5
    with pytest.raises(CircuitOpenError) as info:
        await breaker.call(PaymentGateway, Dependency())
    assert info.value.name == f"{__name__}.PaymentGateway"


async def test_type_and_its_qualified_name_share_a_circuit(
    breaker: MemoryCircuitBreaker,
) -> None:
    await fail(breaker, PaymentGateway, 3)
    assert breaker.state(f"{__name__}.PaymentGateway") == "open"


async def test_same_named_classes_get_their_own_circuits(breaker: MemoryCircuitBreaker) -> None:
    def make() -> type:
        class PaymentGateway:
            pass

        return PaymentGateway

    local = make()
    await fail(breaker, local, 3)
    assert breaker.state(local) == "open"
    assert breaker.state(PaymentGateway) == "closed"


async def test_reset_one_circuit(breaker: MemoryCircuitBreaker) -> None:
    await fail(breaker, "a", 3)
    await fail(breaker, "b", 3)
    breaker.reset("a")
    assert breaker.state("a") == "closed"
    assert breaker.state("b") == "open"
    assert await breaker.call("a", Dependency(), 3) == 3


async def test_reset_every_circuit(breaker: MemoryCircuitBreaker) -> None:
    await fail(breaker, "a", 3)
    await fail(breaker, PaymentGateway, 3)
    breaker.reset()
    assert breaker.state("a") == "closed"
    assert breaker.state(PaymentGateway) == "closed"
    await fail(breaker, "a", 2)
    assert breaker.state("a") == "closed"


async def test_is_circuit_breaker_error(breaker: MemoryCircuitBreaker) -> None:
    await fail(breaker, "svc", 3)
    with pytest.raises(CircuitOpenError) as info:
        await breaker.call("svc", Dependency())
    assert breaker.is_circuit_breaker_error(info.value)
    assert not breaker.is_circuit_breaker_error(ConnectionError("down"))
    assert not breaker.is_circuit_breaker_error(asyncio.CancelledError())


async def test_logs_transitions(
    breaker: MemoryCircuitBreaker, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cqrs.circuit_breaker")
    await fail(breaker, "svc", 3)
    opened = [r for r in caplog.records if "opened" in r.getMessage()]
    assert [r.levelno for r in opened] == [logging.WARNING]
    assert opened[0].name == "cqrs.circuit_breaker"
    assert "'svc'" in opened[0].getMessage()

    caplog.clear()
    clock.advance(30.0)
    await breaker.call("svc", Dependency())
    closed = [r for r in caplog.records if "closed" in r.getMessage()]
    assert [r.levelno for r in closed] == [logging.INFO]
    assert any("half-open" in r.getMessage() for r in caplog.records)
