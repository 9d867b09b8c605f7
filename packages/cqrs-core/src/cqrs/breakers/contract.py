"""The contract every circuit-breaker state store passes, as a test class to subclass.

A subclass named `Test...` provides an async `store` fixture yielding a store (circuit names
are unique per test, so a shared store works)::

    class TestMyBreakerState(BreakerStateContract):
        @pytest.fixture
        async def store(self) -> AsyncIterator[MyBreakerStateStore]:
            yield MyBreakerStateStore(...)

The tests never sleep: a `reset_timeout` of 0 makes an open circuit half-open at once, and a
`trial_timeout` of 0 lets a trial lease expire at once.
"""

from __future__ import annotations

import abc
import asyncio
import uuid
from typing import Any

import pytest

from cqrs.breakers.protocol import BreakerPermit, BreakerStateStore

__all__ = ["BreakerStateContract"]

_LONG = 3600.0
"""A timeout no test outlives: an open circuit stays open, a trial lease stays held."""


class BreakerStateContract(abc.ABC):
    """Opening, half-open trials, closing and stale outcomes, atomically under concurrency."""

    concurrency: int = 30
    """How many concurrent callers the race tests start."""

    @pytest.fixture
    @abc.abstractmethod
    async def store(self) -> Any:
        """A breaker state store."""

    def circuit(self) -> str:
        """A circuit name no other test uses."""
        return f"dependency-{uuid.uuid4().hex[:12]}"

    async def claim(
        self, store: Any, name: str, *, reset_timeout: float = _LONG, trial_timeout: float = _LONG
    ) -> BreakerPermit:
        permit: BreakerPermit = await store.claim(
            name, reset_timeout=reset_timeout, trial_timeout=trial_timeout
        )
        return permit

    async def open_circuit(self, store: Any, name: str) -> None:
        """Open `name`'s circuit with one failure at threshold 1."""
        permit = await self.claim(store, name)
        assert await store.record_failure(name, generation=permit.generation, threshold=1)

    async def test_implements_the_protocol(self, store: Any) -> None:
        assert isinstance(store, BreakerStateStore)

    async def test_a_new_circuit_is_closed_and_allows_calls(self, store: Any) -> None:
        name = self.circuit()
        permit = await self.claim(store, name)
        assert (permit.allowed, permit.trial, permit.failures) == (True, False, 0)
        assert await store.read(name, reset_timeout=_LONG) == "closed"

    async def test_failures_open_the_circuit_at_the_threshold(self, store: Any) -> None:
        name = self.circuit()
        for expected in (0, 1, 2):
            permit = await self.claim(store, name)
            assert permit.allowed
            assert permit.failures == expected
            opened = await store.record_failure(name, generation=permit.generation, threshold=3)
            assert opened is (expected == 2)
        assert await store.read(name, reset_timeout=_LONG) == "open"
        refused = await self.claim(store, name, reset_timeout=60)
        assert (refused.allowed, refused.trial) == (False, False)
        assert 0 < refused.retry_after <= 60

    async def test_a_success_forgets_the_failures(self, store: Any) -> None:
        name = self.circuit()
        permit = await self.claim(store, name)
        await store.record_failure(name, generation=permit.generation, threshold=2)
        permit = await self.claim(store, name)
        assert permit.failures == 1
        assert await store.record_success(name, generation=permit.generation) is False
        permit = await self.claim(store, name)
        assert permit.failures == 0
        assert await store.record_failure(name, generation=permit.generation, threshold=2) is False
        assert await store.read(name, reset_timeout=_LONG) == "closed"

    async def test_open_turns_half_open_after_the_reset_timeout(self, store: Any) -> None:
        name = self.circuit()
        await self.open_circuit(store, name)
        assert await store.read(name, reset_timeout=_LONG) == "open"
        assert await store.read(name, reset_timeout=0) == "half_open"

    async def test_a_successful_trial_closes_the_circuit(self, store: Any) -> None:
        name = self.circuit()
        await self.open_circuit(store, name)
        trial = await self.claim(store, name, reset_timeout=0)
        assert (trial.allowed, trial.trial) == (True, True)
        assert await store.read(name, reset_timeout=0) == "half_open"
        assert await store.record_success(name, generation=trial.generation) is True
        assert await store.read(name, reset_timeout=0) == "closed"
        after = await self.claim(store, name, reset_timeout=0)
        assert (after.allowed, after.trial, after.failures) == (True, False, 0)

    async def test_a_failed_trial_reopens_with_a_fresh_timeout(self, store: Any) -> None:
        name = self.circuit()
        await self.open_circuit(store, name)
        trial = await self.claim(store, name, reset_timeout=0)
        assert trial.trial
        # One failed trial reopens the circuit, whatever the threshold.
        assert await store.record_failure(name, generation=trial.generation, threshold=50)
        refused = await self.claim(store, name, reset_timeout=60)
        assert refused.allowed is False
        assert refused.retry_after > 59
        again = await self.claim(store, name, reset_timeout=0)
        assert again.trial
        assert again.generation != trial.generation

    async def test_only_one_trial_while_its_lease_holds(self, store: Any) -> None:
        name = self.circuit()
        await self.open_circuit(store, name)
        trial = await self.claim(store, name, reset_timeout=0)
        assert trial.trial
        refused = await self.claim(store, name, reset_timeout=0)
        assert (refused.allowed, refused.trial) == (False, False)
        assert await store.read(name, reset_timeout=0) == "half_open"

    async def test_an_expired_trial_lease_lets_a_new_trial_in(self, store: Any) -> None:
        name = self.circuit()
        await self.open_circuit(store, name)
        first = await self.claim(store, name, reset_timeout=0, trial_timeout=0)
        second = await self.claim(store, name, reset_timeout=0)
        assert first.trial
        assert second.trial
        assert second.generation != first.generation
        # The first trial's late outcome belongs to a lease that expired: it changes nothing.
        assert await store.record_success(name, generation=first.generation) is False
        assert await store.record_failure(name, generation=first.generation, threshold=1) is False
        assert await store.read(name, reset_timeout=0) == "half_open"
        assert await store.record_success(name, generation=second.generation) is True

    async def test_a_released_trial_frees_the_slot_without_closing(self, store: Any) -> None:
        name = self.circuit()
        await self.open_circuit(store, name)
        trial = await self.claim(store, name, reset_timeout=0)
        await store.release_trial(name, generation=trial.generation)
        assert await store.read(name, reset_timeout=_LONG) == "open"
        assert await store.read(name, reset_timeout=0) == "half_open"
        next_trial = await self.claim(store, name, reset_timeout=0)
        assert next_trial.trial
        assert await store.record_success(name, generation=next_trial.generation)

    async def test_outcomes_from_before_opening_are_ignored(self, store: Any) -> None:
        name = self.circuit()
        slow = await self.claim(store, name)
        await self.open_circuit(store, name)
        assert await store.record_success(name, generation=slow.generation) is False
        assert await store.read(name, reset_timeout=_LONG) == "open"
        assert await store.record_failure(name, generation=slow.generation, threshold=1) is False
        refused = await self.claim(store, name, reset_timeout=60)
        assert refused.retry_after > 59, "a stale failure does not restart the timeout"

    async def test_outcomes_from_before_closing_are_ignored(self, store: Any) -> None:
        name = self.circuit()
        slow = await self.claim(store, name)
        await self.open_circuit(store, name)
        trial = await self.claim(store, name, reset_timeout=0)
        await store.record_success(name, generation=trial.generation)
        assert await store.record_failure(name, generation=slow.generation, threshold=1) is False
        assert await store.read(name, reset_timeout=0) == "closed"
        assert (await self.claim(store, name)).failures == 0

    async def test_reset_closes_an_open_circuit(self, store: Any) -> None:
        name = self.circuit()
        slow = await self.claim(store, name)
        await self.open_circuit(store, name)
        await store.reset(name)
        assert await store.read(name, reset_timeout=_LONG) == "closed"
        permit = await self.claim(store, name)
        assert (permit.allowed, permit.failures) == (True, 0)
        assert await store.record_failure(name, generation=slow.generation, threshold=1) is False
        assert await store.read(name, reset_timeout=_LONG) == "closed"
        await store.reset(self.circuit())  # an unknown circuit is already closed

    async def test_circuits_are_independent(self, store: Any) -> None:
        first, second = self.circuit(), self.circuit()
        await self.open_circuit(store, first)
        assert await store.read(first, reset_timeout=_LONG) == "open"
        assert await store.read(second, reset_timeout=_LONG) == "closed"
        assert (await self.claim(store, second)).allowed

    async def test_concurrent_failures_open_the_circuit_exactly_once(self, store: Any) -> None:
        name = self.circuit()
        permit = await self.claim(store, name)
        opened = await asyncio.gather(
            *(
                store.record_failure(name, generation=permit.generation, threshold=5)
                for _ in range(self.concurrency)
            )
        )
        assert opened.count(True) == 1
        assert await store.read(name, reset_timeout=_LONG) == "open"

    async def test_concurrent_trial_claims_have_exactly_one_winner(self, store: Any) -> None:
        name = self.circuit()
        await self.open_circuit(store, name)
        permits = await asyncio.gather(
            *(self.claim(store, name, reset_timeout=0) for _ in range(self.concurrency))
        )
        winners = [permit for permit in permits if permit.allowed]
        assert len(winners) == 1
        assert winners[0].trial is True
        assert not any(permit.trial for permit in permits if not permit.allowed)

    async def test_concurrent_trial_outcomes_close_or_reopen_once(self, store: Any) -> None:
        name = self.circuit()
        await self.open_circuit(store, name)
        trial = await self.claim(store, name, reset_timeout=0)
        outcomes = await asyncio.gather(
            store.record_success(name, generation=trial.generation),
            *(
                store.record_failure(name, generation=trial.generation, threshold=1)
                for _ in range(self.concurrency)
            ),
        )
        assert outcomes.count(True) == 1, "the first outcome wins, the rest are stale"
