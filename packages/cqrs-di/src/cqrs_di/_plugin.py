"""Hook implementations of the di plugin: adapt a raw `di.Container` passed to bootstrap."""

from __future__ import annotations

from typing import Any

from cqrs.plugins import hookimpl


@hookimpl
def cqrs_adapt_container(container: Any) -> Any:
    if type(container).__module__.split(".")[0] != "di":
        return None
    from cqrs_di.container import DIContainer

    return DIContainer(container)
