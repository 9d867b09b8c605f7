"""Mermaid diagrams of a saga, for documentation.

Example::

    diagrams = SagaMermaid(OrderSaga)  # the class or an instance
    print(diagrams.sequence())  # acts in order, compensation on failure, fallbacks
    print(diagrams.class_diagram())  # saga, context, steps, responses, fallback links
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from cqrs._mermaid import (
    INDENT,
    UNKNOWN,
    Ids,
    field_lines,
    generic_args,
    is_class,
    member_name,
    plain_name,
    text,
)
from cqrs.saga.fallback import Fallback
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler

__all__ = ["SagaMermaid"]

_StepType = type[SagaStepHandler[Any, Any]]


@dataclasses.dataclass(frozen=True)
class _Position:
    """One entry of `Saga.steps`, with the participant aliases of its step classes."""

    number: int
    step: _StepType
    alias: str
    fallback: Fallback | None = None
    fallback_alias: str = ""

    @property
    def label(self) -> str:
        if self.fallback is None:
            return text(self.step.__name__)
        return f"{text(self.step.__name__)}/{text(self.fallback.fallback.__name__)}"

    def classes(self) -> list[tuple[_StepType, str]]:
        """The step classes that may run here, with their aliases (primary first)."""
        found = [(self.step, self.alias)]
        if self.fallback is not None:
            found.append((self.fallback.fallback, self.fallback_alias))
        return found


class SagaMermaid:
    """Renders a saga's steps as Mermaid sequence and class diagrams.

    The context type comes from the saga's `Saga[Context]` base (else from its steps), and each
    step's response type from its `SagaStepHandler[Context, Response]` base, also through
    intermediate generic classes; a type that cannot be resolved shows as `Any`.
    """

    def __init__(self, saga: Saga[Any] | type[Saga[Any]]) -> None:
        saga_type = saga if isinstance(saga, type) else type(saga)
        if not issubclass(saga_type, Saga):
            raise TypeError(f"SagaMermaid needs a Saga subclass or instance, got {saga!r}")
        if not saga_type.steps:
            raise ValueError(f"{saga_type.__qualname__} has no steps to draw")
        self.saga_type = saga_type
        self._positions: list[_Position] = []
        alias = 0
        for number, step in enumerate(saga_type.steps, start=1):
            alias += 1
            if isinstance(step, Fallback):
                self._positions.append(
                    _Position(number, step.step, f"S{alias}", step, f"S{alias + 1}")
                )
                alias += 1
            else:
                self._positions.append(_Position(number, step, f"S{alias}"))
        self.context = _context_type(saga_type, [p.step for p in self._positions])

    # --- sequence diagram --------------------------------------------------------------------

    def sequence(self) -> str:
        """A `sequenceDiagram`: acts in order; on a failure, earlier steps compensate in reverse."""
        context = text(plain_name(self.context))
        lines = [
            "sequenceDiagram",
            f"{INDENT}participant Mediator",
            f"{INDENT}participant Saga as {text(self.saga_type.__name__)}",
        ]
        for position in self._positions:
            for step, alias in position.classes():
                lines.append(f"{INDENT}participant {alias} as {text(step.__name__)}")
        lines.append(f"{INDENT}Mediator->>Saga: stream({context})")
        lines.append(f"{INDENT}Note over Saga: each transition is stored with a step log entry")
        for index, position in enumerate(self._positions):
            lines.extend(self._act_lines(position, context))
            lines.extend(self._outcome_lines(index, position, context))
        lines.append(f"{INDENT}Note over Saga: saga COMPLETED")
        return "\n".join(lines) + "\n"

    def _act_lines(self, position: _Position, context: str) -> list[str]:
        fallback = position.fallback
        if fallback is None:
            return [f"{INDENT}Saga->>{position.alias}: act({context})"]
        primary = text(position.step.__name__)
        reason = f"{primary} fails"
        if fallback.failure_exceptions:
            names = " or ".join(text(exc.__name__) for exc in fallback.failure_exceptions)
            reason = f"{reason} with {names}"
        if fallback.circuit_breaker is not None:
            reason = f"{reason} or its circuit is open"
        pad = INDENT * 2
        return [
            f"{INDENT}alt {primary} acts",
            f"{pad}Saga->>{position.alias}: act({context})",
            f"{pad}{position.alias}-->>Saga: {_response_text(position.step)}",
            f"{INDENT}else {reason}",
            f"{pad}Saga->>{position.fallback_alias}: act({context})",
            f"{pad}{position.fallback_alias}-->>Saga: {_response_text(fallback.fallback)}",
            f"{INDENT}end",
        ]

    def _outcome_lines(self, index: int, position: _Position, context: str) -> list[str]:
        pad = INDENT * 2
        lines = [f"{INDENT}alt {position.label} fails"]
        if position.fallback is None:
            lines.append(f"{pad}{position.alias}--xSaga: error")
        done = self._positions[:index]
        for earlier in reversed(done):
            lines.extend(_compensation_lines(earlier, context))
        if not done:
            lines.append(f"{pad}Note over Saga: nothing to compensate")
        lines.append(f"{pad}Saga--xMediator: step error re-raised (saga COMPENSATED)")
        lines.append(f"{INDENT}else {position.label} completes")
        if position.fallback is None:
            lines.append(f"{pad}{position.alias}-->>Saga: {_response_text(position.step)}")
        response = " | ".join(dict.fromkeys(_response_text(step) for step, _ in position.classes()))
        lines.append(f"{pad}Saga-->>Mediator: SagaStepResult({response})")
        lines.append(f"{INDENT}end")
        return lines

    # --- class diagram -----------------------------------------------------------------------

    def class_diagram(self) -> str:
        """A `classDiagram`: saga, context fields, steps (act/compensate), responses, fallbacks."""
        ids = Ids()
        lines = ["classDiagram"]
        declared: set[type] = set()

        def declare(tp: type, role: str, members: list[str]) -> None:
            if tp in declared:
                return
            declared.add(tp)
            lines.append(f"{INDENT}class {ids.declare(tp)} {{")
            lines.append(f"{INDENT * 2}<<{role}>>")
            lines.extend(f"{INDENT * 2}{member}" for member in members)
            lines.append(f"{INDENT}}}")

        declare(self.saga_type, "saga", [])
        if is_class(self.context):
            declare(self.context, "context", field_lines(self.context))
        responses: dict[type, None] = {}
        for position in self._positions:
            for step, _ in position.classes():
                role = "step" if step is position.step else "fallback"
                step_context, response = _step_types(step)
                context = member_name(step_context if _known(step_context) else self.context)
                declare(
                    step,
                    role,
                    [
                        f"+act(context: {context}) {member_name(response)}",
                        f"+compensate(context: {context}) None",
                    ],
                )
                if is_class(response):
                    responses[response] = None
        for response in responses:
            declare(response, "response", field_lines(response))
        saga_id = ids.of(self.saga_type)
        if is_class(self.context):
            lines.append(f"{INDENT}{saga_id} ..> {ids.of(self.context)} : context")
        for position in self._positions:
            lines.append(f"{INDENT}{saga_id} --> {ids.of(position.step)} : step {position.number}")
            fallback = position.fallback
            if fallback is not None:
                label = "fallback"
                if fallback.circuit_breaker is not None:
                    label = "fallback with circuit breaker"
                lines.append(
                    f"{INDENT}{ids.of(position.step)} ..> {ids.of(fallback.fallback)} : {label}"
                )
        returns: dict[tuple[str, str], None] = {}
        for position in self._positions:
            for step, _ in position.classes():
                response = _step_types(step)[1]
                if is_class(response):
                    returns[(ids.of(step), ids.of(response))] = None
        for step_id, response_id in returns:
            lines.append(f"{INDENT}{step_id} ..> {response_id} : returns")
        return "\n".join(lines) + "\n"


def _compensation_lines(position: _Position, context: str) -> list[str]:
    pad = INDENT * 2
    if position.fallback is None:
        return [f"{pad}Saga->>{position.alias}: compensate({context})"]
    primary = text(position.step.__name__)
    fallback = text(position.fallback.fallback.__name__)
    return [
        f"{pad}alt {primary} ran",
        f"{pad}{INDENT}Saga->>{position.alias}: compensate({context})",
        f"{pad}else {fallback} ran",
        f"{pad}{INDENT}Saga->>{position.fallback_alias}: compensate({context})",
        f"{pad}end",
    ]


def _step_types(step: type) -> tuple[Any, Any]:
    """The `(Context, Response)` a step gives `SagaStepHandler`, `Any` where unknown."""
    found = generic_args(step, SagaStepHandler)
    if found is None or len(found) != 2:
        return UNKNOWN, UNKNOWN
    return found[0], found[1]


def _response_text(step: type) -> str:
    return text(plain_name(_step_types(step)[1]))


def _known(tp: Any) -> bool:
    return tp is not UNKNOWN and tp is not Any and not isinstance(tp, TypeVar)


def _context_type(saga_type: type, steps: list[_StepType]) -> Any:
    """The saga's context type: its `Saga[Context]` argument, else the first step's context."""
    found = generic_args(saga_type, Saga)
    if found and _known(found[0]):
        return found[0]
    for step in steps:
        context = _step_types(step)[0]
        if _known(context):
            return context
    return found[0] if found else UNKNOWN
