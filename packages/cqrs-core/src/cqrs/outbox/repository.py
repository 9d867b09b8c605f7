"""python-cqrs 4.x's `cqrs.outbox.repository` path: the outbox repository protocol.

Served from `cqrs._compat.PYCQRS4_PATHS`.
"""

from typing import TYPE_CHECKING

from cqrs import _compat

__all__, __getattr__ = _compat.pycqrs4_module(__name__)

if TYPE_CHECKING:
    from cqrs.outbox.protocol import (
        OutboxedEvent as OutboxedEvent,
    )
    from cqrs.outbox.protocol import (
        OutboxedEventRepository as OutboxedEventRepository,
    )
