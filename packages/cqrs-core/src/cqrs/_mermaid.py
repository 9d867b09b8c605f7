"""Helpers shared by the Mermaid diagram generators (handler chains and sagas)."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any, TypeVar, get_args, get_origin

__all__: list[str] = []

INDENT = "    "
UNKNOWN = "Any"


class Ids:
    """Mermaid identifiers for classes: the class name when it is a plain word, else a slug."""

    def __init__(self) -> None:
        self._ids: dict[type, str] = {}
        self._taken: set[str] = set()

    def declare(self, tp: type) -> str:
        """The declaration head of `tp`: its id, with a label when the id is not its name."""
        ident = self.of(tp)
        name = tp.__name__
        return ident if ident == name else f'{ident}["{text(name)}"]'

    def of(self, tp: type) -> str:
        """The id of `tp`, allocated on first use and unique among the ids handed out."""
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


def generic_args(
    cls: type, target: type, substitutions: dict[Any, Any] | None = None
) -> tuple[Any, ...] | None:
    """The arguments `cls` gives the generic `target`, substituting type variables on the way."""
    substitutions = substitutions or {}
    for base in cls.__dict__.get("__orig_bases__", cls.__bases__):
        origin = get_origin(base) or base
        args = tuple(substitutions.get(arg, arg) for arg in get_args(base))
        if origin is target:
            return args
        if isinstance(origin, type) and issubclass(origin, target):
            parameters = getattr(origin, "__parameters__", ())
            found = generic_args(origin, target, dict(zip(parameters, args, strict=False)))
            if found is not None:
                return found
    return None


def plain_name(tp: Any) -> str:
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
            return " | ".join(plain_name(arg) for arg in get_args(tp))
        head = getattr(origin, "__name__", repr(origin))
        return f"{head}[{', '.join(plain_name(arg) for arg in get_args(tp))}]"
    name = getattr(tp, "__name__", None)
    return name if isinstance(name, str) else repr(tp)


def member_name(tp: Any) -> str:
    """A type name for a class member: Mermaid writes generics with `~` instead of brackets."""
    return text(plain_name(tp).replace("[", "~").replace("]", "~"))


def text(value: str) -> str:
    """Escape the characters Mermaid treats as statement ends or comments."""
    return re.sub(r"[#;]", lambda match: f"#{ord(match.group())};", value)


def is_class(tp: Any) -> bool:
    """Whether `tp` is a class worth a box of its own (not `None`, not a generic alias)."""
    return (
        isinstance(tp, type)
        and tp is not type(None)
        and tp is not Any
        and not isinstance(tp, types.GenericAlias)
    )


def field_lines(tp: type) -> list[str]:
    """`+name: type` members for the fields of a dataclass (annotations resolved when possible)."""
    if not dataclasses.is_dataclass(tp):
        return []
    try:
        hints = typing.get_type_hints(tp)
    except Exception:
        hints = {}
    return [
        f"+{field.name}: {member_name(hints.get(field.name, field.type))}"
        for field in dataclasses.fields(tp)
        if not field.name.startswith("_")
    ]
