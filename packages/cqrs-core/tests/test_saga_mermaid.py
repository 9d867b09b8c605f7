"""Mermaid diagrams of sagas: acts in order, compensation in reverse, fallbacks, class members."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Generic, TypeVar

import pytest

import cqrs
from cqrs.saga import Fallback, Saga, SagaContext, SagaStepHandler, SagaStepResult
from cqrs.saga.mermaid import SagaMermaid


@dataclasses.dataclass
class OrderContext(SagaContext):
    order_id: str
    items: list[str]
    reservation_id: str | None = None


class Reserved(cqrs.Response):
    reservation_id: str


class Paid(cqrs.Response):
    payment_id: str


class ReserveInventoryStep(SagaStepHandler[OrderContext, Reserved]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, Reserved]:
        return self._generate_step_result(Reserved(reservation_id="r"))


class ChargeCardStep(SagaStepHandler[OrderContext, Paid]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, Paid]:
        return self._generate_step_result(Paid(payment_id="card"))

    async def compensate(self, context: OrderContext) -> None:
        return None


class InvoiceLaterStep(SagaStepHandler[OrderContext, Paid]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, Paid]:
        return self._generate_step_result(Paid(payment_id="invoice"))


ResT = TypeVar("ResT")


class AuditedStep(SagaStepHandler[OrderContext, ResT], Generic[ResT]):
    """A generic intermediate base: subclasses name only the response."""


class ShipStep(AuditedStep[list[str]]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, list[str]]:
        return self._generate_step_result(["parcel"])


class NotifyStep(SagaStepHandler[OrderContext, None]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, None]:
        return self._generate_step_result(None)


class UntypedStep(SagaStepHandler):  # type: ignore[type-arg]
    async def act(self, context: Any) -> Any:
        return None


class OrderSaga(Saga[OrderContext]):
    steps = (
        ReserveInventoryStep,
        Fallback(
            step=ChargeCardStep,
            fallback=InvoiceLaterStep,
            circuit_breaker=cqrs.MemoryCircuitBreaker(failure_threshold=2),
        ),
        ShipStep,
    )


class PlainSaga(Saga[OrderContext]):
    steps = (ReserveInventoryStep, ChargeCardStep, NotifyStep)


class PickyFallbackSaga(Saga[OrderContext]):
    steps = (
        Fallback(
            step=ChargeCardStep,
            fallback=InvoiceLaterStep,
            failure_exceptions=(TimeoutError, ConnectionError),
        ),
    )


class UntypedSaga(Saga):  # type: ignore[type-arg]
    steps = (UntypedStep,)


ContextT = TypeVar("ContextT")


class OpenSaga(Saga[ContextT], Generic[ContextT]):
    """Names no context itself: the diagram takes it from the steps."""


class InheritedContextSaga(OpenSaga[Any]):
    steps = (ReserveInventoryStep,)


SEQUENCE_LINE = re.compile(
    r"(participant \w+( as [^;#\n]+)?"
    r"|\w+(->>|-->>|--x)\w+: [^;\n]+"
    r"|alt [^;\n]+|else [^;\n]+|end"
    r"|Note over \w+: [^;\n]+)"
)
CLASS_LINE = re.compile(
    r"(class \w+(\[\"[^\"]+\"\])? \{"
    r"|\}"
    r"|<<\w+>>"
    r"|\+\w+\(\w+: [\w~ ,|]+\) [\w~ ,|]+"
    r"|\+\w+: [\w~ ,|]+"
    r"|\w+ (-->|\.\.>) \w+ : [\w ]+)"
)


def sequence_lines(diagram: str) -> list[str]:
    head, *body = diagram.strip().splitlines()
    assert head == "sequenceDiagram"
    return [line.strip() for line in body]


def class_lines(diagram: str) -> list[str]:
    head, *body = diagram.strip().splitlines()
    assert head == "classDiagram"
    return [line.strip() for line in body]


def class_block(lines: list[str], name: str) -> list[str]:
    start = next(i for i, line in enumerate(lines) if re.match(rf"class {name}\b.*\{{$", line))
    return lines[start + 1 : lines.index("}", start)]


def calls(lines: list[str]) -> list[tuple[str, str, str]]:
    """Every `->>` message as (sender, receiver, text)."""
    found = []
    for line in lines:
        match = re.fullmatch(r"(\w+)->>(\w+): (.+)", line)
        if match:
            found.append((match[1], match[2], match[3]))
    return found


def blocks(lines: list[str], head: str) -> list[list[str]]:
    """The lines of each top-level `alt` block whose opening line is `head` (nested kept)."""
    found = []
    for start, line in enumerate(lines):
        if line != head:
            continue
        depth, end = 0, start
        for end in range(start, len(lines)):
            if lines[end].startswith("alt "):
                depth += 1
            elif lines[end] == "end":
                depth -= 1
                if depth == 0:
                    break
        found.append(lines[start : end + 1])
    return found


def branch(block: list[str], start: str, stop: str) -> list[str]:
    return block[block.index(start) + 1 : block.index(stop)]


# --- sequence diagram -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "saga", [OrderSaga, PlainSaga, PickyFallbackSaga, UntypedSaga, InheritedContextSaga]
)
def test_sequence_is_well_formed(saga: type[Saga[Any]]) -> None:
    lines = sequence_lines(SagaMermaid(saga).sequence())
    depth = 0
    for line in lines:
        assert SEQUENCE_LINE.fullmatch(line), line
        if line.startswith("alt "):
            depth += 1
        elif line.startswith("else "):
            assert depth > 0, line
        elif line == "end":
            depth -= 1
            assert depth >= 0
    assert depth == 0


def test_participants_are_mediator_saga_then_step_classes_in_order() -> None:
    lines = sequence_lines(SagaMermaid(OrderSaga).sequence())
    assert [line for line in lines if line.startswith("participant ")] == [
        "participant Mediator",
        "participant Saga as OrderSaga",
        "participant S1 as ReserveInventoryStep",
        "participant S2 as ChargeCardStep",
        "participant S3 as InvoiceLaterStep",
        "participant S4 as ShipStep",
    ]


def test_acts_run_in_order_and_each_result_goes_back_to_the_mediator() -> None:
    lines = sequence_lines(SagaMermaid(PlainSaga).sequence())
    assert [call for call in calls(lines) if "compensate" not in call[2]] == [
        ("Mediator", "Saga", "stream(OrderContext)"),
        ("Saga", "S1", "act(OrderContext)"),
        ("Saga", "S2", "act(OrderContext)"),
        ("Saga", "S3", "act(OrderContext)"),
    ]
    assert lines.index("Mediator->>Saga: stream(OrderContext)") < lines.index(
        "Saga->>S1: act(OrderContext)"
    )
    results = [line for line in lines if line.startswith("Saga-->>Mediator: ")]
    assert results == [
        "Saga-->>Mediator: SagaStepResult(Reserved)",
        "Saga-->>Mediator: SagaStepResult(Paid)",
        "Saga-->>Mediator: SagaStepResult(None)",
    ]
    assert lines[-1] == "Note over Saga: saga COMPLETED"


def test_each_step_has_a_failure_alternative_that_compensates_earlier_steps_in_reverse() -> None:
    lines = sequence_lines(SagaMermaid(PlainSaga).sequence())
    heads = [line for line in lines if line.startswith(("alt ", "else "))]
    assert heads == [
        "alt ReserveInventoryStep fails",
        "else ReserveInventoryStep completes",
        "alt ChargeCardStep fails",
        "else ChargeCardStep completes",
        "alt NotifyStep fails",
        "else NotifyStep completes",
    ]
    expected = {
        "ReserveInventoryStep": [],
        "ChargeCardStep": ["S1"],
        "NotifyStep": ["S2", "S1"],
    }
    for name, compensated in expected.items():
        (block,) = blocks(lines, f"alt {name} fails")
        failure = branch(block, f"alt {name} fails", f"else {name} completes")
        assert [dst for _, dst, msg in calls(failure) if msg == "compensate(OrderContext)"] == (
            compensated
        )
        assert failure[-1] == "Saga--xMediator: step error re-raised (saga COMPENSATED)"
        if not compensated:
            assert "Note over Saga: nothing to compensate" in failure
        success = branch(block, f"else {name} completes", "end")
        assert not calls(success), "a completed step compensates nothing"


def test_a_failing_step_reports_its_error_to_the_saga() -> None:
    lines = sequence_lines(SagaMermaid(PlainSaga).sequence())
    (block,) = blocks(lines, "alt ChargeCardStep fails")
    assert block[1] == "S2--xSaga: error"
    assert "S2-->>Saga: Paid" in branch(block, "else ChargeCardStep completes", "end")


def test_fallback_is_an_alternative_when_the_primary_fails_or_its_circuit_is_open() -> None:
    lines = sequence_lines(SagaMermaid(OrderSaga).sequence())
    (block,) = blocks(lines, "alt ChargeCardStep acts")
    assert block == [
        "alt ChargeCardStep acts",
        "Saga->>S2: act(OrderContext)",
        "S2-->>Saga: Paid",
        "else ChargeCardStep fails or its circuit is open",
        "Saga->>S3: act(OrderContext)",
        "S3-->>Saga: Paid",
        "end",
    ]
    # The primary is only called inside its alternative, never unconditionally.
    assert "Saga->>S2: act(OrderContext)" not in [line for line in lines if line not in block]
    heads = [line for line in lines if line.startswith("alt ")]
    assert heads.index("alt ChargeCardStep acts") < heads.index(
        "alt ChargeCardStep/InvoiceLaterStep fails"
    )


def test_fallback_label_names_the_failure_exceptions_without_a_breaker() -> None:
    lines = sequence_lines(SagaMermaid(PickyFallbackSaga).sequence())
    assert "else ChargeCardStep fails with TimeoutError or ConnectionError" in lines
    assert not any("circuit" in line for line in lines)


def test_compensating_a_fallback_position_compensates_whichever_step_ran() -> None:
    lines = sequence_lines(SagaMermaid(OrderSaga).sequence())
    (block,) = blocks(lines, "alt ShipStep fails")
    failure = branch(block, "alt ShipStep fails", "else ShipStep completes")
    assert failure == [
        "S4--xSaga: error",
        "alt ChargeCardStep ran",
        "Saga->>S2: compensate(OrderContext)",
        "else InvoiceLaterStep ran",
        "Saga->>S3: compensate(OrderContext)",
        "end",
        "Saga->>S1: compensate(OrderContext)",
        "Saga--xMediator: step error re-raised (saga COMPENSATED)",
    ]


def test_sequence_types_come_through_generic_intermediate_bases() -> None:
    lines = sequence_lines(SagaMermaid(OrderSaga).sequence())
    assert "S4-->>Saga: list[str]" in lines
    assert "Saga-->>Mediator: SagaStepResult(list[str])" in lines


def test_untyped_saga_shows_any() -> None:
    lines = sequence_lines(SagaMermaid(UntypedSaga).sequence())
    assert "Saga->>S1: act(Any)" in lines
    assert "S1-->>Saga: Any" in lines


def test_context_falls_back_to_the_steps_context() -> None:
    lines = sequence_lines(SagaMermaid(InheritedContextSaga).sequence())
    assert "Mediator->>Saga: stream(OrderContext)" in lines


def test_an_instance_draws_like_its_class() -> None:
    assert SagaMermaid(OrderSaga()).sequence() == SagaMermaid(OrderSaga).sequence()
    assert SagaMermaid(OrderSaga()).class_diagram() == SagaMermaid(OrderSaga).class_diagram()


# --- class diagram --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "saga", [OrderSaga, PlainSaga, PickyFallbackSaga, UntypedSaga, InheritedContextSaga]
)
def test_class_diagram_is_well_formed(saga: type[Saga[Any]]) -> None:
    lines = class_lines(SagaMermaid(saga).class_diagram())
    for line in lines:
        assert CLASS_LINE.fullmatch(line), line
    assert sum(line.endswith("{") for line in lines) == lines.count("}")
    assert not any("[" in line for line in lines if " : " in line)


def test_class_diagram_declares_saga_and_context_with_its_fields() -> None:
    lines = class_lines(SagaMermaid(OrderSaga).class_diagram())
    assert class_block(lines, "OrderSaga") == ["<<saga>>"]
    assert class_block(lines, "OrderContext") == [
        "<<context>>",
        "+order_id: str",
        "+items: list~str~",
        "+reservation_id: str | None",
    ]
    assert "OrderSaga ..> OrderContext : context" in lines


def test_class_diagram_declares_steps_with_act_and_compensate() -> None:
    lines = class_lines(SagaMermaid(OrderSaga).class_diagram())
    assert class_block(lines, "ReserveInventoryStep") == [
        "<<step>>",
        "+act(context: OrderContext) Reserved",
        "+compensate(context: OrderContext) None",
    ]
    assert class_block(lines, "InvoiceLaterStep") == [
        "<<fallback>>",
        "+act(context: OrderContext) Paid",
        "+compensate(context: OrderContext) None",
    ]
    assert class_block(lines, "ShipStep")[1] == "+act(context: OrderContext) list~str~"


def test_class_diagram_links_steps_in_order_and_fallbacks() -> None:
    lines = class_lines(SagaMermaid(OrderSaga).class_diagram())
    assert [line for line in lines if " --> " in line] == [
        "OrderSaga --> ReserveInventoryStep : step 1",
        "OrderSaga --> ChargeCardStep : step 2",
        "OrderSaga --> ShipStep : step 3",
    ]
    assert "ChargeCardStep ..> InvoiceLaterStep : fallback with circuit breaker" in lines
    picky = class_lines(SagaMermaid(PickyFallbackSaga).class_diagram())
    assert "ChargeCardStep ..> InvoiceLaterStep : fallback" in picky


def test_class_diagram_declares_response_types_once_with_their_fields() -> None:
    lines = class_lines(SagaMermaid(OrderSaga).class_diagram())
    assert class_block(lines, "Reserved") == ["<<response>>", "+reservation_id: str"]
    assert class_block(lines, "Paid") == ["<<response>>", "+payment_id: str"]
    assert sum(line.startswith("class Paid ") for line in lines) == 1
    returns = [line for line in lines if line.endswith(": returns")]
    assert returns == [
        "ReserveInventoryStep ..> Reserved : returns",
        "ChargeCardStep ..> Paid : returns",
        "InvoiceLaterStep ..> Paid : returns",
    ]


def test_none_and_any_responses_get_no_box() -> None:
    plain = class_lines(SagaMermaid(PlainSaga).class_diagram())
    assert class_block(plain, "NotifyStep")[1] == "+act(context: OrderContext) None"
    assert not any(line.startswith("class None") for line in plain)
    untyped = class_lines(SagaMermaid(UntypedSaga).class_diagram())
    assert class_block(untyped, "UntypedStep") == [
        "<<step>>",
        "+act(context: Any) Any",
        "+compensate(context: Any) None",
    ]
    assert not any(line.startswith("class Any") for line in untyped)
    assert not any("..>" in line for line in untyped)


def test_same_named_steps_get_distinct_ids() -> None:
    def make() -> type[SagaStepHandler[OrderContext, Reserved]]:
        class ReserveInventoryStep(SagaStepHandler[OrderContext, Reserved]):
            async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, Reserved]:
                return self._generate_step_result(Reserved(reservation_id="x"))

        return ReserveInventoryStep

    class TwinSaga(Saga[OrderContext]):
        steps = (globals()["ReserveInventoryStep"], make())

    lines = class_lines(SagaMermaid(TwinSaga).class_diagram())
    assert 'class ReserveInventoryStep_2["ReserveInventoryStep"] {' in lines
    assert "TwinSaga --> ReserveInventoryStep_2 : step 2" in lines


@pytest.mark.parametrize(
    ("saga", "error"),
    [
        (OrderContext, TypeError),
        ("OrderSaga", TypeError),
        (ReserveInventoryStep, TypeError),
        (Saga, ValueError),
    ],
)
def test_rejects_what_is_not_a_saga_with_steps(saga: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        SagaMermaid(saga)
