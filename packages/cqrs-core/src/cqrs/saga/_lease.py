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

    __slots__ = ("_handle", "_loop", "_period", "_renew", "_runs", "_task", "storage")

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
        self._runs: dict[HeldRun, int | None] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._period = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def beating(self) -> bool:
        """Whether leases get a heartbeat (the storage can renew them)."""
        return self._renew is not None

    def hold(self, run: HeldRun) -> None:
        """Keep `run`'s lease alive from now until `drop`."""
        if self._renew is None:
            return
        self._runs[run] = None
        period = run.lease_seconds / BEATS_PER_LEASE
        loop = asyncio.get_running_loop()
        if self._handle is None or period < self._period or self._loop is not loop:
            self._arm(loop, period)

    def drop(self, run: HeldRun) -> None:
        """Stop renewing `run`'s lease (it stopped, or is about to record a terminal status)."""
        self._runs.pop(run, None)

    def holds(self, run: HeldRun) -> bool:
        """Whether `run`'s lease is being kept alive."""
        return run in self._runs

    def _arm(self, loop: asyncio.AbstractEventLoop, period: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._loop = loop
        self._period = period
        self._handle = loop.call_later(period, self._tick)

    def _tick(self) -> None:
        self._handle = None
        runs = self._runs
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
        loop = self._loop or asyncio.get_running_loop()
        if due and (self._task is None or self._task.done()):
            self._task = loop.create_task(self._renew_all(due))
        self._arm(loop, shortest / BEATS_PER_LEASE)

    async def _renew_all(self, due: list[tuple[HeldRun, int]]) -> None:
        await asyncio.gather(*(self._renew_one(run, version) for run, version in due))

    async def _renew_one(self, run: HeldRun, version: int) -> None:
        renew = self._renew
        if renew is None or run.saga_id is None or run not in self._runs:
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
        if held or run not in self._runs or run.version != version:
            return
        self._runs.pop(run, None)
        run.lost = True
        _log.warning(
            "saga %s: %s lost its lease (another worker took the saga, or it was released); "
            "the step in flight will not be recorded by this worker",
            run.saga_id,
            run.owner,
        )
