"""Lease heartbeats: one timer per driver keeps the leases of its running sagas alive."""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from typing import Any, Protocol

__all__ = ["BEATS_PER_LEASE", "LeaseKeeper"]

_log = logging.getLogger("cqrs.saga")

BEATS_PER_LEASE = 4
"""Heartbeat ticks per lease: a run idle since a tick is renewed by the next one, at the latest
half a lease after its last write, leaving the other half for the renewal's round trip."""

_WARNED: weakref.WeakSet[type] = weakref.WeakSet()
"""Storage classes already warned about lacking `renew` (warn once per class, not per driver)."""


class HeldRun(Protocol):
    """What the keeper reads and marks on a saga run it holds (a `SagaExecution`)."""

    saga_id: uuid.UUID | None
    owner: str
    lease_seconds: float
    version: int
    lost: bool


class LeaseKeeper:
    """Renews the leases of the sagas one driver is running, from one timer shared by all.

    Holding a run costs a dict entry: every `lease_seconds / BEATS_PER_LEASE` a tick looks at
    the held runs and renews, in one background task, those whose version has not moved since
    the previous tick (a step still running). A refused renewal means another worker has the
    saga: the run is marked `lost` (and logged) so it records nothing more. A storage without
    `renew` gets a warning once and no heartbeat.
    """

    __slots__ = ("_renew", "_task", "handle", "lease", "loop", "runs", "storage")

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self._renew = getattr(storage, "renew", None)
        if self._renew is None and type(storage) not in _WARNED:
            _WARNED.add(type(storage))
            _log.warning(
                "%s has no renew(saga_id, owner=, lease_seconds=) method: saga leases get no "
                "heartbeat, so a step running longer than the lease may be started again by a "
                "recovery worker",
                type(storage).__qualname__,
            )
        self.runs: dict[HeldRun, int | None] | None = None if self._renew is None else {}
        """The runs held, each with its version at the last tick (`None`: no heartbeat)."""
        self.handle: asyncio.TimerHandle | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.lease = 0.0
        """The shortest lease the armed timer was sized for."""
        self._task: asyncio.Task[None] | None = None

    def hold(self, run: HeldRun) -> None:
        """Keep `run`'s lease alive from now until `drop` (the saga engine inlines this)."""
        runs = self.runs
        if runs is None:
            return
        runs[run] = None
        if (
            self.handle is None
            or run.lease_seconds < self.lease
            or self.loop is not asyncio.get_running_loop()
        ):
            self.arm(run.lease_seconds)

    def drop(self, run: HeldRun) -> None:
        """Stop renewing `run`'s lease (it stopped, or is about to record a terminal status)."""
        if self.runs is not None:
            self.runs.pop(run, None)

    def holds(self, run: HeldRun) -> bool:
        """Whether `run`'s lease is being kept alive."""
        return self.runs is not None and run in self.runs

    def arm(self, lease_seconds: float) -> None:
        """(Re)start the timer on the running loop for leases of `lease_seconds`."""
        if self.handle is not None:
            self.handle.cancel()
        loop = self.loop = asyncio.get_running_loop()
        self.lease = lease_seconds
        self.handle = loop.call_later(lease_seconds / BEATS_PER_LEASE, self._tick)

    def _tick(self) -> None:
        self.handle = None
        runs = self.runs
        if not runs:
            return
        due: list[tuple[HeldRun, int]] = []
        shortest = float("inf")
        for run, seen in runs.items():
            version = run.version
            if seen == version:
                due.append((run, version))
            else:
                runs[run] = version
            shortest = min(shortest, run.lease_seconds)
        if due and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._renew_all(due))
        self.arm(shortest)

    async def _renew_all(self, due: list[tuple[HeldRun, int]]) -> None:
        await asyncio.gather(*(self._renew_one(run, version) for run, version in due))

    async def _renew_one(self, run: HeldRun, version: int) -> None:
        renew = self._renew
        if renew is None or run.saga_id is None or not self.holds(run):
            return
        try:
            held = await renew(run.saga_id, owner=run.owner, lease_seconds=run.lease_seconds)
        except Exception as exc:
            _log.warning(
                "saga %s: renewing the lease of %s failed (%s: %s); retrying at the next beat",
                run.saga_id,
                run.owner,
                type(exc).__name__,
                exc,
            )
            return
        if held or not self.holds(run) or run.version != version:
            return
        self.drop(run)
        run.lost = True
        _log.warning(
            "saga %s: %s lost its lease (another worker took the saga, or it was released); "
            "the step in flight will not be recorded by this worker",
            run.saga_id,
            run.owner,
        )
