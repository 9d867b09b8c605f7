"""Circuit-breaker state in process memory, for one process or for tests of the logic."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from cqrs.protocols.breaker_state import BreakerPermit

__all__ = ["MemoryBreakerStateStore"]


class MemoryBreakerStateStore:
    """Per identifier: consecutive failures, when the circuit opened, whether a trial is out."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, int] = {}
        self._opened_at: dict[str, float] = {}
        self._trial: set[str] = set()

    async def permit(self, identifier: str, *, reset_timeout: float) -> BreakerPermit:
        opened = self._opened_at.get(identifier)
        if opened is None:
            return BreakerPermit(True)
        waited = self._clock() - opened
        if waited < reset_timeout:
            return BreakerPermit(False, retry_after=reset_timeout - waited)
        if identifier in self._trial:
            return BreakerPermit(False)
        self._trial.add(identifier)
        return BreakerPermit(True, trial=True)

    async def record_success(self, identifier: str) -> None:
        self._failures.pop(identifier, None)
        self._opened_at.pop(identifier, None)
        self._trial.discard(identifier)

    async def record_failure(self, identifier: str, *, threshold: int, trial: bool) -> bool:
        self._trial.discard(identifier)
        if trial:
            self._opened_at[identifier] = self._clock()
            return True
        count = self._failures[identifier] = self._failures.get(identifier, 0) + 1
        if count >= threshold and identifier not in self._opened_at:
            self._opened_at[identifier] = self._clock()
            return True
        return False

    async def state(self, identifier: str) -> Literal["closed", "open", "half_open"]:
        if identifier not in self._opened_at:
            return "closed"
        return "half_open" if identifier in self._trial else "open"
