"""Mermaid diagrams of handler chains: participants, arrows, classes, request and response types."""

from __future__ import annotations

import re
from typing import Any, Generic, TypeVar

import pytest

import cqrs
from cqrs.requests.mermaid import CoRMermaid


class Pay(cqrs.Request):
    method: str


class Paid(cqrs.Response):
    by: str


class Receipt(cqrs.Response):
    number: int


class CardHandler(cqrs.CORRequestHandler[Pay, Paid]):
    async def handle(self, request: Pay) -> Paid | None:
        return await self.next(request)


class PayPalHandler(cqrs.CORRequestHandler[Pay, Paid]):
    async def handle(self, request: Pay) -> Paid | None:
        return await self.next(request)


class DefaultHandler(CardHandler):
    """Inherits its types from `CardHandler` rather than naming them itself."""


ReqT = TypeVar("ReqT")


class LoggingLink(cqrs.CORRequestHandler[ReqT, Receipt], Generic[ReqT]):
    async def handle(self, request: ReqT) -> Receipt | None:
        return await self.next(request)


class PayLogger(LoggingLink[Pay]):
    """Gets its request type through a generic intermediate base."""


class PaymentAnnounced(cqrs.Response):
    amount: int


class AnnouncementLink(
    cqrs.CORRequestHandler[cqrs.NotificationEvent[PaymentAnnounced], list[Paid]]
):
    async def handle(self, request: cqrs.NotificationEvent[PaymentAnnounced]) -> list[Paid] | None:
        return await self.next(request)


class UntypedLink(cqrs.CORRequestHandler):  # type: ignore[type-arg]
    async def handle(self, request: Any) -> Any:
        return None


CHAIN = [CardHandler, PayPalHandler, DefaultHandler]

# Statement shapes allowed in the generated diagrams (a small subset of Mermaid's grammar).
SEQUENCE_LINE = re.compile(
    r"(participant \w+( as [^;#\n]+)?"
    r"|\w+(->>|-->>)\w+: [^;\n]+"
    r"|alt [^;\n]+|else [^;\n]+|end"
    r"|Note over \w+: [^;\n]+)"
)
CLASS_LINE = re.compile(
    r"(class \w+(\[\"[^\"]+\"\])? \{"
    r"|\}"
    r"|[+-]\w+\(\w+: [\w~ ,|]+\) [\w~ ,|]+"
    r"|[+-]\w+: [\w~ ,|]+"
    r"|<<\w+>>"
    r"|\w+ (-->|\.\.>) \w+ : \w+)"
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
    """The member lines of class `name`'s `{ ... }` block."""
    start = next(i for i, line in enumerate(lines) if re.match(rf"class {name}\b.*\{{$", line))
    end = lines.index("}", start)
    return lines[start + 1 : end]


def arrows(lines: list[str]) -> list[tuple[str, str, str, str]]:
    """Every message as (sender, arrow, receiver, text)."""
    found = []
    for line in lines:
        match = re.fullmatch(r"(\w+)(->>|-->>)(\w+): (.+)", line)
        if match:
            found.append((match[1], match[2], match[3], match[4]))
    return found


# --- sequence diagram -----------------------------------------------------------------------


def test_sequence_is_well_formed() -> None:
    lines = sequence_lines(CoRMermaid(CHAIN).sequence())
    for line in lines:
        assert SEQUENCE_LINE.fullmatch(line), line
    depth = 0
    for line in lines:
        if line.startswith("alt "):
            depth += 1
        elif line == "end":
            depth -= 1
            assert depth >= 0
    assert depth == 0


def test_sequence_declares_client_then_handlers_in_chain_order() -> None:
    lines = sequence_lines(CoRMermaid(CHAIN).sequence())
    participants = [line for line in lines if line.startswith("participant ")]
    assert participants == [
        "participant Client",
        "participant H1 as CardHandler",
        "participant H2 as PayPalHandler",
        "participant H3 as DefaultHandler",
    ]


def test_sequence_passes_the_request_down_the_chain() -> None:
    messages = arrows(sequence_lines(CoRMermaid(CHAIN).sequence()))
    calls = [(src, dst, text) for src, arrow, dst, text in messages if arrow == "->>"]
    assert calls == [
        ("Client", "H1", "handle(Pay)"),
        ("H1", "H2", "next(Pay)"),
        ("H2", "H3", "next(Pay)"),
    ]


def test_each_link_but_the_last_either_handles_or_passes_on() -> None:
    lines = sequence_lines(CoRMermaid(CHAIN).sequence())
    assert [line for line in lines if line.startswith(("alt ", "else "))] == [
        "alt CardHandler handles it",
        "else CardHandler passes it on",
        "alt PayPalHandler handles it",
        "else PayPalHandler passes it on",
    ]
    # A link that handles the request answers its caller straight away.
    alt = lines.index("alt CardHandler handles it")
    assert lines[alt + 1] == "H1-->>Client: Paid"
    assert lines[alt + 2] == "else CardHandler passes it on"
    assert lines[alt + 3] == "H1->>H2: next(Pay)"


def test_last_link_returns_and_the_answer_travels_back() -> None:
    messages = arrows(sequence_lines(CoRMermaid(CHAIN).sequence()))
    returns = [(src, dst, text) for src, arrow, dst, text in messages if arrow == "-->>"]
    assert returns == [
        ("H1", "Client", "Paid"),
        ("H2", "H1", "Paid"),
        ("H3", "H2", "Paid | None"),
        ("H2", "H1", "Paid | None"),
        ("H1", "Client", "Paid | None"),
    ]
    assert any(
        line.startswith("Note over H3:") for line in sequence_lines(CoRMermaid(CHAIN).sequence())
    )


def test_single_link_sequence_has_no_alternatives() -> None:
    lines = sequence_lines(CoRMermaid([CardHandler]).sequence())
    assert not [line for line in lines if line.startswith(("alt", "else", "end"))]
    assert arrows(lines) == [
        ("Client", "->>", "H1", "handle(Pay)"),
        ("H1", "-->>", "Client", "Paid | None"),
    ]


def test_repeated_handler_gets_its_own_participant() -> None:
    lines = sequence_lines(CoRMermaid([CardHandler, CardHandler]).sequence())
    assert "participant H1 as CardHandler" in lines
    assert "participant H2 as CardHandler" in lines


# --- class diagram --------------------------------------------------------------------------


def test_class_diagram_is_well_formed() -> None:
    for chain in (CHAIN, [AnnouncementLink, UntypedLink, PayLogger]):
        lines = class_lines(CoRMermaid(chain).class_diagram())
        for line in lines:
            assert CLASS_LINE.fullmatch(line), line
        assert sum(line.endswith("{") for line in lines) == lines.count("}")


def test_class_diagram_declares_every_handler_with_handle_and_next() -> None:
    lines = class_lines(CoRMermaid(CHAIN).class_diagram())
    for name in ("CardHandler", "PayPalHandler", "DefaultHandler"):
        assert class_block(lines, name) == [
            "+handle(request: Pay) Paid | None",
            "+next(request: Pay) Paid | None",
        ]


def test_class_diagram_marks_request_and_response_types() -> None:
    lines = class_lines(CoRMermaid(CHAIN).class_diagram())
    assert class_block(lines, "Pay") == ["<<request>>", "+method: str"]
    assert class_block(lines, "Paid") == ["<<response>>", "+by: str"]
    assert "CardHandler ..> Pay : handles" in lines
    assert "CardHandler ..> Paid : returns" in lines
    assert "DefaultHandler ..> Pay : handles" in lines


def test_class_diagram_links_the_chain_in_order() -> None:
    lines = class_lines(CoRMermaid(CHAIN).class_diagram())
    links = [line for line in lines if " --> " in line]
    assert links == [
        "CardHandler --> PayPalHandler : next",
        "PayPalHandler --> DefaultHandler : next",
    ]


def test_types_come_through_generic_intermediate_bases() -> None:
    lines = class_lines(CoRMermaid([PayLogger, CardHandler]).class_diagram())
    assert class_block(lines, "PayLogger") == [
        "+handle(request: Pay) Receipt | None",
        "+next(request: Pay) Receipt | None",
    ]
    assert "PayLogger ..> Receipt : returns" in lines
    assert class_block(lines, "Receipt") == ["<<response>>", "+number: int"]


def test_generic_types_use_mermaid_tildes_and_safe_ids() -> None:
    lines = class_lines(CoRMermaid([AnnouncementLink]).class_diagram())
    assert class_block(lines, "AnnouncementLink") == [
        "+handle(request: NotificationEvent~PaymentAnnounced~) list~Paid~ | None",
        "+next(request: NotificationEvent~PaymentAnnounced~) list~Paid~ | None",
    ]
    # The request is a real class named "NotificationEvent[PaymentAnnounced]": a word id, a label.
    assert (
        'class NotificationEvent_PaymentAnnounced["NotificationEvent[PaymentAnnounced]"] {' in lines
    )
    assert "AnnouncementLink ..> NotificationEvent_PaymentAnnounced : handles" in lines
    assert not any("[" in line for line in lines if "..>" in line or "-->" in line)


def test_untyped_handler_shows_any() -> None:
    lines = class_lines(CoRMermaid([UntypedLink]).class_diagram())
    assert class_block(lines, "UntypedLink") == [
        "+handle(request: Any) Any | None",
        "+next(request: Any) Any | None",
    ]
    assert not any("..>" in line for line in lines)


def test_repeated_handler_is_declared_once_but_linked_each_time() -> None:
    lines = class_lines(CoRMermaid([CardHandler, CardHandler, PayPalHandler]).class_diagram())
    assert sum(line.startswith("class CardHandler ") for line in lines) == 1
    assert [line for line in lines if " --> " in line] == [
        "CardHandler --> CardHandler : next",
        "CardHandler --> PayPalHandler : next",
    ]


def test_same_named_classes_get_distinct_ids() -> None:
    def make() -> type[cqrs.CORRequestHandler[Pay, Paid]]:
        class CardHandler(cqrs.CORRequestHandler[Pay, Paid]):
            async def handle(self, request: Pay) -> Paid | None:
                return None

        return CardHandler

    other = make()
    lines = class_lines(CoRMermaid([globals()["CardHandler"], other]).class_diagram())
    assert "CardHandler --> CardHandler_2 : next" in lines
    assert any(line.startswith('class CardHandler_2["CardHandler"]') for line in lines)


def test_accepts_a_bound_chain_tuple() -> None:
    request_map = cqrs.RequestMap()
    request_map.bind(Pay, CHAIN)
    binding = request_map.get(Pay)
    assert isinstance(binding, tuple)
    assert CoRMermaid(binding).sequence() == CoRMermaid(CHAIN).sequence()


@pytest.mark.parametrize(
    ("chain", "error"),
    [
        ([], ValueError),
        ([CardHandler, "PayPalHandler"], TypeError),
        ([CardHandler, Pay], TypeError),
        ([CardHandler()], TypeError),
    ],
)
def test_rejects_what_is_not_a_chain(chain: list[Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        CoRMermaid(chain)
