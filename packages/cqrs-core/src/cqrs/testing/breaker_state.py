"""The contract every circuit-breaker state store passes, as a test class to subclass.

A subclass named `Test...` provides an async `store` fixture yielding an empty store whose
circuits expire `reset_timeout` seconds after opening (the tests use `short_timeout`).
"""

from __future__ import annotations

import abc
import asyncio
import uuid
from typing import Any

import pytest

__all__ = ["BreakerStateContract"]


class BreakerStateContract(abc.ABC):
    """Opening, half-open trials and closing, atomically under concurrency."""

    short_timeout: float = 0.3

    @pytest.fixture
    @abc.abstractmethod
    async def store(self) -> Any:
        """An empty breaker state store."""

    def circuit(self) -> str:
        return f"dependency-{uuid.uuid4().hex[:8]}"

    async def test_a_new_circuit_is_closed_and_allows_calls(self, store: Any) -> None:
        name = self.circuit()
        permit = await store.permit(name, reset_timeout=60)
        assert (permit.allowed, permit.trial) == (True, False)
        assert await store.state(name) == "closed"

    async def test_failures_open_the_circuit_at_the_threshold(self, store: Any) -> None:
        name = self.circuit()
        assert await store.record_failure(name, threshold=3, trial=False) is False
        assert await store.record_failure(name, threshold=3, trial=False) is False
        assert await store.record_failure(name, threshold=3, trial=False) is True
        assert await store.state(name) == "open"
        refused = await store.permit(name, reset_timeout=60)
        assert refused.allowed is False
        assert 0 < refused.retry_after <= 60

    async def test_a_success_closes_and_forgets_failures(self, store: Any) -> None:
        name = self.circuit()
        await store.record_failure(name, threshold=2, trial=False)
        await store.record_success(name)
        assert await store.record_failure(name, threshold=2, trial=False) is False
        assert await store.state(name) == "closed"

    async def test_after_the_timeout_exactly_one_trial_goes_through(self, store: Any) -> None:
        name = self.circuit()
        await store.record_failure(name, threshold=1, trial=False)
        await asyncio.sleep(self.short_timeout + 0.2)
        permits = await asyncio.gather(
            *(store.permit(name, reset_timeout=self.short_timeout) for _ in range(20))
        )
        trials = [p for p in permits if p.allowed]
        assert len(trials) == 1
        assert trials[0].trial is True
        assert await store.state(name) == "half_open"

    async def test_a_failed_trial_reopens_and_a_good_one_closes(self, store: Any) -> None:
        name = self.circuit()
        await store.record_failure(name, threshold=1, trial=False)
        await asyncio.sleep(self.short_timeout + 0.2)
        trial = await store.permit(name, reset_timeout=self.short_timeout)
        assert trial.trial
        assert await store.record_failure(name, threshold=1, trial=True) is True
        assert (await store.permit(name, reset_timeout=self.short_timeout)).allowed is False
        await asyncio.sleep(self.short_timeout + 0.2)
        assert (await store.permit(name, reset_timeout=self.short_timeout)).trial
        await store.record_success(name)
        assert await store.state(name) == "closed"

    async def test_concurrent_failures_open_the_circuit_once(self, store: Any) -> None:
        name = self.circuit()
        opened = await asyncio.gather(
            *(store.record_failure(name, threshold=5, trial=False) for _ in range(30))
        )
        assert opened.count(True) == 1

    async def test_circuits_are_independent(self, store: Any) -> None:
        first, second = self.circuit(), self.circuit()
        await store.record_failure(first, threshold=1, trial=False)
        assert await store.state(first) == "open"
        assert (await store.permit(second, reset_timeout=60)).allowed
