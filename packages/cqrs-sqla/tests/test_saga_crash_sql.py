"""Saga crash injection on the SQL storages: a crash at every write, and a process SIGKILLed
inside a step, then recovery (SQLite, PostgreSQL and MariaDB)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from cqrs.testing._support.saga_crash import (
    PERMANENT,
    CompensationFailure,
    CrashPoint,
    CrashWhen,
    SagaScenario,
    check_invariants,
    crash_points,
    recover_and_collect,
    run_with_crash,
)
from cqrs_sqla import SqlAlchemySagaStorage

FAILING_STEP = 2
SCENARIOS: dict[str, tuple[int | None, CompensationFailure | None]] = {
    "no-failure": (None, None),
    "step3-fails": (FAILING_STEP, None),
    "step3-fails-undo2-broken": (FAILING_STEP, CompensationFailure(1, PERMANENT)),
}


def _cases() -> list[Any]:
    return [
        pytest.param(failing, failure, point, when, id=f"{name}-{when}-{point}")
        for name, (failing, failure) in SCENARIOS.items()
        for point in crash_points(4, failing, failure)
        for when in ("before", "after")
    ]


@pytest.fixture
async def fresh_storage(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Any]:
    """A factory of empty SQL saga storages (one table pair per call), all dropped after."""
    from .conftest import database_url

    engine = create_async_engine(database_url(backend, tmp_path_factory))
    made: list[SqlAlchemySagaStorage] = []

    async def make() -> SqlAlchemySagaStorage:
        storage = SqlAlchemySagaStorage(engine, table=f"crash_{uuid.uuid4().hex[:10]}")
        await storage.create_schema()
        made.append(storage)
        return storage

    try:
        yield make
    finally:
        for storage in made:
            await storage.drop_schema()
        await engine.dispose()


@pytest.mark.parametrize(("failing", "failure", "point", "when"), _cases())
async def test_recovery_after_a_crash_at_every_write(
    fresh_storage: Any,
    failing: int | None,
    failure: CompensationFailure | None,
    point: CrashPoint,
    when: CrashWhen,
) -> None:
    storage = await fresh_storage()
    outcome = await run_with_crash(
        lambda: storage,
        point.index,
        when,
        failing,
        compensation_failure=failure,
        lease_seconds=0.05,
    )
    assert outcome.crashed
    check_invariants(outcome)


_CHILD = """
import asyncio, json, os, sys, uuid
from sqlalchemy.ext.asyncio import create_async_engine
from cqrs_sqla.saga_storage import SqlAlchemySagaStorage
from cqrs.testing._support.saga_crash import SagaScenario, run_saga

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
    url = f"sqlite+aiosqlite:///{tmp_path / 'sagas.db'}"
    journal = str(tmp_path / "journal.jsonl")
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    engine = create_async_engine(url)
    storage = SqlAlchemySagaStorage(engine)
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
