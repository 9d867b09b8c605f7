"""python-cqrs 4.x's `cqrs.container.protocol` path: the container protocol.

Served from `cqrs._compat.PYCQRS4_PATHS`.
"""

from typing import TYPE_CHECKING

from cqrs import _compat

__all__, __getattr__ = _compat.pycqrs4_module(__name__)

if TYPE_CHECKING:
    from cqrs.protocols.container import Container as Container
    from cqrs.protocols.container import T as T
