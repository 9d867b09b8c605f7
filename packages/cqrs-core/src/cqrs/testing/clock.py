"""A clock a test moves by hand, for leases, retry times and backoff without sleeping."""

from __future__ import annotations

import datetime

__all__ = ["ManualClock"]


class ManualClock:
    """A callable returning a fixed aware UTC time that only moves when the test says so.

    Pass it as `clock=` to the components that take one (`OutboxRelay`,
    `MemoryOutboxedEventRepository`, `MemorySagaStorage`), as `AppHarness` does: a lease
    expires and a retry comes due when `advance` passes its time, never by waiting.
    """

    def __init__(self, start: datetime.datetime | None = None) -> None:
        if start is not None and start.utcoffset() is None:
            raise ValueError("ManualClock needs an aware datetime (use datetime.UTC)")
        self._now = (start or datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)).astimezone(
            datetime.UTC
        )

    def __call__(self) -> datetime.datetime:
        return self._now

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"

    def advance(self, seconds: float) -> datetime.datetime:
        """Move the clock `seconds` forward (never backward) and return the new time."""
        if seconds < 0:
            raise ValueError("a ManualClock only moves forward")
        self._now += datetime.timedelta(seconds=seconds)
        return self._now
