"""Mermaid diagrams of a chain-of-responsibility handler chain, for documentation.

Example::

    diagrams = CoRMermaid([CardHandler, PayPalHandler, DefaultHandler])
    print(diagrams.sequence())       # who asks whom, and who answers
    print(diagrams.class_diagram())  # handler classes, request/response types, chain links
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cqrs._mermaid import (
    INDENT,
    UNKNOWN,
    Ids,
    field_lines,
    generic_args,
    member_name,
    plain_name,
    text,
)
from cqrs.requests.cor_request_handler import CORRequestHandler

__all__ = ["CoRMermaid"]


class CoRMermaid:
    """Renders a handler chain (as bound with `RequestMap.bind(Request, [First, ...])`) as Mermaid.

    Request and response types come from each handler's `CORRequestHandler[Req, Res]` base, also
    through intermediate generic base classes; a type that cannot be resolved shows as `Any`.
    """

    def __init__(self, handlers: Sequence[type[CORRequestHandler[Any, Any]]]) -> None:
        chain = tuple(handlers)
        if not chain:
            raise ValueError("CoRMermaid needs at least one handler")
        for handler in chain:
            if not (isinstance(handler, type) and issubclass(handler, CORRequestHandler)):
                raise TypeError(
                    f"chain links must be CORRequestHandler subclasses, got {handler!r}"
                )
        self.handlers = chain
        self._types = [_request_response(handler) for handler in chain]

    def sequence(self) -> str:
        """A `sequenceDiagram`: the client asks the first link; each answers or asks the next."""
        lines = ["sequenceDiagram", f"{INDENT}participant Client"]
        aliases = [f"H{number}" for number in range(1, len(self.handlers) + 1)]
        for alias, handler in zip(aliases, self.handlers, strict=True):
            lines.append(f"{INDENT}participant {alias} as {text(handler.__name__)}")
        lines.extend(self._sequence_steps(0, "Client", aliases, depth=1))
        return "\n".join(lines) + "\n"

    def _sequence_steps(self, index: int, caller: str, aliases: list[str], depth: int) -> list[str]:
        pad = INDENT * depth
        alias = aliases[index]
        name = text(self.handlers[index].__name__)
        request, response = (text(plain_name(t)) for t in self._types[index])
        verb = "handle" if index == 0 else "next"
        lines = [f"{pad}{caller}->>{alias}: {verb}({request})"]
        if index == len(self.handlers) - 1:
            lines.append(f"{pad}Note over {alias}: last link: handles the request or returns None")
            lines.append(f"{pad}{alias}-->>{caller}: {response} | None")
            return lines
        lines.append(f"{pad}alt {name} handles it")
        lines.append(f"{pad}{INDENT}{alias}-->>{caller}: {response}")
        lines.append(f"{pad}else {name} passes it on")
        lines.extend(self._sequence_steps(index + 1, alias, aliases, depth + 1))
        lines.append(f"{pad}{INDENT}{alias}-->>{caller}: {response} | None")
        lines.append(f"{pad}end")
        return lines

    def class_diagram(self) -> str:
        """A `classDiagram`: each handler with `handle`/`next`, its types, and `-->` chain links."""
        ids = Ids()
        lines = ["classDiagram"]
        roles: dict[type, str] = {}
        for request, response in self._types:
            for tp, role in ((request, "request"), (response, "response")):
                if isinstance(tp, type) and tp is not type(None):
                    roles.setdefault(tp, role)
        declared: set[type] = set()
        for handler, (request, response) in zip(self.handlers, self._types, strict=True):
            if handler in declared:
                continue
            declared.add(handler)
            req, res = member_name(request), member_name(response)
            lines.append(f"{INDENT}class {ids.declare(handler)} {{")
            lines.append(f"{INDENT * 2}+handle(request: {req}) {res} | None")
            lines.append(f"{INDENT * 2}+next(request: {req}) {res} | None")
            lines.append(f"{INDENT}}}")
        for tp, role in roles.items():
            lines.append(f"{INDENT}class {ids.declare(tp)} {{")
            lines.append(f"{INDENT * 2}<<{role}>>")
            lines.extend(f"{INDENT * 2}{member}" for member in field_lines(tp))
            lines.append(f"{INDENT}}}")
        for current, following in zip(self.handlers, self.handlers[1:], strict=False):
            lines.append(f"{INDENT}{ids.of(current)} --> {ids.of(following)} : next")
        done: set[tuple[str, str, str]] = set()
        for handler, (request, response) in zip(self.handlers, self._types, strict=True):
            for tp, label in ((request, "handles"), (response, "returns")):
                if tp in roles:
                    edge = (ids.of(handler), ids.of(tp), label)
                    if edge not in done:
                        done.add(edge)
                        lines.append(f"{INDENT}{edge[0]} ..> {edge[1]} : {label}")
        return "\n".join(lines) + "\n"


def _request_response(handler: type) -> tuple[Any, Any]:
    """The `(Req, Res)` arguments `handler` gives `CORRequestHandler`, `Any` where unknown."""
    found = generic_args(handler, CORRequestHandler)
    if found is None or len(found) != 2:
        return UNKNOWN, UNKNOWN
    return found[0], found[1]
