"""Circuit-breaker state kept apart from the breaker, so every process can share one circuit.

Guarantees every store gives (checked by `cqrs.testing.breaker_state.BreakerStateContract`):

- Each operation is atomic for its identifier, even across processes: concurrent failures that
  reach the threshold open the circuit exactly once, and once `reset_timeout` has passed exactly
  one caller claims the half-open trial.
- Every transition (closed -> open -> half-open trial -> closed or open again) moves the
  circuit to a new `generation`. An outcome reported for an older generation, such as a slow
  call that started before the circuit opened, changes nothing.
- The trial slot is leased for `trial_timeout` seconds: if the caller holding it crashes or
  hangs, another caller can claim a fresh trial once the lease has expired.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Protocol, TypeAlias, runtime_checkable

__all__ = ["BreakerPermit", "BreakerStateStore", "CircuitState"]

CircuitState: TypeAlias = Literal["closed", "open", "half_open"]
"""Where a circuit stands: calls pass, calls are refused, or one trial call may pass."""


@dataclasses.dataclass(frozen=True, slots=True)
class BreakerPermit:
    """The answer to `BreakerStateStore.claim`: whether the call may run, and under which terms.

    `generation` is handed back with the outcome; `trial` marks the single half-open call;
    `failures` is the count of consecutive failures at the time of the claim; a refused caller
    may retry after `retry_after` seconds.
    """

    allowed: bool
    generation: int = 0
    trial: bool = False
    failures: int = 0
    retry_after: float = 0.0


@runtime_checkable
class BreakerStateStore(Protocol):
    """Where circuit states live (process memory, Redis, ...), one circuit per identifier.

    A circuit is open from the failure that reached the threshold until `reset_timeout` seconds
    later; then it is half-open until a trial call succeeds (closed) or fails (open again, with
    a fresh timeout). Timeouts are passed on every call, so one store serves breakers with
    different settings.
    """

    async def read(self, identifier: str, *, reset_timeout: float) -> CircuitState:
        """The circuit's state (`"closed"` for an identifier never seen or expired)."""
        ...

    async def claim(
        self, identifier: str, *, reset_timeout: float, trial_timeout: float
    ) -> BreakerPermit:
        """Decide on one call: allowed while closed, refused while open, and once the timeout
        has passed allowed as the trial for exactly one caller per `trial_timeout` lease."""
        ...

    async def record_failure(self, identifier: str, *, generation: int, threshold: int) -> bool:
        """Count a failure of a call allowed at `generation`; open the circuit when the count
        reaches `threshold`, or at once for the trial. Returns whether this failure opened it."""
        ...

    async def record_success(self, identifier: str, *, generation: int) -> bool:
        """Forget the failures; a successful trial closes the circuit. Returns whether it did."""
        ...

    async def release_trial(self, identifier: str, *, generation: int) -> None:
        """Give the trial slot back without an outcome (the trial call was cancelled)."""
        ...

    async def reset(self, identifier: str) -> None:
        """Close the circuit and forget its failures, whatever its state."""
        ...
