"""An asyncio framework for CQRS and event-driven services.

Names are resolved on first access, so `import cqrs` costs almost nothing and loads no plugin.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # models
    "Request": "cqrs.requests.request",
    "Response": "cqrs.requests.response",
    "Event": "cqrs.events.event",
    "DomainEvent": "cqrs.events.event",
    "NotificationEvent": "cqrs.events.event",
    "IRequest": "cqrs.protocols.models",
    "IResponse": "cqrs.protocols.models",
    "IEvent": "cqrs.protocols.models",
    "INotificationEvent": "cqrs.protocols.models",
    "PydanticRequest": "cqrs.pydantic_models",
    "PydanticResponse": "cqrs.pydantic_models",
    "PydanticEvent": "cqrs.pydantic_models",
    "PydanticDomainEvent": "cqrs.pydantic_models",
    "PydanticNotificationEvent": "cqrs.pydantic_models",
    # handlers and maps
    "RequestHandler": "cqrs.requests.request_handler",
    "StreamingRequestHandler": "cqrs.requests.request_handler",
    "CORRequestHandler": "cqrs.requests.cor_request_handler",
    "EventHandler": "cqrs.events.event_handler",
    "RequestMap": "cqrs.requests.map",
    "EventMap": "cqrs.events.map",
    "RequestHandlerFallback": "cqrs.requests.fallback",
    "EventHandlerFallback": "cqrs.events.fallback",
    # mediators
    "RequestMediator": "cqrs.mediators.request",
    "StreamingRequestMediator": "cqrs.mediators.streaming",
    "EventMediator": "cqrs.mediators.event",
    "EventEmitter": "cqrs.events.event_emitter",
    "EventProcessor": "cqrs.events.event_processor",
    "IRequestMediator": "cqrs.protocols.mediators",
    "IStreamingRequestMediator": "cqrs.protocols.mediators",
    "IEventMediator": "cqrs.protocols.mediators",
    # middleware
    "Middleware": "cqrs.protocols.middleware",
    "MiddlewareChain": "cqrs.middlewares.base",
    "LoggingMiddleware": "cqrs.middlewares.logging",
    # dependency injection
    "Container": "cqrs.protocols.container",
    "BuiltinContainer": "cqrs.container.builtin",
    # brokers and serialization
    "Message": "cqrs.brokers.message",
    "MessageBroker": "cqrs.brokers.protocol",
    "ManagedMessageBroker": "cqrs.brokers.protocol",
    "BrokerLifecycle": "cqrs.brokers.protocol",
    "MemoryMessageBroker": "cqrs.brokers.memory",
    "DevnullMessageBroker": "cqrs.brokers.devnull",
    "Serializer": "cqrs.protocols.serializer",
    "EventSerializer": "cqrs.protocols.serializer",
    "Compressor": "cqrs.protocols.serializer",
    "JsonSerializer": "cqrs.serializers",
    # outbox, inbox and consuming
    "OutboxedEventRepository": "cqrs.outbox.protocol",
    "OutboxedEvent": "cqrs.outbox.protocol",
    "OutboxStatus": "cqrs.outbox.protocol",
    "EventProducer": "cqrs.outbox.producer",
    "OutboxRelay": "cqrs.outbox.relay",
    "MemoryOutboxedEventRepository": "cqrs.outbox.memory",
    "SqlAlchemyOutboxedEventRepository": "cqrs.outbox.sqlalchemy",
    "Inbox": "cqrs.inbox.protocol",
    "MemoryInbox": "cqrs.inbox.memory",
    "MessageDispatcher": "cqrs.consumers.dispatcher",
    "ZlibCompressor": "cqrs.compressors.zlib",
    # circuit breakers
    "CircuitBreaker": "cqrs.breakers.protocol",
    "MemoryCircuitBreaker": "cqrs.breakers.memory",
    "StoredCircuitBreaker": "cqrs.breakers.stored",
    "BreakerStateStore": "cqrs.breakers.protocol",
    "MemoryBreakerStateStore": "cqrs.breakers.memory",
    # errors
    "CQRSError": "cqrs.errors",
    "CircuitOpenError": "cqrs.errors",
    "ContainerError": "cqrs.errors",
    "DestinationUnavailableError": "cqrs.errors",
    "HandlerNotBoundError": "cqrs.errors",
    "InvalidTopicError": "cqrs.errors",
    "MessageRejectedError": "cqrs.errors",
    "ModelValidationError": "cqrs.errors",
    "PublishBatchError": "cqrs.errors",
    "PluginError": "cqrs.errors",
    "PublicError": "cqrs.errors",
    "UnknownSchemeError": "cqrs.errors",
}

_SUBMODULES = frozenset(
    {
        "bootstrap",
        "breakers",
        "brokers",
        "compressors",
        "consumer",
        "consumers",
        "container",
        "errors",
        "events",
        "exceptions",
        "faults",
        "inbox",
        "mediators",
        "memory",
        "message_brokers",
        "middlewares",
        "outbox",
        "plugins",
        "protocols",
        "requests",
        "testing",
    }
)

__all__ = [
    "BreakerStateStore",
    "BrokerLifecycle",
    "BuiltinContainer",
    "CORRequestHandler",
    "CQRSError",
    "CircuitBreaker",
    "CircuitOpenError",
    "Compressor",
    "Container",
    "ContainerError",
    "DestinationUnavailableError",
    "DevnullMessageBroker",
    "DomainEvent",
    "Event",
    "EventEmitter",
    "EventHandler",
    "EventHandlerFallback",
    "EventMap",
    "EventMediator",
    "EventProcessor",
    "EventProducer",
    "HandlerNotBoundError",
    "IEvent",
    "IEventMediator",
    "INotificationEvent",
    "IRequest",
    "IRequestMediator",
    "IResponse",
    "IStreamingRequestMediator",
    "Inbox",
    "InvalidTopicError",
    "JsonSerializer",
    "LoggingMiddleware",
    "ManagedMessageBroker",
    "MemoryBreakerStateStore",
    "MemoryCircuitBreaker",
    "MemoryInbox",
    "MemoryMessageBroker",
    "MemoryOutboxedEventRepository",
    "Message",
    "MessageBroker",
    "MessageRejectedError",
    "MessageDispatcher",
    "Middleware",
    "MiddlewareChain",
    "ModelValidationError",
    "NotificationEvent",
    "OutboxRelay",
    "OutboxStatus",
    "OutboxedEvent",
    "OutboxedEventRepository",
    "PluginError",
    "PublicError",
    "PublishBatchError",
    "PydanticDomainEvent",
    "PydanticEvent",
    "PydanticNotificationEvent",
    "PydanticRequest",
    "PydanticResponse",
    "Request",
    "RequestHandler",
    "RequestHandlerFallback",
    "RequestMap",
    "RequestMediator",
    "Response",
    "Serializer",
    "EventSerializer",
    "SqlAlchemyOutboxedEventRepository",
    "StoredCircuitBreaker",
    "StreamingRequestHandler",
    "StreamingRequestMediator",
    "UnknownSchemeError",
    "ZlibCompressor",
    "__version__",
    "bootstrap",
    "breakers",
    "brokers",
    "compressors",
    "consumer",
    "consumers",
    "container",
    "errors",
    "events",
    "exceptions",
    "faults",
    "inbox",
    "mediators",
    "memory",
    "message_brokers",
    "middlewares",
    "outbox",
    "plugins",
    "protocols",
    "requests",
    "testing",
]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is not None:
        value = getattr(importlib.import_module(module_name), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"cqrs.{name}")
    elif name.startswith("_"):
        raise AttributeError(f"module 'cqrs' has no attribute {name!r}")
    else:
        from cqrs._compat import pycqrs4_attribute

        return pycqrs4_attribute(__name__, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from cqrs import (
        bootstrap,
        breakers,
        brokers,
        compressors,
        consumer,
        consumers,
        container,
        errors,
        events,
        exceptions,
        faults,
        inbox,
        mediators,
        memory,
        message_brokers,
        middlewares,
        outbox,
        plugins,
        protocols,
        requests,
        testing,
    )
    from cqrs.breakers.memory import MemoryBreakerStateStore, MemoryCircuitBreaker
    from cqrs.breakers.protocol import BreakerStateStore, CircuitBreaker
    from cqrs.breakers.stored import StoredCircuitBreaker
    from cqrs.brokers.devnull import DevnullMessageBroker
    from cqrs.brokers.memory import MemoryMessageBroker
    from cqrs.brokers.message import Message
    from cqrs.brokers.protocol import BrokerLifecycle, ManagedMessageBroker, MessageBroker
    from cqrs.compressors.zlib import ZlibCompressor
    from cqrs.consumers.dispatcher import MessageDispatcher
    from cqrs.container.builtin import BuiltinContainer
    from cqrs.errors import (
        CircuitOpenError,
        ContainerError,
        CQRSError,
        DestinationUnavailableError,
        HandlerNotBoundError,
        InvalidTopicError,
        MessageRejectedError,
        ModelValidationError,
        PluginError,
        PublicError,
        PublishBatchError,
        UnknownSchemeError,
    )
    from cqrs.events.event import DomainEvent, Event, NotificationEvent
    from cqrs.events.event_emitter import EventEmitter
    from cqrs.events.event_handler import EventHandler
    from cqrs.events.event_processor import EventProcessor
    from cqrs.events.fallback import EventHandlerFallback
    from cqrs.events.map import EventMap
    from cqrs.inbox.memory import MemoryInbox
    from cqrs.inbox.protocol import Inbox
    from cqrs.mediators.event import EventMediator
    from cqrs.mediators.request import RequestMediator
    from cqrs.mediators.streaming import StreamingRequestMediator
    from cqrs.middlewares.base import MiddlewareChain
    from cqrs.middlewares.logging import LoggingMiddleware
    from cqrs.outbox.memory import MemoryOutboxedEventRepository
    from cqrs.outbox.producer import EventProducer
    from cqrs.outbox.protocol import OutboxedEvent, OutboxedEventRepository, OutboxStatus
    from cqrs.outbox.relay import OutboxRelay
    from cqrs.outbox.sqlalchemy import SqlAlchemyOutboxedEventRepository
    from cqrs.protocols.container import Container
    from cqrs.protocols.mediators import IEventMediator, IRequestMediator, IStreamingRequestMediator
    from cqrs.protocols.middleware import Middleware
    from cqrs.protocols.models import IEvent, INotificationEvent, IRequest, IResponse
    from cqrs.protocols.serializer import Compressor, EventSerializer, Serializer
    from cqrs.pydantic_models import (
        PydanticDomainEvent,
        PydanticEvent,
        PydanticNotificationEvent,
        PydanticRequest,
        PydanticResponse,
    )
    from cqrs.requests.cor_request_handler import CORRequestHandler
    from cqrs.requests.fallback import RequestHandlerFallback
    from cqrs.requests.map import RequestMap
    from cqrs.requests.request import Request
    from cqrs.requests.request_handler import RequestHandler, StreamingRequestHandler
    from cqrs.requests.response import Response
    from cqrs.serializers import JsonSerializer
