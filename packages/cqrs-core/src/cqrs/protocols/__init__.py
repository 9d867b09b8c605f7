"""Every boundary of the framework as a `typing.Protocol`, satisfied structurally."""

from cqrs.breakers.protocol import BreakerPermit, BreakerStateStore, CircuitBreaker, CircuitState
from cqrs.brokers.message import HEADER_NAMES, Message
from cqrs.brokers.protocol import MessageBroker
from cqrs.protocols.container import Container
from cqrs.protocols.handlers import IEventHandler, IRequestHandler, IStreamingRequestHandler
from cqrs.protocols.mediators import IEventMediator, IRequestMediator, IStreamingRequestMediator
from cqrs.protocols.middleware import HandleFunc, Middleware
from cqrs.protocols.models import IEvent, INotificationEvent, IRequest, IResponse
from cqrs.protocols.serializer import Compressor, EventSerializer, Serializer

__all__ = [
    "HEADER_NAMES",
    "BreakerPermit",
    "BreakerStateStore",
    "CircuitBreaker",
    "CircuitState",
    "Compressor",
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
    "Message",
    "MessageBroker",
    "Middleware",
    "EventSerializer",
    "Serializer",
]
