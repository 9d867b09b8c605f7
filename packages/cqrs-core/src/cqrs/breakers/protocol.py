"""The circuit breaker boundary, and the breaker state kept apart so processes share circuits.

`CircuitBreaker` is what handler fallbacks and saga steps accept. `BreakerStateStore` holds a
breaker's circuits outside it; every store gives these guarantees (checked by
`cqrs.breakers.contract.BreakerStateContract`):

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
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol, TypeAlias, TypeVar, runtime_checkable

__all__ = ["BreakerPermit", "BreakerStateStore", "CircuitBreaker", "CircuitState", "circuit_name"]

T = TypeVar("T")


@runtime_checkable
class CircuitBreaker(Protocol):
    """Runs calls while a circuit is closed and refuses them while it is open.

    One breaker instance serves many circuits, one per `identifier` (a handler or step type, or
    a string), so an open circuit for one dependency does not block the others. `call` raises
    an error for which `is_circuit_breaker_error` is true, without running `func`, when the
    circuit is open; otherwise it runs `func`, records the outcome and returns or re-raises.
    """

    async def call(
        self,
        identifier: type | str,
        func: Callable[..., Awaitable[T]],
        *args: Any,
        **kwargs: Any,
    ) -> T: ...

    def is_circuit_breaker_error(self, exc: BaseException) -> bool: ...


def circuit_name(identifier: type | str) -> str:
    """The circuit name of `identifier`: a string as is, a type by its qualified name.

    Breakers name circuits this way so a type and its qualified name share one circuit, and
    so that processes sharing breaker state agree on the names.
    """
    if isinstance(identifier, str):
        return identifier
    return f"{identifier.__module__}.{identifier.__qualname__}"


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
