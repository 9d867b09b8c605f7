"""A saga survives a crash at every write: recovery finishes it without redoing logged work."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cqrs.saga.models import SagaStatus
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.testing.saga_crash import (
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
    recover_and_collect,
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


_CHILD = """
import asyncio, json, os, sys, uuid
from sqlalchemy.ext.asyncio import create_async_engine
from cqrs_sqla.saga_storage import SqlAlchemySagaStorage
from cqrs.testing.saga_crash import SagaScenario, run_saga

async def main(url, saga_id, failing, kill_act, kill_compensate, journal):
    storage = SqlAlchemySagaStorage(create_async_engine(url))
    await run_saga(
        storage, SagaScenario(4, failing), uuid.UUID(saga_id), lease_seconds=0.2,
        kill_act=kill_act, kill_compensate=kill_compensate, kill_pid=os.getpid(),
        journal_file=journal,
    )

asyncio.run(main(*json.loads(sys.argv[1])))
"""


@pytest.mark.parametrize(
    ("failing", "kill_act", "kill_compensate"),
    [
        pytest.param(None, 1, -1, id="killed-in-act-2"),
        pytest.param(FAILING_STEP, FAILING_STEP, -1, id="killed-in-failing-act"),
        pytest.param(FAILING_STEP, -1, 0, id="killed-in-compensate-1"),
    ],
)
async def test_recovery_after_the_process_is_killed_inside_a_step(
    tmp_path: Path, failing: int | None, kill_act: int, kill_compensate: int
) -> None:
    pytest.importorskip("aiosqlite")
    saga_storage = pytest.importorskip("cqrs_sqla.saga_storage")
    from sqlalchemy.ext.asyncio import create_async_engine

    url = f"sqlite+aiosqlite:///{tmp_path / 'sagas.db'}"
    journal = str(tmp_path / "journal.jsonl")
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    engine = create_async_engine(url)
    storage = saga_storage.SqlAlchemySagaStorage(engine)
    await storage.create_schema()
    saga_id = uuid.uuid4()
    scenario = SagaScenario(4, failing)
    try:
        args = json.dumps([url, str(saga_id), failing, kill_act, kill_compensate, journal])
        child = await asyncio.create_subprocess_exec(
            sys.executable, str(script), args, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await child.communicate()
        assert child.returncode == -signal.SIGKILL, stderr.decode()

        outcome = await recover_and_collect(
            storage, scenario, saga_id, crash="SIGKILL", journal_file=journal, lease_seconds=0.2
        )
    finally:
        await engine.dispose()

    check_invariants(outcome)
    killed = kill_act if kill_act >= 0 else kill_compensate
    action = "act" if kill_act >= 0 else "compensate"
    calls = [e for e in outcome.journal if (e.step, e.action) == (killed, action)]
    assert len(calls) == 2
    assert calls[0].pid != calls[1].pid
