"""A saga survives a crash at every write: recovery finishes it without redoing logged work."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest

from cqrs.saga.models import SagaStatus
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.testing._support.saga_crash import (
    PERMANENT,
    CompensationFailure,
    CrashingStorage,
    CrashOutcome,
    CrashPoint,
    CrashWhen,
    ManualClock,
    SagaScenario,
    SimulatedCrash,
    check_invariants,
    crash_points,
    run_with_crash,
)

FAILING_STEP = 2
"""The third of the four steps fails in the compensating scenarios."""

SCENARIOS: dict[str, tuple[int | None, CompensationFailure | None]] = {
    "no-failure": (None, None),
    "step3-fails": (FAILING_STEP, None),
    "step3-fails-undo1-flaky": (FAILING_STEP, CompensationFailure(0, 2)),
    "step3-fails-undo2-broken": (FAILING_STEP, CompensationFailure(1, PERMANENT)),
}


def _cases() -> list[Any]:
    cases = []
    for name, (failing, failure) in SCENARIOS.items():
        for point in crash_points(4, failing, failure):
            for when in ("before", "after"):
                cases.append(
                    pytest.param(failing, failure, point, when, id=f"{name}-{when}-{point}")
                )
    return cases


async def _run(
    crash_at: int | None,
    when: CrashWhen = "before",
    failing: int | None = None,
    failure: CompensationFailure | None = None,
) -> CrashOutcome:
    clock = ManualClock()
    return await run_with_crash(
        lambda: MemorySagaStorage(clock=clock),
        crash_at,
        when,
        failing,
        compensation_failure=failure,
        expire=clock.expire,
    )


@pytest.mark.parametrize(("failing", "failure"), list(SCENARIOS.values()), ids=list(SCENARIOS))
async def test_crash_points_are_every_write_of_a_run(
    failing: int | None, failure: CompensationFailure | None
) -> None:
    outcome = await _run(None, failing=failing, failure=failure)

    check_invariants(outcome)
    assert not outcome.crashed
    assert outcome.writes == len(crash_points(4, failing, failure))
    assert outcome.final_status is SagaScenario(4, failing, failure).expected_status


@pytest.mark.parametrize(("failing", "failure", "point", "when"), _cases())
async def test_recovery_after_a_crash_at_every_write(
    failing: int | None, failure: CompensationFailure | None, point: CrashPoint, when: CrashWhen
) -> None:
    outcome = await _run(point.index, when, failing, failure)

    assert outcome.crashed
    assert outcome.run_error is None
    check_invariants(outcome)
    state = outcome.state_at_crash
    if point.label == "create" and when == "before":
        assert state is None
        assert outcome.journal == []
        return
    assert state is not None
    if not state.status.terminal:
        assert outcome.blocked_by_lease is True
    # Only the call whose write was lost runs twice; a crash after a write repeats nothing.
    action, _, step = point.label.partition(":")
    lost = None
    if when == "before" and action != "compensate-failed":
        lost = (int(step), action.removesuffix("-failed"))
    calls = Counter((e.step, e.action) for e in outcome.journal if e.ok or e.action == "act")
    assert calls, outcome.journal
    for call, count in calls.items():
        assert count == (2 if call == lost else 1), (call, outcome.journal)


async def test_a_lost_final_act_write_reruns_only_the_last_step() -> None:
    outcome = await _run(4, "before")

    check_invariants(outcome)
    assert [e.step for e in outcome.journal] == [0, 1, 2, 3, 3]
    assert outcome.final_status is SagaStatus.COMPLETED
    assert outcome.context is not None
    assert outcome.context.acts == [0, 1, 2, 3]


async def test_a_crash_after_the_failed_act_compensates_without_rerunning_it() -> None:
    outcome = await _run(3, "after", FAILING_STEP)

    check_invariants(outcome)
    assert outcome.state_at_crash is not None
    assert outcome.state_at_crash.status is SagaStatus.COMPENSATING
    assert [(e.step, e.action) for e in outcome.journal] == [
        (0, "act"),
        (1, "act"),
        (2, "act"),
        (1, "compensate"),
        (0, "compensate"),
    ]


async def test_crashing_storage_before_and_after() -> None:
    clock = ManualClock()
    inner = MemorySagaStorage(clock=clock)
    saga_id = uuid.uuid4()

    before = CrashingStorage(inner, 0, "before")
    with pytest.raises(SimulatedCrash):
        await before.create_saga(saga_id, "s", {}, owner="a", lease_seconds=1)
    assert await inner.load_saga_state(saga_id) is None

    after = CrashingStorage(inner, 1, "after")
    state = await after.create_saga(saga_id, "s", {}, owner="a", lease_seconds=1)
    with pytest.raises(SimulatedCrash):
        await after.transition(saga_id, version=state.version, owner="a", lease_seconds=1)
    stored = await inner.load_saga_state(saga_id)
    assert stored is not None
    assert stored.version == state.version + 1
    with pytest.raises(SimulatedCrash):
        await after.load_saga_state(saga_id)
    assert after.writes == 2
