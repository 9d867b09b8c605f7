"""python-cqrs 4.x's `cqrs.dispatcher.exceptions` path: the dispatch errors.

Served from `cqrs._compat.PYCQRS4_PATHS`.
"""

from typing import TYPE_CHECKING

from cqrs import _compat

__all__, __getattr__ = _compat.pycqrs4_module(__name__)

if TYPE_CHECKING:
    from cqrs.errors import SagaConcurrencyError as SagaConcurrencyError
