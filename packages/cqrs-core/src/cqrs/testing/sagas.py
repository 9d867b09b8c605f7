"""Driving a saga one step at a time, and making a chosen step fail to see the compensation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Literal

from cqrs.interception.interceptor import Interceptor, SagaStepCall
from cqrs.saga.mediator import SagaMediator
from cqrs.saga.models import SagaLogEntry, SagaState, SagaStatus
from cqrs.saga.step import SagaStepResult

__all__ = ["SagaRun", "StepFailures"]


class StepFailures(Interceptor):
    """An interceptor that raises a chosen error when a chosen saga step acts or compensates.

    The real step never runs when its failure is injected, so a test needs no special step
    class: `failures.fail(ChargeCard, ConnectionError("card service down"))`.
    """

    def __init__(self) -> None:
        self._planned: dict[tuple[str, str], list[BaseException]] = {}
        self.calls: list[tuple[str, str]] = []
        """Every `(step name, action)` that ran or was failed, in order."""

    def fail(
        self,
        step: type | str,
        error: BaseException | None = None,
        *,
        action: Literal["act", "compensate"] = "act",
        times: int = 1,
    ) -> None:
        """Make the next `times` runs of `step`'s `action` raise `error` (a `RuntimeError`
        naming the step by default)."""
        name = step if isinstance(step, str) else str(step.__qualname__)
        error = error or RuntimeError(f"injected failure of {name}.{action}")
        self._planned.setdefault((name, action), []).extend([error] * times)

    async def intercept_saga_step(
        self, step: SagaStepCall, proceed: Callable[[], Awaitable[Any]]
    ) -> Any:
        self.calls.append((step.step_name, step.action))
        planned = self._planned.get((step.step_name, step.action))
        if planned:
            raise planned.pop(0)
        return await proceed()


class SagaRun:
    """One saga run a test advances step by step: `await run.step()` executes the next step.

    Between steps the test can look at the persisted state (`await run.state()`), move a
    `ManualClock`, or plan a failure. A failing step compensates the completed ones (as in
    production) and its error comes out of `step()`.
    """

    def __init__(
        self, mediator: SagaMediator, context: Any, saga_id: uuid.UUID | None = None
    ) -> None:
        self.mediator = mediator
        self.context = context
        self.saga_id = saga_id or uuid.uuid4()
        self.results: list[SagaStepResult[Any, Any]] = []
        self._stream: AsyncGenerator[SagaStepResult[Any, Any], None] = mediator.stream(
            context, self.saga_id
        )
        self.finished = False

    async def step(self) -> SagaStepResult[Any, Any] | None:
        """Run the next step and return its result, or `None` when the saga had no step left."""
        if self.finished:
            return None
        try:
            result = await anext(self._stream)
        except StopAsyncIteration:
            self.finished = True
            return None
        except BaseException:
            self.finished = True
            raise
        self.results.append(result)
        return result

    async def run_to_end(self) -> list[SagaStepResult[Any, Any]]:
        """Run the remaining steps; return every step result of the run."""
        while await self.step() is not None:
            pass
        return self.results

    async def stop(self) -> None:
        """Abandon the run here (as a crash or cancellation would): the saga's lease is released
        so `mediator.recover(run.saga_id)` can resume it."""
        self.finished = True
        await self._stream.aclose()

    async def state(self) -> SagaState:
        """The saga's persisted state, with its step log."""
        state = await self.mediator.storage.load_saga_state(self.saga_id)
        if state is None:
            raise LookupError(f"saga {self.saga_id} was not created yet (run a step first)")
        return state

    async def status(self) -> SagaStatus:
        """The saga's persisted status."""
        return (await self.state()).status

    async def history(self) -> list[tuple[str, str, str]]:
        """The step log as `(step name, action, status)` triples, in order."""
        entries: list[SagaLogEntry] = await self.mediator.storage.get_step_history(self.saga_id)
        return [(e.step_name, str(e.action), str(e.status)) for e in entries]
