"""`cqrs.protocols` is the one place to see every boundary: each concept's protocol is there."""

from __future__ import annotations

import importlib
import inspect

import pytest

import cqrs.protocols

BOUNDARY_MODULES = [
    "cqrs.brokers.protocol",
    "cqrs.breakers.protocol",
    "cqrs.outbox.protocol",
    "cqrs.inbox.protocol",
    "cqrs.saga.storage.protocol",
    "cqrs.consumers.transport",
    "cqrs.protocols.container",
    "cqrs.protocols.handlers",
    "cqrs.protocols.mediators",
    "cqrs.protocols.middleware",
    "cqrs.protocols.models",
    "cqrs.protocols.serializer",
]


def _protocols(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    return [
        name
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and value.__module__ == module_name
        and not name.startswith("_")
        and value.__name__ == name  # not an alias (a python-cqrs 4.x name, once resolved)
        and getattr(value, "_is_protocol", False)
    ]


@pytest.mark.parametrize("module_name", BOUNDARY_MODULES)
def test_every_boundary_protocol_is_in_cqrs_protocols(module_name: str) -> None:
    names = _protocols(module_name)
    assert names, f"{module_name} defines no protocol"
    for name in names:
        assert name in cqrs.protocols.__all__, f"{module_name}.{name} missing from cqrs.protocols"
        assert getattr(cqrs.protocols, name) is getattr(importlib.import_module(module_name), name)
