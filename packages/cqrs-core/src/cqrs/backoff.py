"""Retry delays shared by the relay, producers and consumers: exponential, capped, jittered."""

from __future__ import annotations

import dataclasses
import random

__all__ = ["ExponentialBackoff"]


@dataclasses.dataclass(frozen=True, slots=True)
class ExponentialBackoff:
    """Delay before attempt `n + 1` is a random value in `[0, min(cap, base * factor**n)]`.

    Full jitter spreads the retries of many attempts that failed together (a broker outage) so they
    do not all hit the broker again at the same instant.
    """

    base: float = 0.5
    factor: float = 2.0
    cap: float = 60.0
    jitter: bool = True

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after `attempts` failed attempts (1 for the first failure)."""
        try:
            grown = self.base * self.factor ** max(attempts - 1, 0)
        except OverflowError:  # a float power past ~1e308: a long outage, long capped
            grown = self.cap
        ceiling = min(self.cap, grown)
        if not self.jitter:
            return ceiling
        return (rng or random).uniform(0, ceiling)
