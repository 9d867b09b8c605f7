"""Mermaid diagrams of a chain-of-responsibility handler chain, for documentation.

Example::

    diagrams = CoRMermaid([CardHandler, PayPalHandler, DefaultHandler])
    print(diagrams.sequence())       # who asks whom, and who answers
    print(diagrams.class_diagram())  # handler classes, request/response types, chain links
"""

from __future__ import annotations

import re
import types
from collections.abc import Sequence
from typing import Any, TypeVar, get_args, get_origin

from cqrs.requests.cor_request_handler import CORRequestHandler

__all__ = ["CoRMermaid"]

_INDENT = "    "
_UNKNOWN = "Any"


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
        lines = ["sequenceDiagram", f"{_INDENT}participant Client"]
        aliases = [f"H{number}" for number in range(1, len(self.handlers) + 1)]
        for alias, handler in zip(aliases, self.handlers, strict=True):
            lines.append(f"{_INDENT}participant {alias} as {_text(handler.__name__)}")
        lines.extend(self._sequence_steps(0, "Client", aliases, depth=1))
        return "\n".join(lines) + "\n"

    def _sequence_steps(self, index: int, caller: str, aliases: list[str], depth: int) -> list[str]:
        pad = _INDENT * depth
        alias = aliases[index]
        name = _text(self.handlers[index].__name__)
        request, response = (_text(_plain_name(t)) for t in self._types[index])
        verb = "handle" if index == 0 else "next"
        lines = [f"{pad}{caller}->>{alias}: {verb}({request})"]
        if index == len(self.handlers) - 1:
            lines.append(f"{pad}Note over {alias}: last link: handles the request or returns None")
            lines.append(f"{pad}{alias}-->>{caller}: {response} | None")
            return lines
        lines.append(f"{pad}alt {name} handles it")
        lines.append(f"{pad}{_INDENT}{alias}-->>{caller}: {response}")
        lines.append(f"{pad}else {name} passes it on")
        lines.extend(self._sequence_steps(index + 1, alias, aliases, depth + 1))
        lines.append(f"{pad}{_INDENT}{alias}-->>{caller}: {response} | None")
        lines.append(f"{pad}end")
        return lines

    def class_diagram(self) -> str:
        """A `classDiagram`: each handler with `handle`/`next`, its types, and `-->` chain links."""
        ids = _Ids()
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
            req, res = _member_name(request), _member_name(response)
            lines.append(f"{_INDENT}class {ids.declare(handler)} {{")
            lines.append(f"{_INDENT * 2}+handle(request: {req}) {res} | None")
            lines.append(f"{_INDENT * 2}+next(request: {req}) {res} | None")
            lines.append(f"{_INDENT}}}")
        for tp, role in roles.items():
            lines.append(f"{_INDENT}class {ids.declare(tp)} {{")
            lines.append(f"{_INDENT * 2}<<{role}>>")
            lines.append(f"{_INDENT}}}")
        for current, following in zip(self.handlers, self.handlers[1:], strict=False):
            lines.append(f"{_INDENT}{ids.of(current)} --> {ids.of(following)} : next")
        done: set[tuple[str, str, str]] = set()
        for handler, (request, response) in zip(self.handlers, self._types, strict=True):
            for tp, label in ((request, "handles"), (response, "returns")):
                if tp in roles:
                    edge = (ids.of(handler), ids.of(tp), label)
                    if edge not in done:
                        done.add(edge)
                        lines.append(f"{_INDENT}{edge[0]} ..> {edge[1]} : {label}")
        return "\n".join(lines) + "\n"


class _Ids:
    """Mermaid identifiers for classes: the class name when it is a plain word, else a slug."""

    def __init__(self) -> None:
        self._ids: dict[type, str] = {}
        self._taken: set[str] = set()

    def declare(self, tp: type) -> str:
        """The declaration head of `tp`: its id, with a label when the id is not its name."""
        ident = self.of(tp)
        name = tp.__name__
        return ident if ident == name else f'{ident}["{_text(name)}"]'

    def of(self, tp: type) -> str:
        try:
            return self._ids[tp]
        except KeyError:
            pass
        base = re.sub(r"\W+", "_", tp.__name__).strip("_") or "Type"
        if base[0].isdigit():
            base = f"T_{base}"
        ident, number = base, 2
        while ident in self._taken:
            ident, number = f"{base}_{number}", number + 1
        self._taken.add(ident)
        self._ids[tp] = ident
        return ident


def _request_response(handler: type) -> tuple[Any, Any]:
    """The `(Req, Res)` arguments `handler` gives `CORRequestHandler`, `Any` where unknown."""
    found = _generic_args(handler, {})
    if found is None or len(found) != 2:
        return _UNKNOWN, _UNKNOWN
    return found[0], found[1]


def _generic_args(cls: type, substitutions: dict[Any, Any]) -> tuple[Any, ...] | None:
    """Walk `cls`'s generic bases to `CORRequestHandler`, substituting type variables on the way."""
    for base in cls.__dict__.get("__orig_bases__", cls.__bases__):
        origin = get_origin(base) or base
        args = tuple(substitutions.get(arg, arg) for arg in get_args(base))
        if origin is CORRequestHandler:
            return args
        if isinstance(origin, type) and issubclass(origin, CORRequestHandler):
            parameters = getattr(origin, "__parameters__", ())
            found = _generic_args(origin, dict(zip(parameters, args, strict=False)))
            if found is not None:
                return found
    return None


def _plain_name(tp: Any) -> str:
    """A readable name for a type: `Paid`, `list[Paid]`, `Paid | None`, a type variable's name."""
    if tp is None or tp is type(None):
        return "None"
    if isinstance(tp, str):
        return tp
    if isinstance(tp, TypeVar):
        return tp.__name__
    if isinstance(tp, types.UnionType) or (get_origin(tp) is not None and get_args(tp)):
        origin = get_origin(tp)
        if isinstance(tp, types.UnionType) or repr(origin) == "typing.Union":
            return " | ".join(_plain_name(arg) for arg in get_args(tp))
        head = getattr(origin, "__name__", repr(origin))
        return f"{head}[{', '.join(_plain_name(arg) for arg in get_args(tp))}]"
    name = getattr(tp, "__name__", None)
    return name if isinstance(name, str) else repr(tp)


def _member_name(tp: Any) -> str:
    """A type name for a class member: Mermaid writes generics with `~` instead of brackets."""
    return _text(_plain_name(tp).replace("[", "~").replace("]", "~"))


def _text(value: str) -> str:
    """Escape the characters Mermaid treats as statement ends or comments."""
    return re.sub(r"[#;]", lambda match: f"#{ord(match.group())};", value)
