"""Crash injection for sagas: a storage that dies on its Nth write, a journaled saga, a driver.

The scenarios run against any `SagaStorage`, so SQL storages reuse them by swapping the factory::

    clock = ManualClock()
    outcome = await run_with_crash(
        lambda: MemorySagaStorage(clock=clock), crash_at=3, when="before", failing_step=2,
        expire=clock.expire,
    )
    check_invariants(outcome)

Without `expire` the driver waits (polling `recover_saga`) for the crashed run's short lease to
run out, which suits storages that read the real time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import functools
import inspect
import json
import os
import signal
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, cast

from cqrs.container.builtin import BuiltinContainer
from cqrs.protocols.models import INotificationEvent
from cqrs.saga.execution import CompensationPolicy, SagaCompensationError
from cqrs.saga.map import SagaMap
from cqrs.saga.mediator import SagaMediator
from cqrs.saga.models import SagaContext, SagaLogEntry, SagaState, SagaStatus, SagaStepStatus
from cqrs.saga.recovery import SagaRecoveryOutcome, SagaRecoveryResult, recover_saga
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult
from cqrs.saga.storage.protocol import SagaStorage

__all__ = [
    "MAX_RETRIES",
    "MAX_STEPS",
    "PERMANENT",
    "STEPS",
    "CompensationFailed",
    "CompensationFailure",
    "CrashContext",
    "CrashOutcome",
    "CrashPoint",
    "CrashWhen",
    "CrashingStorage",
    "JournalEntry",
    "ManualClock",
    "SagaScenario",
    "SimulatedCrash",
    "StepFailed",
    "check_invariants",
    "crash_points",
    "crash_saga",
    "read_journal",
    "recover_and_collect",
    "run_saga",
    "run_with_crash",
]

MAX_STEPS = 6
"""How many journaled steps exist; `crash_saga(n)` uses the first `n`."""

MAX_RETRIES = 10
"""Retries `crash_points` assumes (the write count does not depend on them)."""

PERMANENT = -1
"""`CompensationFailure.times` for a compensation that never succeeds."""

CrashWhen = Literal["before", "after"]
"""Crash before delegating a write (it never happened) or after (the caller never learned)."""


class SimulatedCrash(BaseException):
    """The process "dies" here; a BaseException so that nothing in the engine handles it."""


class StepFailed(Exception):
    """Raised by the configured step's `act`."""


class CompensationFailed(Exception):
    """Raised by the configured step's `compensate`."""


class CrashingStorage:
    """Wraps a storage and raises `SimulatedCrash` on write number `crash_at` (0-based).

    Writes are `create_saga` and `transition`. Once crashed, every further call crashes too:
    a dead process writes nothing more.
    """

    def __init__(
        self, inner: SagaStorage, crash_at: int | None, when: CrashWhen = "before"
    ) -> None:
        self.inner = inner
        self.crash_at = crash_at
        self.when: CrashWhen = when
        self.writes = 0
        self.crashed = False

    @property
    def writes_outbox(self) -> bool:
        """Whatever the wrapped storage says."""
        return self.inner.writes_outbox

    def _alive(self) -> None:
        if self.crashed:
            raise SimulatedCrash("the process is already dead")

    async def _write(self, call: Callable[[], Awaitable[Any]]) -> Any:
        self._alive()
        index = self.writes
        self.writes += 1
        hit = index == self.crash_at
        if hit and self.when == "before":
            self.crashed = True
            raise SimulatedCrash(f"crash before write {index}")
        result = await call()
        if hit:
            self.crashed = True
            raise SimulatedCrash(f"crash after write {index}")
        return result

    async def create_saga(
        self,
        saga_id: uuid.UUID,
        saga_name: str,
        context: dict[str, Any],
        *,
        owner: str,
        lease_seconds: float,
        trace: Mapping[str, str] | None = None,
    ) -> SagaState:
        state: SagaState = await self._write(
            lambda: self.inner.create_saga(
                saga_id, saga_name, context, owner=owner, lease_seconds=lease_seconds, trace=trace
            )
        )
        return state

    async def transition(
        self,
        saga_id: uuid.UUID,
        *,
        version: int,
        owner: str,
        lease_seconds: float,
        status: SagaStatus | None = None,
        context: dict[str, Any] | None = None,
        entry: SagaLogEntry | None = None,
        outbox_events: Sequence[INotificationEvent] = (),
    ) -> int:
        new_version: int = await self._write(
            lambda: self.inner.transition(
                saga_id,
                version=version,
                owner=owner,
                lease_seconds=lease_seconds,
                status=status,
                context=context,
                entry=entry,
                outbox_events=outbox_events,
            )
        )
        return new_version

    async def load_saga_state(self, saga_id: uuid.UUID) -> SagaState | None:
        self._alive()
        return await self.inner.load_saga_state(saga_id)

    async def get_step_history(self, saga_id: uuid.UUID) -> list[SagaLogEntry]:
        self._alive()
        return await self.inner.get_step_history(saga_id)

    async def find_interrupted(self, *, stale_after: float, limit: int = 100) -> list[uuid.UUID]:
        self._alive()
        return await self.inner.find_interrupted(stale_after=stale_after, limit=limit)

    async def acquire(
        self, saga_id: uuid.UUID, *, owner: str, lease_seconds: float
    ) -> SagaState | None:
        self._alive()
        return await self.inner.acquire(saga_id, owner=owner, lease_seconds=lease_seconds)

    async def release(self, saga_id: uuid.UUID, *, owner: str) -> None:
        self._alive()
        await self.inner.release(saga_id, owner=owner)

    async def renew(self, saga_id: uuid.UUID, *, owner: str, lease_seconds: float) -> bool:
        self._alive()
        return await self.inner.renew(saga_id, owner=owner, lease_seconds=lease_seconds)


class ManualClock:
    """A clock for `MemorySagaStorage(clock=...)` that moves only when told to."""

    def __init__(self, start: datetime.datetime | None = None) -> None:
        self.now = start or datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += datetime.timedelta(seconds=seconds)

    async def expire(self, lease_seconds: float) -> None:
        """Let a lease of `lease_seconds` run out (the `expire` hook of `run_with_crash`)."""
        self.advance(lease_seconds + 1)


@dataclasses.dataclass(frozen=True, slots=True)
class JournalEntry:
    """One call of a step's `act` or `compensate`, and whether it succeeded."""

    step: int
    action: Literal["act", "compensate"]
    ok: bool
    pid: int = 0


_JOURNALS: dict[str, list[JournalEntry]] = {}


def read_journal(run: str, journal_file: str = "") -> list[JournalEntry]:
    """Every step call of run `run`, oldest first (from `journal_file` if given)."""
    if not journal_file:
        return list(_JOURNALS.get(run, ()))
    path = Path(journal_file)
    if not path.exists():
        return []
    entries = []
    for line in path.read_text().splitlines():
        data = json.loads(line)
        if data.pop("run") == run:
            entries.append(JournalEntry(**data))
    return entries


class CrashContext(SagaContext):
    """The test saga's context: what to break, where to journal, and what the steps did."""

    run: str
    fail_act: int = -1
    fail_compensate: int = -1
    compensate_failures: int = 0
    kill_act: int = -1
    kill_compensate: int = -1
    kill_pid: int = 0
    journal_file: str = ""
    acts: list[int] = dataclasses.field(default_factory=list)
    compensated: list[int] = dataclasses.field(default_factory=list)

    def record(self, entry: JournalEntry) -> None:
        """Append `entry` to this run's journal (a file line survives a killed process)."""
        if not self.journal_file:
            _JOURNALS.setdefault(self.run, []).append(entry)
            return
        line = json.dumps({"run": self.run, **dataclasses.asdict(entry)})
        with open(self.journal_file, "a") as file:
            file.write(line + "\n")

    def journal(self) -> list[JournalEntry]:
        """This run's journal so far."""
        return read_journal(self.run, self.journal_file)

    def kill_if_first(self, target: int, step: int, action: Literal["act", "compensate"]) -> None:
        """SIGKILL this process on the first call of `step` if it is `target` (`kill_pid` only)."""
        first = sum(e.step == step and e.action == action for e in self.journal()) == 1
        if target == step and first and self.kill_pid == os.getpid():
            os.kill(os.getpid(), signal.SIGKILL)


class JournalStep(SagaStepHandler[CrashContext, int]):
    """A step that journals each call; `CrashContext` says whether it fails or kills."""

    index: ClassVar[int] = -1

    async def act(self, context: CrashContext) -> SagaStepResult[CrashContext, int]:
        failing = context.fail_act == self.index
        context.record(JournalEntry(self.index, "act", not failing, os.getpid()))
        context.kill_if_first(context.kill_act, self.index, "act")
        if failing:
            raise StepFailed(f"step {self.index} failed")
        context.acts.append(self.index)
        return self._generate_step_result(self.index)

    async def compensate(self, context: CrashContext) -> None:
        failures = sum(
            e.step == self.index and e.action == "compensate" and not e.ok
            for e in context.journal()
        )
        failing = context.fail_compensate == self.index and (
            context.compensate_failures == PERMANENT or failures < context.compensate_failures
        )
        context.record(JournalEntry(self.index, "compensate", not failing, os.getpid()))
        context.kill_if_first(context.kill_compensate, self.index, "compensate")
        if failing:
            raise CompensationFailed(f"undoing step {self.index} failed")
        context.compensated.append(self.index)


STEPS: tuple[type[JournalStep], ...] = tuple(
    cast(type[JournalStep], type(f"CrashStep{i}", (JournalStep,), {"index": i}))
    for i in range(MAX_STEPS)
)
"""The journaled steps; step `i` is `CrashStep{i}`."""


@functools.cache
def crash_saga(steps: int) -> type[Saga[CrashContext]]:
    """The saga of the first `steps` journaled steps."""
    if not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be within 1..{MAX_STEPS}")
    saga = type(f"CrashSaga{steps}", (Saga,), {"steps": STEPS[:steps]})
    return cast(type[Saga[CrashContext]], saga)


@dataclasses.dataclass(frozen=True, slots=True)
class CompensationFailure:
    """Step `step`'s compensate fails `times` times in total (`PERMANENT`: always)."""

    step: int
    times: int = PERMANENT


@dataclasses.dataclass(frozen=True, slots=True)
class CrashPoint:
    """A write index of a run, with what that write records (`act:1`, `compensate:0`...)."""

    index: int
    label: str

    def __str__(self) -> str:
        return f"{self.index}-{self.label}"


@dataclasses.dataclass(frozen=True, slots=True)
class SagaScenario:
    """A run of `crash_saga(steps)`: which act fails, which compensation fails, how retried."""

    steps: int = 4
    failing_step: int | None = None
    compensation_failure: CompensationFailure | None = None
    retries: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= MAX_STEPS:
            raise ValueError(f"steps must be within 1..{MAX_STEPS}")
        if self.failing_step is not None and not 0 <= self.failing_step < self.steps:
            raise ValueError("failing_step must be a step index")
        failure = self.compensation_failure
        if failure is not None and not (
            failure.times == PERMANENT or 0 <= failure.times <= self.retries
        ):
            raise ValueError("a transient compensation failure must fit within the retries")

    @property
    def saga(self) -> type[Saga[CrashContext]]:
        """The saga this scenario runs."""
        return crash_saga(self.steps)

    @property
    def completed_acts(self) -> list[int]:
        """The steps whose act succeeds."""
        return list(range(self.steps if self.failing_step is None else self.failing_step))

    @property
    def fails_permanently(self) -> int | None:
        """The step whose compensation never succeeds, if compensation ever reaches it."""
        failure = self.compensation_failure
        if (
            failure is None
            or failure.times != PERMANENT
            or self.failing_step is None
            or failure.step >= self.failing_step
        ):
            return None
        return failure.step

    @property
    def compensation_order(self) -> list[int]:
        """The steps compensated successfully, in order."""
        if self.failing_step is None:
            return []
        stop = self.fails_permanently
        return list(range(self.failing_step - 1, -1 if stop is None else stop, -1))

    @property
    def expected_status(self) -> SagaStatus:
        """How the saga ends, crash or not."""
        if self.failing_step is None:
            return SagaStatus.COMPLETED
        if self.fails_permanently is not None:
            return SagaStatus.FAILED
        return SagaStatus.COMPENSATED

    def expected_log(self) -> list[tuple[int, str, SagaStepStatus]]:
        """The step log (index, action, status) every run of this scenario ends with."""
        log = [(i, "act", SagaStepStatus.COMPLETED) for i in self.completed_acts]
        if self.failing_step is not None:
            log.append((self.failing_step, "act", SagaStepStatus.FAILED))
        log += [(i, "compensate", SagaStepStatus.COMPENSATED) for i in self.compensation_order]
        if self.fails_permanently is not None:
            log.append((self.fails_permanently, "compensate", SagaStepStatus.FAILED))
        return log

    def context(self, run: str, **overrides: Any) -> CrashContext:
        """A fresh context for run `run`."""
        failure = self.compensation_failure
        return CrashContext(
            run=run,
            fail_act=-1 if self.failing_step is None else self.failing_step,
            fail_compensate=-1 if failure is None else failure.step,
            compensate_failures=0 if failure is None else failure.times,
            **overrides,
        )


def crash_points(
    steps: int = 4,
    failing_step: int | None = None,
    compensation_failure: CompensationFailure | None = None,
) -> list[CrashPoint]:
    """Every write of an uninterrupted run, act path then compensate path, labelled."""
    scenario = SagaScenario(steps, failing_step, compensation_failure, retries=MAX_RETRIES)
    points = [CrashPoint(0, "create")]
    for action_index, action, status in scenario.expected_log():
        label = f"{action}:{action_index}"
        if status is SagaStepStatus.FAILED:
            label = f"{action}-failed:{action_index}"
        points.append(CrashPoint(len(points), label))
    return points


@dataclasses.dataclass
class CrashOutcome:
    """What a crashed run and its recovery left behind."""

    scenario: SagaScenario
    saga_id: uuid.UUID
    crash: str | None
    crashed: bool
    run_error: BaseException | None
    state_at_crash: SagaState | None
    journal_at_crash: int
    blocked_by_lease: bool | None
    recovered: SagaStatus | None
    final: SagaState | None
    journal: list[JournalEntry]
    writes: int = 0

    @property
    def final_status(self) -> SagaStatus | None:
        """The stored status after recovery (`None`: the saga was never created)."""
        return None if self.final is None else self.final.status

    @property
    def history(self) -> list[SagaLogEntry]:
        """The final step log."""
        return [] if self.final is None else list(self.final.history)

    @property
    def context(self) -> CrashContext | None:
        """The final stored context."""
        return None if self.final is None else CrashContext.from_dict(self.final.context)


def _mediator(storage: SagaStorage, scenario: SagaScenario, lease_seconds: float) -> SagaMediator:
    saga_map = SagaMap()
    saga_map.bind(CrashContext, scenario.saga)
    return SagaMediator(
        saga_map,
        BuiltinContainer(),
        storage=storage,
        compensation_retry_count=scenario.retries,
        compensation_retry_delay=0.0,
        compensation_retry_backoff=1.0,
        lease_seconds=lease_seconds,
    )


async def run_saga(
    storage: SagaStorage,
    scenario: SagaScenario,
    saga_id: uuid.UUID,
    *,
    lease_seconds: float = 0.2,
    **context: Any,
) -> None:
    """Run the scenario's saga through a `SagaMediator` (errors propagate)."""
    mediator = _mediator(storage, scenario, lease_seconds)
    await mediator.execute(scenario.context(str(saga_id), **context), saga_id)


async def recover_and_collect(
    storage: SagaStorage,
    scenario: SagaScenario,
    saga_id: uuid.UUID,
    *,
    crash: str | None = None,
    crashed: bool = True,
    run_error: BaseException | None = None,
    journal_file: str = "",
    lease_seconds: float = 0.2,
    expire: Callable[[float], Awaitable[None]] | None = None,
    max_polls: int = 200,
) -> CrashOutcome:
    """Recover the saga with a fresh owner once the dead run's lease is gone; report the result.

    With `expire` (a controllable clock), first checks that the lease still blocks recovery.
    Without it, polls `recover_saga` until the lease runs out in real time.
    """
    run = str(saga_id)
    state = await storage.load_saga_state(saga_id)
    journal_at_crash = len(read_journal(run, journal_file))
    policy = CompensationPolicy(scenario.retries, 0.0, 1.0)

    async def recover() -> SagaRecoveryResult:
        return await recover_saga(
            scenario.saga,
            saga_id,
            CrashContext,
            storage=storage,
            owner=f"recovery:{uuid.uuid4().hex[:8]}",
            lease_seconds=60.0,
            compensation=policy,
        )

    def ended(result: SagaRecoveryResult) -> SagaStatus | None:
        done = (SagaRecoveryOutcome.RESUMED, SagaRecoveryOutcome.TERMINAL)
        return result.status if result.outcome in done else None

    blocked: bool | None = None
    recovered: SagaStatus | None = None
    if state is not None:
        if expire is not None:
            if not state.status.terminal:
                blocked = (await recover()).outcome is SagaRecoveryOutcome.LEASED
            await expire(lease_seconds)
            recovered = ended(await recover())
        else:
            for _ in range(max_polls):
                recovered = ended(await recover())
                if recovered is not None:
                    break
                await asyncio.sleep(lease_seconds / 4)
    final = await storage.load_saga_state(saga_id)
    return CrashOutcome(
        scenario=scenario,
        saga_id=saga_id,
        crash=crash,
        crashed=crashed,
        run_error=run_error,
        state_at_crash=state,
        journal_at_crash=journal_at_crash,
        blocked_by_lease=blocked,
        recovered=recovered,
        final=final,
        journal=read_journal(run, journal_file),
    )


async def run_with_crash(
    storage_factory: Callable[[], SagaStorage | Awaitable[SagaStorage]],
    crash_at: int | None,
    when: CrashWhen = "before",
    failing_step: int | None = None,
    *,
    steps: int = 4,
    compensation_failure: CompensationFailure | None = None,
    retries: int = 2,
    lease_seconds: float = 0.2,
    expire: Callable[[float], Awaitable[None]] | None = None,
) -> CrashOutcome:
    """Run the saga, crashing at write `crash_at` (`None`: no crash), then recover it."""
    made = storage_factory()
    storage = await made if inspect.isawaitable(made) else made
    scenario = SagaScenario(steps, failing_step, compensation_failure, retries)
    crashing = CrashingStorage(storage, crash_at, when)
    points = crash_points(steps, failing_step, compensation_failure)
    label = str(points[crash_at]) if crash_at is not None and crash_at < len(points) else crash_at
    saga_id = uuid.uuid4()
    run_error: BaseException | None = None
    try:
        await run_saga(crashing, scenario, saga_id, lease_seconds=lease_seconds)
    except SimulatedCrash:
        pass
    except Exception as exc:
        run_error = exc
    try:
        outcome = await recover_and_collect(
            storage,
            scenario,
            saga_id,
            crash=None if crash_at is None else f"crash {when} write {label}",
            crashed=crashing.crashed,
            run_error=run_error,
            lease_seconds=lease_seconds,
            expire=expire,
        )
    finally:
        _JOURNALS.pop(str(saga_id), None)
    outcome.writes = crashing.writes
    return outcome


def _collapse(items: Sequence[int]) -> list[int]:
    """`items` without consecutive repeats (a step re-run right after a crash counts once)."""
    return [item for i, item in enumerate(items) if i == 0 or items[i - 1] != item]


def _in_flight(outcome: CrashOutcome) -> tuple[int | None, int | None]:
    """The act and the compensation that may have run unrecorded when the run died."""
    state = outcome.state_at_crash
    if state is None or not outcome.crashed:
        return None, None
    done = [
        e.step_index
        for e in state.history
        if e.action == "act" and e.status is SagaStepStatus.COMPLETED
    ]
    undone = {
        e.step_index
        for e in state.history
        if e.action == "compensate" and e.status is SagaStepStatus.COMPENSATED
    }
    if state.status is SagaStatus.RUNNING:
        return len(done), None
    if state.status is SagaStatus.COMPENSATING:
        pending = [i for i in reversed(done) if i not in undone]
        return None, pending[0] if pending else None
    return None, None


def check_invariants(outcome: CrashOutcome) -> None:
    """Assert what must hold after any crash and recovery; the message says what broke."""
    scenario = outcome.scenario
    journal = outcome.journal
    where = f"[{outcome.crash or 'no crash'}]"

    if outcome.final is None:
        assert outcome.crashed, f"{where} the saga was never stored, yet nothing crashed"
        assert journal == [], f"{where} steps ran for a saga that was never stored: {journal}"
        return

    status = scenario.expected_status
    assert outcome.final_status is status, f"{where} ended {outcome.final_status}, not {status}"
    assert outcome.recovered is status, f"{where} recover_saga returned {outcome.recovered}"
    assert outcome.final.lease_owner is None, f"{where} a terminal saga still has a lease"
    assert outcome.blocked_by_lease is not False, f"{where} recovery ignored the live lease"
    if not outcome.crashed:
        expected_error: type[BaseException] | None = {
            SagaStatus.COMPLETED: None,
            SagaStatus.COMPENSATED: StepFailed,
            SagaStatus.FAILED: SagaCompensationError,
        }[status]
        error = outcome.run_error
        assert (type(error) if error else None) is expected_error, f"{where} raised {error!r}"

    log = [(e.step_index, e.action, e.status) for e in outcome.history]
    assert log == scenario.expected_log(), f"{where} step log {log}"
    if scenario.fails_permanently is not None:
        details = outcome.history[-1].details or ""
        assert "CompensationFailed" in details, f"{where} FAILED without a reason: {details!r}"

    act_flight, compensation_flight = _in_flight(outcome)
    acts = [e.step for e in journal if e.action == "act"]
    reached = [*scenario.completed_acts]
    if scenario.failing_step is not None:
        reached.append(scenario.failing_step)
    assert _collapse(acts) == reached, f"{where} acts ran as {acts}, expected {reached}"
    for step in reached:
        count = acts.count(step)
        assert count == 1 or (count == 2 and step == act_flight), (
            f"{where} step {step} acted {count} times (in flight at the crash: {act_flight})"
        )
    if outcome.state_at_crash is not None:
        done_at_crash = {
            e.step_index
            for e in outcome.state_at_crash.history
            if e.action == "act" and e.status is SagaStepStatus.COMPLETED
        }
        again = [
            e.step
            for e in journal[outcome.journal_at_crash :]
            if e.action == "act" and e.step in done_at_crash
        ]
        assert not again, f"{where} steps {again} acted again after their act was logged"

    last_act = max((i for i, e in enumerate(journal) if e.action == "act"), default=-1)
    early = [e for e in journal[:last_act] if e.action == "compensate"]
    assert not early, f"{where} compensation ran before the failing act: {journal}"
    undone = [e.step for e in journal if e.action == "compensate" and e.ok]
    order = scenario.compensation_order
    assert _collapse(undone) == order, f"{where} compensated {undone}, expected {order}"
    for step in order:
        count = undone.count(step)
        assert count == 1 or (count == 2 and step == compensation_flight), (
            f"{where} step {step} compensated {count} times (in flight: {compensation_flight})"
        )
    touched = {e.step for e in journal if e.action == "compensate"}
    allowed = set(order)
    if scenario.fails_permanently is not None:
        allowed.add(scenario.fails_permanently)
    assert touched <= allowed, f"{where} compensate ran for steps {touched - allowed}"
    failure = scenario.compensation_failure
    if failure is not None and failure.step in allowed:
        failed = sum(e.step == failure.step and not e.ok for e in journal)
        if failure.times == PERMANENT:
            assert failed >= scenario.retries + 1, f"{where} gave up after {failed} attempts"
        else:
            assert failed == failure.times, f"{where} compensation failed {failed} times"

    context = outcome.context
    assert context is not None
    assert context.acts == scenario.completed_acts, f"{where} context acts {context.acts}"
    assert context.compensated == order, f"{where} context compensated {context.compensated}"
