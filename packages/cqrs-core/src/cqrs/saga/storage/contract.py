"""The contract every saga storage passes, as a test class to subclass.

A subclass named `Test...` provides an async `storage` fixture yielding an empty storage::

    class TestMySagaStorage(SagaStorageContract):
        @pytest.fixture
        async def storage(self) -> AsyncIterator[MySagaStorage]:
            storage = MySagaStorage(...)
            await storage.create_schema()
            yield storage
            await storage.drop_schema()
"""

from __future__ import annotations

import abc
import asyncio
import datetime
import uuid
from typing import Any

import pytest

from cqrs.errors import SagaConcurrencyError
from cqrs.saga.models import SagaLogEntry, SagaState, SagaStatus, SagaStepStatus

__all__ = ["SagaStorageContract"]

_CONTEXT: dict[str, Any] = {
    "order_id": "order-1",
    "items": ["book", "pen"],
    "total": 10.5,
    "count": 3,
    "paid": False,
    "note": None,
    "nested": {"ünïcödé": "ç😀", "list": [1, {"deep": True}]},
}


_TRACE: dict[str, str] = {
    "correlation_id": "2f1c9a54-7d3e-4b8a-9c61-0e5f4d3b2a19",
    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "tracestate": "vendor=ünï,other=x=y",
    "baggage": 'user="ç😀"; id=7',
}


def _utc(moment: datetime.datetime) -> datetime.datetime:
    """`moment` as an aware UTC datetime (a naive one is read as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def _entry(
    saga_id: uuid.UUID,
    index: int,
    *,
    name: str = "ReserveStep",
    action: Any = "act",
    status: SagaStepStatus = SagaStepStatus.COMPLETED,
    details: str | None = None,
) -> SagaLogEntry:
    return SagaLogEntry(
        saga_id=saga_id,
        step_index=index,
        step_name=name,
        action=action,
        status=status,
        timestamp=datetime.datetime.now(datetime.UTC),
        details=details,
    )


def _same_entry(stored: SagaLogEntry, written: SagaLogEntry) -> bool:
    """Equal but for timestamp precision (databases may keep only milliseconds)."""
    drift = abs((_utc(stored.timestamp) - _utc(written.timestamp)).total_seconds())
    return (
        stored.saga_id == written.saga_id
        and stored.step_index == written.step_index
        and stored.step_name == written.step_name
        and stored.action == written.action
        and stored.status == written.status
        and stored.details == written.details
        and drift < 0.01
    )


class SagaStorageContract(abc.ABC):
    """Versioning, leases and their renewal, atomic transitions and the step log, shared by
    every saga storage."""

    lease_seconds: float = 30.0
    short_lease: float = 0.3
    """A lease the tests let expire by sleeping `expiry_wait` seconds."""
    expiry_wait: float = 0.45

    @pytest.fixture
    @abc.abstractmethod
    async def storage(self) -> Any:
        """An empty saga storage."""

    async def create(
        self,
        storage: Any,
        *,
        owner: str = "worker-a",
        lease_seconds: float | None = None,
        context: dict[str, Any] | None = None,
        trace: dict[str, str] | None = None,
    ) -> SagaState:
        """Create a saga named `OrderSaga` (with `trace` headers if given); its stored state."""
        lease = self.lease_seconds if lease_seconds is None else lease_seconds
        context = dict(_CONTEXT if context is None else context)
        if trace is None:
            state: SagaState = await storage.create_saga(
                uuid.uuid4(), "OrderSaga", context, owner=owner, lease_seconds=lease
            )
        else:
            state = await storage.create_saga(
                uuid.uuid4(), "OrderSaga", context, owner=owner, lease_seconds=lease, trace=trace
            )
        return state

    async def load(self, storage: Any, saga_id: uuid.UUID) -> SagaState:
        state = await storage.load_saga_state(saga_id)
        assert state is not None, f"saga {saga_id} is missing"
        assert isinstance(state, SagaState)
        return state

    async def step(
        self,
        storage: Any,
        state: SagaState,
        version: int,
        *,
        owner: str = "worker-a",
        status: SagaStatus | None = None,
        context: dict[str, Any] | None = None,
        entry: SagaLogEntry | None = None,
    ) -> int:
        """One transition as `owner` from `version`; returns the new version."""
        new_version: int = await storage.transition(
            state.saga_id,
            version=version,
            owner=owner,
            lease_seconds=self.lease_seconds,
            status=status,
            context=context,
            entry=entry,
        )
        return new_version

    # --- create and load ---------------------------------------------------------------------

    async def test_create_then_load(self, storage: Any) -> None:
        created = await self.create(storage)
        assert created.status is SagaStatus.RUNNING
        assert created.version == 1
        loaded = await self.load(storage, created.saga_id)
        assert loaded.saga_id == created.saga_id
        assert loaded.saga_name == "OrderSaga"
        assert loaded.status is SagaStatus.RUNNING
        assert loaded.version == 1
        assert loaded.context == _CONTEXT
        assert loaded.lease_owner == "worker-a"
        assert loaded.lease_until is not None
        assert _utc(loaded.lease_until) > datetime.datetime.now(datetime.UTC)
        assert loaded.history == ()
        assert await storage.get_step_history(created.saga_id) == []

    async def test_unknown_saga_loads_as_none(self, storage: Any) -> None:
        assert await storage.load_saga_state(uuid.uuid4()) is None
        assert list(await storage.get_step_history(uuid.uuid4())) == []
        assert await storage.acquire(uuid.uuid4(), owner="w", lease_seconds=1.0) is None

    async def test_duplicate_create_raises_and_keeps_the_first(self, storage: Any) -> None:
        created = await self.create(storage)
        with pytest.raises(SagaConcurrencyError):
            await storage.create_saga(
                created.saga_id,
                "OtherSaga",
                {"other": 1},
                owner="worker-b",
                lease_seconds=self.lease_seconds,
            )
        loaded = await self.load(storage, created.saga_id)
        assert (loaded.saga_name, loaded.context, loaded.lease_owner) == (
            "OrderSaga",
            _CONTEXT,
            "worker-a",
        )

    # --- trace -------------------------------------------------------------------------------

    async def test_trace_given_at_create_comes_back_unchanged_after_transitions(
        self, storage: Any
    ) -> None:
        created = await self.create(storage, trace=dict(_TRACE))
        assert dict(created.trace or {}) == _TRACE
        assert dict((await self.load(storage, created.saga_id)).trace or {}) == _TRACE
        version = await self.step(
            storage,
            created,
            1,
            status=SagaStatus.COMPENSATING,
            context={"changed": True},
            entry=_entry(created.saga_id, 0, status=SagaStepStatus.FAILED),
        )
        await storage.release(created.saga_id, owner="worker-a")
        taken = await storage.acquire(created.saga_id, owner="worker-b", lease_seconds=30)
        assert taken is not None
        assert dict(taken.trace or {}) == _TRACE
        await self.step(
            storage,
            taken,
            taken.version,
            owner="worker-b",
            status=SagaStatus.COMPENSATED,
            entry=_entry(created.saga_id, 0, status=SagaStepStatus.COMPENSATED),
        )
        assert version == 2
        loaded = await self.load(storage, created.saga_id)
        assert loaded.status is SagaStatus.COMPENSATED
        assert dict(loaded.trace or {}) == _TRACE

    async def test_a_saga_created_without_trace_has_none(self, storage: Any) -> None:
        plain = await self.create(storage)
        empty = await self.create(storage, trace={})
        for created in (plain, empty):
            assert created.trace is None
            await self.step(storage, created, 1, entry=_entry(created.saga_id, 0))
            assert (await self.load(storage, created.saga_id)).trace is None
            taken = await storage.acquire(created.saga_id, owner="worker-a", lease_seconds=30)
            assert taken is not None
            assert taken.trace is None

    # --- transitions -------------------------------------------------------------------------

    async def test_transition_writes_status_context_and_entry_together(self, storage: Any) -> None:
        created = await self.create(storage)
        entry = _entry(created.saga_id, 0, details="all good")
        context = {**_CONTEXT, "reservation_id": "r-1"}
        version = await self.step(
            storage,
            created,
            1,
            status=SagaStatus.COMPENSATING,
            context=context,
            entry=entry,
        )
        assert version == 2
        loaded = await self.load(storage, created.saga_id)
        assert loaded.version == 2
        assert loaded.status is SagaStatus.COMPENSATING
        assert loaded.context == context
        assert len(loaded.history) == 1
        assert _same_entry(loaded.history[0], entry)
        assert loaded.lease_owner == "worker-a"

    async def test_transition_without_status_or_context_keeps_them(self, storage: Any) -> None:
        created = await self.create(storage)
        version = await self.step(storage, created, 1, entry=_entry(created.saga_id, 0))
        loaded = await self.load(storage, created.saga_id)
        assert (loaded.version, loaded.status, loaded.context) == (
            version,
            SagaStatus.RUNNING,
            _CONTEXT,
        )

    async def test_stale_version_raises_and_changes_nothing(self, storage: Any) -> None:
        created = await self.create(storage)
        await self.step(storage, created, 1, entry=_entry(created.saga_id, 0))
        before = await self.load(storage, created.saga_id)
        for stale in (1, 0, 7):
            with pytest.raises(SagaConcurrencyError):
                await self.step(
                    storage,
                    created,
                    stale,
                    status=SagaStatus.FAILED,
                    context={"overwritten": True},
                    entry=_entry(created.saga_id, 1, status=SagaStepStatus.FAILED),
                )
        after = await self.load(storage, created.saga_id)
        assert (after.version, after.status, after.context) == (
            before.version,
            SagaStatus.RUNNING,
            _CONTEXT,
        )
        assert len(after.history) == 1
        assert len(await storage.get_step_history(created.saga_id)) == 1

    async def test_transition_of_an_unknown_saga_raises(self, storage: Any) -> None:
        ghost = SagaState(
            saga_id=uuid.uuid4(),
            saga_name="OrderSaga",
            status=SagaStatus.RUNNING,
            context={},
            version=1,
            created_at=datetime.datetime.now(datetime.UTC),
            updated_at=datetime.datetime.now(datetime.UTC),
        )
        with pytest.raises(SagaConcurrencyError):
            await self.step(storage, ghost, 1, entry=_entry(ghost.saga_id, 0))
        assert await storage.load_saga_state(ghost.saga_id) is None

    async def test_concurrent_transitions_from_one_version_have_one_winner(
        self, storage: Any
    ) -> None:
        created = await self.create(storage)

        async def attempt(n: int) -> int | None:
            try:
                return await self.step(
                    storage,
                    created,
                    1,
                    context={"winner": n},
                    entry=_entry(created.saga_id, 0, name=f"Step{n}"),
                )
            except SagaConcurrencyError:
                return None

        results = await asyncio.gather(*(attempt(n) for n in range(20)))
        winners = [n for n, result in enumerate(results) if result is not None]
        assert len(winners) == 1, results
        assert results[winners[0]] == 2
        loaded = await self.load(storage, created.saga_id)
        assert loaded.version == 2
        assert loaded.context == {"winner": winners[0]}
        assert [entry.step_name for entry in loaded.history] == [f"Step{winners[0]}"]

    # --- leases ------------------------------------------------------------------------------

    async def test_another_owners_live_lease_blocks_transition_and_acquire(
        self, storage: Any
    ) -> None:
        created = await self.create(storage)
        with pytest.raises(SagaConcurrencyError):
            await self.step(
                storage,
                created,
                1,
                owner="worker-b",
                status=SagaStatus.COMPENSATING,
                entry=_entry(created.saga_id, 0),
            )
        assert await storage.acquire(created.saga_id, owner="worker-b", lease_seconds=5) is None
        loaded = await self.load(storage, created.saga_id)
        assert (loaded.version, loaded.status, loaded.lease_owner) == (
            1,
            SagaStatus.RUNNING,
            "worker-a",
        )
        assert loaded.history == ()

    async def test_owner_can_reacquire_and_continue_from_the_returned_version(
        self, storage: Any
    ) -> None:
        created = await self.create(storage)
        state = await storage.acquire(created.saga_id, owner="worker-a", lease_seconds=5)
        assert state is not None
        assert state.lease_owner == "worker-a"
        version = await self.step(storage, state, state.version, entry=_entry(state.saga_id, 0))
        assert version == state.version + 1

    async def test_an_expired_lease_passes_to_another_owner(self, storage: Any) -> None:
        created = await self.create(storage, lease_seconds=self.short_lease)
        await self.step(storage, created, 1, entry=_entry(created.saga_id, 0))
        # The transition renewed the lease for `lease_seconds`; re-acquiring shortens it again.
        state = await storage.acquire(
            created.saga_id, owner="worker-a", lease_seconds=self.short_lease
        )
        assert state is not None
        assert state.lease_owner == "worker-a"
        version = state.version
        await asyncio.sleep(self.expiry_wait)
        taken = await storage.acquire(created.saga_id, owner="worker-b", lease_seconds=30)
        assert taken is not None
        assert taken.lease_owner == "worker-b"
        assert [entry.step_index for entry in taken.history] == [0]
        with pytest.raises(SagaConcurrencyError):
            await self.step(storage, created, version, entry=_entry(created.saga_id, 1))
        new_version = await self.step(
            storage, taken, taken.version, owner="worker-b", entry=_entry(created.saga_id, 1)
        )
        assert new_version == taken.version + 1
        loaded = await self.load(storage, created.saga_id)
        assert loaded.lease_owner == "worker-b"
        assert [entry.step_index for entry in loaded.history] == [0, 1]

    async def test_a_terminal_status_clears_the_lease(self, storage: Any) -> None:
        for status in (SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.FAILED):
            created = await self.create(storage)
            await self.step(storage, created, 1, status=status, entry=_entry(created.saga_id, 0))
            loaded = await self.load(storage, created.saga_id)
            assert loaded.status is status
            assert loaded.lease_owner is None
            assert loaded.lease_until is None
            taken = await storage.acquire(created.saga_id, owner="worker-b", lease_seconds=5)
            assert taken is not None
            assert taken.status is status

    async def test_release_frees_the_lease_only_for_its_owner(self, storage: Any) -> None:
        created = await self.create(storage)
        await storage.release(created.saga_id, owner="worker-b")
        assert (await self.load(storage, created.saga_id)).lease_owner == "worker-a"
        assert await storage.acquire(created.saga_id, owner="worker-c", lease_seconds=5) is None
        await storage.release(created.saga_id, owner="worker-a")
        released = await self.load(storage, created.saga_id)
        assert released.lease_owner is None
        assert released.status is SagaStatus.RUNNING
        taken = await storage.acquire(created.saga_id, owner="worker-c", lease_seconds=5)
        assert taken is not None
        assert taken.lease_owner == "worker-c"
        await storage.release(uuid.uuid4(), owner="worker-c")

    # --- lease renewal (heartbeats) ----------------------------------------------------------

    async def test_renew_extends_the_owners_lease_without_a_new_version(self, storage: Any) -> None:
        created = await self.create(storage, lease_seconds=self.short_lease)
        before = await self.load(storage, created.saga_id)
        assert before.lease_until is not None
        assert await storage.renew(created.saga_id, owner="worker-a", lease_seconds=30) is True
        renewed = await self.load(storage, created.saga_id)
        assert renewed.version == before.version == 1, "renewal must not bump the version"
        assert renewed.lease_owner == "worker-a"
        assert renewed.lease_until is not None
        assert _utc(renewed.lease_until) > _utc(before.lease_until)
        assert (renewed.status, renewed.context, renewed.history) == (
            SagaStatus.RUNNING,
            _CONTEXT,
            (),
        )
        await asyncio.sleep(self.expiry_wait)
        assert await storage.acquire(created.saga_id, owner="worker-b", lease_seconds=5) is None
        assert await storage.find_interrupted(stale_after=0) == []
        version = await self.step(storage, created, 1, entry=_entry(created.saga_id, 0))
        assert version == 2, "a transition in flight still carries the version it read"

    async def test_renew_keeps_a_lease_alive_past_its_first_expiry(self, storage: Any) -> None:
        created = await self.create(storage, lease_seconds=self.short_lease)
        for _ in range(3):
            await asyncio.sleep(self.short_lease / 2)
            renewed = await storage.renew(
                created.saga_id, owner="worker-a", lease_seconds=self.short_lease
            )
            assert renewed is True
            assert await storage.acquire(created.saga_id, owner="worker-b", lease_seconds=5) is None
        assert (await self.load(storage, created.saga_id)).version == 1

    async def test_renew_by_another_owner_fails_and_changes_nothing(self, storage: Any) -> None:
        created = await self.create(storage)
        before = await self.load(storage, created.saga_id)
        assert await storage.renew(created.saga_id, owner="worker-b", lease_seconds=300) is False
        after = await self.load(storage, created.saga_id)
        assert (after.version, after.lease_owner) == (1, "worker-a")
        assert after.lease_until is not None
        assert before.lease_until is not None
        assert abs((_utc(after.lease_until) - _utc(before.lease_until)).total_seconds()) < 0.01

    async def test_renew_fails_once_the_lease_is_taken_released_or_over(self, storage: Any) -> None:
        assert await storage.renew(uuid.uuid4(), owner="worker-a", lease_seconds=5) is False
        taken = await self.create(storage, lease_seconds=self.short_lease)
        await asyncio.sleep(self.expiry_wait)
        assert await storage.acquire(taken.saga_id, owner="worker-b", lease_seconds=30)
        assert await storage.renew(taken.saga_id, owner="worker-a", lease_seconds=30) is False
        assert (await self.load(storage, taken.saga_id)).lease_owner == "worker-b"
        released = await self.create(storage)
        await storage.release(released.saga_id, owner="worker-a")
        assert await storage.renew(released.saga_id, owner="worker-a", lease_seconds=30) is False
        assert (await self.load(storage, released.saga_id)).lease_owner is None
        ended = await self.create(storage)
        await self.step(
            storage, ended, 1, status=SagaStatus.COMPLETED, entry=_entry(ended.saga_id, 0)
        )
        assert await storage.renew(ended.saga_id, owner="worker-a", lease_seconds=30) is False
        assert (await self.load(storage, ended.saga_id)).lease_owner is None

    async def test_an_expired_lease_no_one_took_can_be_renewed(self, storage: Any) -> None:
        created = await self.create(storage, lease_seconds=self.short_lease)
        await asyncio.sleep(self.expiry_wait)
        assert await storage.renew(created.saga_id, owner="worker-a", lease_seconds=30) is True
        assert await storage.acquire(created.saga_id, owner="worker-b", lease_seconds=5) is None

    # --- recovery queries --------------------------------------------------------------------

    async def test_find_interrupted_returns_stale_unleased_unfinished_sagas(
        self, storage: Any
    ) -> None:
        running = await self.create(storage, lease_seconds=self.short_lease)
        compensating = await self.create(storage)
        await self.step(
            storage,
            compensating,
            1,
            status=SagaStatus.COMPENSATING,
            entry=_entry(compensating.saga_id, 0, status=SagaStepStatus.FAILED),
        )
        await storage.release(compensating.saga_id, owner="worker-a")
        finished = await self.create(storage)
        await self.step(
            storage, finished, 1, status=SagaStatus.COMPLETED, entry=_entry(finished.saga_id, 0)
        )
        leased = await self.create(storage)
        await asyncio.sleep(self.expiry_wait)
        found = await storage.find_interrupted(stale_after=0)
        assert sorted(found) == sorted([running.saga_id, compensating.saga_id])
        assert await storage.find_interrupted(stale_after=3600) == []
        assert len(await storage.find_interrupted(stale_after=0, limit=1)) == 1
        assert leased.saga_id not in found

    async def test_a_reacquired_saga_is_no_longer_interrupted(self, storage: Any) -> None:
        created = await self.create(storage, lease_seconds=self.short_lease)
        await asyncio.sleep(self.expiry_wait)
        assert await storage.find_interrupted(stale_after=0) == [created.saga_id]
        assert await storage.acquire(created.saga_id, owner="worker-b", lease_seconds=30)
        assert await storage.find_interrupted(stale_after=0) == []

    async def test_step_history_keeps_write_order(self, storage: Any) -> None:
        created = await self.create(storage)
        version = created.version
        written = []
        for n in range(40):
            action = "act" if n < 20 else "compensate"
            status = SagaStepStatus.COMPLETED if n < 20 else SagaStepStatus.COMPENSATED
            index = n if n < 20 else 39 - n
            entry = _entry(created.saga_id, index, name=f"Step{n}", action=action, status=status)
            written.append(entry)
            version = await self.step(storage, created, version, entry=entry)
        history = list(await storage.get_step_history(created.saga_id))
        assert [entry.step_name for entry in history] == [f"Step{n}" for n in range(40)]
        assert all(_same_entry(s, w) for s, w in zip(history, written, strict=True))
        loaded = await self.load(storage, created.saga_id)
        assert [entry.step_name for entry in loaded.history] == [f"Step{n}" for n in range(40)]
        assert loaded.version == 41

    async def test_sagas_do_not_share_history(self, storage: Any) -> None:
        first = await self.create(storage)
        second = await self.create(storage)
        await self.step(storage, first, 1, entry=_entry(first.saga_id, 0, name="First"))
        await self.step(storage, second, 1, entry=_entry(second.saga_id, 0, name="Second"))
        assert [e.step_name for e in await storage.get_step_history(first.saga_id)] == ["First"]
        assert [e.step_name for e in await storage.get_step_history(second.saga_id)] == ["Second"]
