"""python-cqrs 4.x's `cqrs.outbox.mock` path: the in-memory outbox test double.

Served from `cqrs._compat.PYCQRS4_PATHS`.
"""

from typing import TYPE_CHECKING

from cqrs import _compat

__all__, __getattr__ = _compat.pycqrs4_module(__name__)

if TYPE_CHECKING:
    from cqrs.outbox._pycqrs4_mock import MockOutboxedEventRepository as MockOutboxedEventRepository
