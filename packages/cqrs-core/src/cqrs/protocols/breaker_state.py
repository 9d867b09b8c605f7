"""Circuit-breaker state shared by every process that guards the same dependency.

Guarantees every store gives (checked by `cqrs.testing.breaker_state.BreakerStateContract`):
each operation is atomic for one identifier; consecutive failures reaching the threshold open
the circuit once; after `reset_timeout` exactly one caller gets the half-open trial; a success
closes the circuit and a failed trial opens it again with a fresh timeout.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Protocol, runtime_checkable

__all__ = ["BreakerPermit", "BreakerStateStore"]


@dataclasses.dataclass(frozen=True, slots=True)
class BreakerPermit:
    """Whether a call may go ahead: `allowed`, whether it is the half-open `trial`, and when
    a refused caller may retry."""

    allowed: bool
    trial: bool = False
    retry_after: float = 0.0


@runtime_checkable
class BreakerStateStore(Protocol):
    """Where circuit states live (process memory, Redis, ...)."""

    async def permit(self, identifier: str, *, reset_timeout: float) -> BreakerPermit:
        """Decide on one call: closed lets it through; open refuses it until the timeout, then
        lets exactly one trial through (half-open)."""
        ...

    async def record_success(self, identifier: str) -> None:
        """Close the circuit and forget the failures."""

    async def record_failure(self, identifier: str, *, threshold: int, trial: bool) -> bool:
        """Count a failure; open the circuit at `threshold` (or at once for a failed trial).
        Returns whether this failure opened it."""
        ...

    async def state(self, identifier: str) -> Literal["closed", "open", "half_open"]:
        """The circuit's state as stored."""
        ...
