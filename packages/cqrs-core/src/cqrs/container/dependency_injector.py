"""Seed path of `cqrs_dependency_injector.DependencyInjectorCQRSContainer` (see `cqrs._compat`).

Without `pip install cqrs-dependency-injector` the import fails with that hint.
"""

from typing import TYPE_CHECKING

from cqrs import _compat

__all__, __getattr__ = _compat.forward_module(__name__)

if TYPE_CHECKING:
    from cqrs_dependency_injector import (
        DependencyInjectorCQRSContainer as DependencyInjectorCQRSContainer,
    )
