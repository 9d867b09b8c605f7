"""Hook implementations of the dependency-injector plugin: adapt a raw container in bootstrap."""

from __future__ import annotations

from typing import Any

from cqrs.plugins import hookimpl


@hookimpl
def cqrs_adapt_container(container: Any) -> Any:
    if not type(container).__module__.startswith("dependency_injector"):
        return None
    from cqrs_dependency_injector.container import DependencyInjectorCQRSContainer

    return DependencyInjectorCQRSContainer(container)
