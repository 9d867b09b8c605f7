"""The `cqrs diagram` command: print the Mermaid diagram of a saga or a handler chain.

The reference may name a `Saga` subclass or instance, a list of `CORRequestHandler` classes,
a `RequestMap` or `SagaMap`, or a function filling one (like `commands_mapper`). A map gives one
diagram per saga and chain it binds, each headed by a `%%` comment naming the bound type.
"""

from __future__ import annotations

import argparse
import reprlib
from typing import Any

from cqrs._cli_support import epilog, load_reference, reference_error
from cqrs.requests.cor_request_handler import CORRequestHandler
from cqrs.requests.map import RequestMap
from cqrs.saga.map import SagaMap
from cqrs.saga.saga import Saga

__all__ = ["add_diagram_arguments", "run_diagram"]

_KINDS = ("sequence", "class")
"""The diagram kinds: a Mermaid `sequenceDiagram` or `classDiagram`."""

_OPTION = "reference"
"""How errors name the positional argument: `cqrs diagram: reference 'x:y': ...`."""


def add_diagram_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "reference",
        metavar="MODULE:ATTR",
        help="a Saga class, a list of CORRequestHandler classes, a RequestMap or SagaMap, "
        "or a function filling one (like commands_mapper or sagas_mapper)",
    )
    parser.add_argument(
        "--kind", choices=_KINDS, default="sequence", help="the kind of Mermaid diagram"
    )
    parser.epilog = epilog(
        "cqrs diagram myservice.sagas:OrderSaga               # the saga's sequence diagram",
        "cqrs diagram myservice.sagas:OrderSaga --kind class  # its classes and types",
        "cqrs diagram myservice.payments:payment_mapper       # every chain the mapper binds",
    )


def run_diagram(args: argparse.Namespace) -> int:
    """Print the diagram of the object `args.reference` names; a reference that names nothing
    drawable is a configuration error."""
    target = load_reference(args.reference, option=_OPTION)
    drawn = _diagrams(target, args.reference, args.kind)
    print("\n".join(drawn), end="")
    return 0


def _diagrams(target: Any, reference: str, kind: str) -> list[str]:
    """The diagram of `target` alone, or one headed diagram per drawable binding of a map."""
    single = _draw(target, kind)
    if single is not None:
        return [single]
    bindings = _bindings(target, reference)
    drawn = [
        f"%% {bound.__qualname__}\n{diagram}"
        for bound, binding in bindings
        if (diagram := _draw(binding, kind)) is not None
    ]
    if not drawn:
        raise reference_error(_OPTION, reference, "binds no saga and no handler chain to draw")
    return drawn


def _draw(target: Any, kind: str) -> str | None:
    """`target`'s diagram when it is a saga or a handler chain, else `None`."""
    if isinstance(target, Saga) or (isinstance(target, type) and issubclass(target, Saga)):
        from cqrs.saga.mermaid import SagaMermaid

        saga = SagaMermaid(target)
        return saga.sequence() if kind == "sequence" else saga.class_diagram()
    if _is_chain(target):
        from cqrs.requests.mermaid import CoRMermaid

        chain = CoRMermaid(target)
        return chain.sequence() if kind == "sequence" else chain.class_diagram()
    return None


def _is_chain(target: Any) -> bool:
    return (
        isinstance(target, list | tuple)
        and bool(target)
        and all(isinstance(link, type) and issubclass(link, CORRequestHandler) for link in target)
    )


def _bindings(target: Any, reference: str) -> list[tuple[type, Any]]:
    """The bindings of the map `target` is, or fills when it is a mapper function."""
    if isinstance(target, RequestMap | SagaMap):
        return list(target.items())
    if isinstance(target, type) or not callable(target):
        raise reference_error(
            _OPTION,
            reference,
            "expected a Saga, a list of CORRequestHandler classes, a RequestMap or SagaMap, "
            f"or a function filling one; got {_kind_of(target)}",
        )
    recorder = _Recorder()
    try:
        target(recorder)
    except Exception as error:
        raise reference_error(
            _OPTION, reference, f"calling it with a map failed: {type(error).__name__}: {error}"
        ) from error
    return recorder.bound


def _kind_of(target: Any) -> str:
    if isinstance(target, type):
        return f"the class {target.__qualname__}"
    return f"{type(target).__name__} {reprlib.repr(target)}"


class _Recorder:
    """Stands for the `RequestMap` or `SagaMap` a mapper function fills: it keeps what is bound,
    so one function serves whichever map the mapper was written for."""

    def __init__(self) -> None:
        self.bound: list[tuple[type, Any]] = []

    def bind(self, key: type, binding: Any) -> None:
        self.bound.append((key, binding))
