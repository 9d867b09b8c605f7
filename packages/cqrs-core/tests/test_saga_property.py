"""Property: whatever fails and wherever the process dies, run + recovery ends the saga properly."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cqrs.saga.models import SagaStatus, SagaStepStatus
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.testing._support.saga_crash import (
    MAX_STEPS,
    PERMANENT,
    CompensationFailure,
    CrashOutcome,
    CrashWhen,
    ManualClock,
    check_invariants,
    crash_points,
    run_with_crash,
)


@dataclasses.dataclass(frozen=True)
class Case:
    steps: int
    failing_step: int | None
    failure: CompensationFailure | None
    retries: int
    crash_at: int | None
    when: CrashWhen


@st.composite
def cases(draw: st.DrawFn) -> Case:
    steps = draw(st.integers(1, MAX_STEPS))
    # -1 stands for "none", as likely as any one value: most runs fail somewhere and crash.
    failing: int | None = draw(st.integers(-1, steps - 1))
    failing = None if failing == -1 else failing
    retries = draw(st.integers(0, 3))
    failure = draw(
        st.none()
        | st.builds(
            CompensationFailure,
            st.integers(0, steps - 1),
            st.just(PERMANENT) | st.integers(0, retries),
        )
    )
    writes = len(crash_points(steps, failing, failure))
    crash_at: int | None = draw(st.integers(-1, writes - 1))
    crash_at = None if crash_at == -1 else crash_at
    whens: list[CrashWhen] = ["before", "after"]
    when = draw(st.sampled_from(whens))
    return Case(steps, failing, failure, retries, crash_at, when)


@pytest.fixture(autouse=True)
def _quiet_saga_logs() -> Iterator[None]:
    # Hundreds of failing steps and compensations would flood the captured log.
    logger = logging.getLogger("cqrs.saga")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


async def _run(case: Case) -> CrashOutcome:
    clock = ManualClock()
    return await run_with_crash(
        lambda: MemorySagaStorage(clock=clock),
        case.crash_at,
        case.when,
        case.failing_step,
        steps=case.steps,
        compensation_failure=case.failure,
        retries=case.retries,
        expire=clock.expire,
    )


@settings(max_examples=200, deadline=None)
@given(cases())
def test_run_and_recovery_end_every_saga_consistently(case: Case) -> None:
    outcome = asyncio.run(_run(case))

    check_invariants(outcome)
    assert outcome.crashed is (case.crash_at is not None)
    if outcome.final is None:
        assert (case.crash_at, case.when) == (0, "before")
        return
    permanent = (
        case.failing_step is not None
        and case.failure is not None
        and case.failure.times == PERMANENT
        and case.failure.step < case.failing_step
    )
    assert (outcome.final_status is SagaStatus.FAILED) is permanent
    if permanent:
        last = outcome.history[-1]
        assert (last.action, last.status) == ("compensate", SagaStepStatus.FAILED)
        assert last.details is not None
        assert "CompensationFailed" in last.details
    acts = [e.step for e in outcome.journal if e.action == "act"]
    assert all(acts.count(step) <= 2 for step in acts)
