"""The dependency-injector adapter at its seed path, provided by `cqrs-dependency-injector`.

Without `pip install cqrs-dependency-injector`, importing this module raises an ImportError
naming it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cqrs._shim import forward, require

__all__ = ["DependencyInjectorCQRSContainer"]

if TYPE_CHECKING:
    from cqrs_dependency_injector import (  # type: ignore[import-not-found,unused-ignore]
        DependencyInjectorCQRSContainer as DependencyInjectorCQRSContainer,
    )

__getattr__ = forward(require("cqrs_dependency_injector", "cqrs-dependency-injector"), __name__)
