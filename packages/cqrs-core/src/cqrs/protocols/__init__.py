"""Every boundary of the framework as a `typing.Protocol`, satisfied structurally.

Each protocol lives with its concept (`cqrs.brokers.protocol`, `cqrs.outbox.protocol`, ...);
this module is the one place to see them all. The outbox, inbox, saga storage and consumer
transport protocols load on first access: their modules import this package's models.
"""

from typing import TYPE_CHECKING, Any

from cqrs.breakers.protocol import BreakerPermit, BreakerStateStore, CircuitBreaker, CircuitState
from cqrs.brokers.message import HEADER_NAMES, Message
from cqrs.brokers.protocol import BrokerLifecycle, ManagedMessageBroker, MessageBroker
from cqrs.protocols.container import Container
from cqrs.protocols.handlers import IEventHandler, IRequestHandler, IStreamingRequestHandler
from cqrs.protocols.mediators import IEventMediator, IRequestMediator, IStreamingRequestMediator
from cqrs.protocols.middleware import HandleFunc, Middleware
from cqrs.protocols.models import IEvent, INotificationEvent, IRequest, IResponse
from cqrs.protocols.serializer import Compressor, EventSerializer, Serializer

if TYPE_CHECKING:
    from cqrs.consumers.transport import ConsumerControl, ConsumerTransport
    from cqrs.inbox.protocol import Inbox
    from cqrs.outbox.protocol import OutboxedEventRepository
    from cqrs.saga.storage.protocol import SagaStorage

_LAZY = {
    "ConsumerControl": "cqrs.consumers.transport",
    "ConsumerTransport": "cqrs.consumers.transport",
    "Inbox": "cqrs.inbox.protocol",
    "OutboxedEventRepository": "cqrs.outbox.protocol",
    "SagaStorage": "cqrs.saga.storage.protocol",
}

__all__ = [
    "HEADER_NAMES",
    "BreakerPermit",
    "BreakerStateStore",
    "BrokerLifecycle",
    "CircuitBreaker",
    "CircuitState",
    "Compressor",
    "ConsumerControl",
    "ConsumerTransport",
    "Container",
    "HandleFunc",
    "IEvent",
    "IEventHandler",
    "IEventMediator",
    "INotificationEvent",
    "IRequest",
    "IRequestHandler",
    "IRequestMediator",
    "IResponse",
    "IStreamingRequestHandler",
    "IStreamingRequestMediator",
    "Inbox",
    "ManagedMessageBroker",
    "Message",
    "MessageBroker",
    "Middleware",
    "EventSerializer",
    "OutboxedEventRepository",
    "SagaStorage",
    "Serializer",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
