"""python-cqrs 4.x's `cqrs.message_brokers.protocol` path: the message broker protocol.

Served from `cqrs._compat.PYCQRS4_PATHS`.
"""

from typing import TYPE_CHECKING

from cqrs import _compat

__all__, __getattr__ = _compat.pycqrs4_module(__name__)

if TYPE_CHECKING:
    from cqrs.brokers.message import Message as Message
    from cqrs.brokers.protocol import MessageBroker as MessageBroker
