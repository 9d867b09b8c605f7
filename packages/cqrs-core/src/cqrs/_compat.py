"""Import paths kept for older code, each generated from one table.

`SEED_PATHS` maps each seed path whose code now lives in an adapter distribution to the adapter
module that provides it, the distribution to install and the names the path exports. The module
at a seed path only reads its row, so adding a path is a row here plus a file holding::

    from cqrs import _compat

    __all__, __getattr__ = _compat.forward_module(__name__)

(and, for type checkers, an `if TYPE_CHECKING:` re-export of the adapter's names).

`PYCQRS4_PATHS` does the same for python-cqrs 4.x's public names: each 4.x module path maps its
names to where they live here (`"module"` or `"module:attr"`; an adapter module resolves only
when its distribution is installed), or to `Unsupported(advice)` where the design differs and
there is nothing to forward to. A 4.x path with no module here gets a file holding::

    from cqrs import _compat

    __all__, __getattr__ = _compat.pycqrs4_module(__name__)

and a module of ours that 4.x code imports more names from ends with a module `__getattr__`
calling `pycqrs4_attribute(__name__, name)`, so the table is read only on such a lookup.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any, NamedTuple

__all__ = [
    "PYCQRS4_PATHS",
    "SEED_PATHS",
    "SeedPath",
    "Unsupported",
    "forward",
    "forward_module",
    "pycqrs4_attribute",
    "pycqrs4_module",
    "require",
]


class SeedPath(NamedTuple):
    """Where a seed path's names come from: the adapter module and its distribution."""

    adapter: str
    distribution: str
    names: tuple[str, ...]


SEED_PATHS: dict[str, SeedPath] = {
    "cqrs.adapters.circuit_breaker": SeedPath(
        "cqrs_aiobreaker", "cqrs-aiobreaker", ("AioBreakerAdapter",)
    ),
    "cqrs.adapters.kafka": SeedPath("cqrs_kafka", "cqrs-kafka", ("kafka_producer_factory",)),
    "cqrs.container.dependency_injector": SeedPath(
        "cqrs_dependency_injector", "cqrs-dependency-injector", ("DependencyInjectorCQRSContainer",)
    ),
    "cqrs.container.di": SeedPath("cqrs_di", "cqrs-di", ("DIContainer",)),
    "cqrs.message_brokers.kafka": SeedPath("cqrs_kafka", "cqrs-kafka", ("KafkaMessageBroker",)),
    "cqrs.outbox.sqlalchemy": SeedPath(
        "cqrs_sqla", "cqrs-sqla", ("SqlAlchemyOutboxedEventRepository",)
    ),
}
"""Seed module path -> the adapter that provides it; each path has its two-line module."""


def forward_module(seed: str) -> tuple[list[str], Callable[[str], Any]]:
    """The `__all__` and module `__getattr__` of the seed path `seed`, from its row.

    The adapter is imported now, so importing the seed path without the adapter installed raises
    an ImportError naming the distribution; every name then resolves on the adapter, and the
    path's python-cqrs 4.x names (its `PYCQRS4_PATHS` row, if any) are exported too.
    """
    row = SEED_PATHS[seed]
    pycqrs4 = PYCQRS4_PATHS.get(seed)
    more = [] if not isinstance(pycqrs4, dict) else [n for n in pycqrs4 if n not in row.names]
    return [*row.names, *more], forward(require(row.adapter, row.distribution), seed)


def require(module: str, distribution: str) -> ModuleType:
    """Import the adapter `module`, or raise an ImportError that names `distribution` to install.

    Only the absence of `module` itself is translated: an adapter that is installed but fails
    on its own imports (say, its library is missing) raises its original error.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing != module and not module.startswith(f"{missing}."):
            raise
        raise ModuleNotFoundError(
            f"{module} is provided by the {distribution!r} distribution, which is not "
            f"installed. Install it with: pip install {distribution}",
            name=module,
        ) from None


def forward(adapter: ModuleType, shim: str) -> Callable[[str], Any]:
    """A module `__getattr__` for `shim` that resolves every other name on `adapter`, then on
    the python-cqrs 4.x row of `shim` if it has one."""

    def __getattr__(name: str) -> Any:
        try:
            return getattr(adapter, name)
        except AttributeError:
            row = PYCQRS4_PATHS.get(shim)
            if isinstance(row, dict) and name in row:
                return pycqrs4_attribute(shim, name)
            raise AttributeError(
                f"module {shim!r} has no attribute {name!r} "
                f"({adapter.__name__} does not provide it)"
            ) from None

    return __getattr__


class Unsupported(NamedTuple):
    """A python-cqrs 4.x name (or module) with nothing to forward to, and what to do instead."""

    advice: str


_Row = dict[str, str | Unsupported]

_INTERNAL = Unsupported("it was internal to python-cqrs 4.x's implementation")
_TYPING = Unsupported("it was a typing helper of python-cqrs 4.x; annotate with the cqrs classes")
_NO_EVENT_STATUS = Unsupported(
    "outbox rows carry cqrs.OutboxStatus (PENDING, PUBLISHED, DEAD, DISCARDED) and an "
    "OutboxRelay settles them; see docs/migrating-from-python-cqrs.md"
)
_NO_OUTBOX_MAP = Unsupported(
    "the outbox stores events serialized and relays publish the bytes, so no registry of event "
    "types is needed: drop the OutboxedEventMap.register(...) calls"
)
_NO_DEFAULT_BROKER = Unsupported(
    "bootstrap without message_broker= drops notification events with a warning; pass "
    "cqrs.DevnullMessageBroker() to drop them silently"
)
_NO_AMQP = Unsupported(
    "install cqrs-rabbitmq and use cqrs_rabbitmq.RabbitMQMessageBroker(url, exchange=...) to "
    "publish and cqrs_rabbitmq.RabbitMQEventConsumer to consume; they manage the connection"
)
_NO_SAGA_MIDDLEWARE = Unsupported(
    "python-cqrs 4.x never ran saga middlewares; wrap saga steps with an Interceptor "
    "(intercept_saga_step)"
)
_NO_DESERIALIZER = Unsupported(
    "consumers rebuild events with the event type's from_dict: cqrs.MessageDispatcher, or "
    "cqrs_faststream.EventDecoder for FastStream subscribers"
)
_NO_DISPATCHER = Unsupported(
    "the mediators dispatch themselves (there is no dispatcher_type=); wrap handlers with an "
    "Interceptor instead"
)
_NO_SAGA_INTERNALS = Unsupported(
    "the saga engine is cqrs.saga.execution.SagaExecution; recover sagas with "
    "cqrs.saga.recovery.recover_saga or SagaRecoveryWorker, and tune compensation with "
    "compensation_retry_* on cqrs.saga.bootstrap.bootstrap"
)

_EVENT_MODELS: _Row = {
    "DCDomainEvent": "cqrs.dataclass_models",
    "DCEvent": "cqrs.dataclass_models",
    "DCNotificationEvent": "cqrs.dataclass_models",
    "IDomainEvent": "cqrs.protocols.models:IEvent",
    "IEvent": "cqrs.protocols.models",
    "INotificationEvent": "cqrs.protocols.models",
    "PydanticDomainEvent": "cqrs.pydantic_models",
    "PydanticEvent": "cqrs.pydantic_models",
    "PydanticNotificationEvent": "cqrs.pydantic_models",
}
"""The event models 4.x serves at both `cqrs.events` and `cqrs.events.event`."""

PYCQRS4_PATHS: dict[str, _Row | Unsupported] = {
    "cqrs": {
        "CoRMermaid": "cqrs.requests.mermaid",
        "ContextT": "cqrs.saga.saga",
        "DCDomainEvent": "cqrs.dataclass_models",
        "DCEvent": "cqrs.dataclass_models",
        "DCNotificationEvent": "cqrs.dataclass_models",
        "DCRequest": "cqrs.dataclass_models",
        "DCResponse": "cqrs.dataclass_models",
        "DIContainer": "cqrs_di",
        "EventStatus": _NO_EVENT_STATUS,
        "ICircuitBreaker": "cqrs.breakers.protocol:CircuitBreaker",
        "IDomainEvent": "cqrs.protocols.models:IEvent",
        "OutboxedEventMap": _NO_OUTBOX_MAP,
        "Resp": "cqrs.saga.step:ResponseT",
        "Saga": "cqrs.saga.saga",
        "SagaMap": "cqrs.saga.map",
        "SagaMediator": "cqrs.saga.mediator",
        "SagaMermaid": "cqrs.saga.mermaid",
        "SagaStepHandler": "cqrs.saga.step",
        "SagaStepResult": "cqrs.saga.step",
        "rebind_outbox_model": Unsupported(
            "name the outbox table with SqlAlchemyOutboxedEventRepository(..., table=...) or the "
            "OUTBOX_SQLA_TABLE environment variable (cqrs-sqla)"
        ),
    },
    "cqrs.adapters.amqp": _NO_AMQP,
    "cqrs.adapters.circuit_breaker": {
        "CriticalLogListener": "cqrs_aiobreaker",
        "StorageFactory": "cqrs_aiobreaker",
        "default_memory_storage_factory": "cqrs_aiobreaker",
    },
    "cqrs.adapters.protocol": {
        "AMQPConsumer": _NO_AMQP,
        "AMQPPublisher": _NO_AMQP,
        "KafkaProducer": "cqrs_kafka",
    },
    "cqrs.circuit_breaker": {
        "ICircuitBreaker": "cqrs.breakers.protocol:CircuitBreaker",
        "should_use_fallback": _INTERNAL,
    },
    "cqrs.compressors.protocol": {"Compressor": "cqrs.protocols.serializer"},
    "cqrs.container.protocol": {
        "C": Unsupported("cqrs.Container is not generic over the container it wraps"),
        "Container": "cqrs.protocols.container",
        "T": "cqrs.protocols.container",
    },
    "cqrs.container.dependency_injector": {"T": "cqrs.protocols.container"},
    "cqrs.container.di": {"T": "cqrs.protocols.container"},
    "cqrs.deserializers": _NO_DESERIALIZER,
    "cqrs.dispatcher": {
        "EventDispatcher": _NO_DISPATCHER,
        "RequestDispatchResult": _NO_DISPATCHER,
        "RequestDispatcher": _NO_DISPATCHER,
        "SagaDispatchResult": _NO_DISPATCHER,
        "SagaDispatcher": _NO_DISPATCHER,
        "StreamingRequestDispatcher": _NO_DISPATCHER,
    },
    "cqrs.dispatcher.event": _NO_DISPATCHER,
    "cqrs.dispatcher.exceptions": {
        "RequestHandlerDoesNotExist": "cqrs.errors:HandlerNotBoundError",
        "RequestHandlerTypeError": Unsupported(
            "a handler of the wrong kind is refused when bound: RequestMap.bind raises TypeError"
        ),
        "SagaConcurrencyError": "cqrs.errors",
        "SagaDoesNotExist": "cqrs.errors:HandlerNotBoundError",
    },
    "cqrs.dispatcher.models": _NO_DISPATCHER,
    "cqrs.dispatcher.request": _NO_DISPATCHER,
    "cqrs.dispatcher.saga": _NO_DISPATCHER,
    "cqrs.dispatcher.streaming": _NO_DISPATCHER,
    "cqrs.events": _EVENT_MODELS,
    "cqrs.events.bootstrap": {"setup_mediator": "cqrs._pycqrs4:setup_event_mediator"},
    "cqrs.events.event": _EVENT_MODELS,
    "cqrs.events.event_handler": {"E": "cqrs.events.event_handler:EventT"},
    "cqrs.events.fallback": {"EventHandlerT": _TYPING},
    "cqrs.generic_utils": _INTERNAL,
    "cqrs.mediator": {
        "EventMediator": "cqrs.mediators.event",
        "RequestMediator": "cqrs.mediators.request",
        "SagaMediator": "cqrs.saga.mediator",
        "StreamingRequestMediator": "cqrs.mediators.streaming",
    },
    "cqrs.message_brokers.amqp": _NO_AMQP,
    "cqrs.message_brokers.protocol": {
        "Message": "cqrs.brokers.message",
        "MessageBroker": "cqrs.brokers.protocol",
    },
    "cqrs.middlewares.base": {
        "HandleType": "cqrs.protocols.middleware:HandleFunc",
        "Middleware": "cqrs.protocols.middleware",
        "SagaContextT": _NO_SAGA_MIDDLEWARE,
        "SagaHandlerType": _NO_SAGA_MIDDLEWARE,
        "SagaMiddleware": _NO_SAGA_MIDDLEWARE,
        "SagaMiddlewareChain": _NO_SAGA_MIDDLEWARE,
    },
    "cqrs.outbox.map": _NO_OUTBOX_MAP,
    "cqrs.outbox.mock": {"MockOutboxedEventRepository": "cqrs.outbox._pycqrs4_mock"},
    "cqrs.outbox.repository": {
        "EventStatus": _NO_EVENT_STATUS,
        "OutboxedEvent": "cqrs.outbox.protocol",
        "OutboxedEventRepository": "cqrs.outbox.protocol",
    },
    "cqrs.producer": {"EventProducer": "cqrs.outbox.producer", "SessionFactory": _TYPING},
    "cqrs.requests.bootstrap": {
        "DEFAULT_MESSAGE_BROKER": _NO_DEFAULT_BROKER,
        "setup_event_emitter": "cqrs._pycqrs4",
        "setup_mediator": "cqrs._pycqrs4:setup_request_mediator",
        "setup_streaming_mediator": "cqrs._pycqrs4",
    },
    "cqrs.requests.cor_request_handler": {
        "CORRequestHandlerT": _TYPING,
        "build_chain": "cqrs._pycqrs4",
    },
    "cqrs.requests.fallback": {"RequestHandlerT": _TYPING},
    "cqrs.requests.map": {
        "HandlerType": "cqrs.requests.map:RequestHandlerBinding",
        "SagaMap": "cqrs.saga.map",
    },
    "cqrs.requests.request": {
        "DCRequest": "cqrs.dataclass_models",
        "IRequest": "cqrs.protocols.models",
        "PydanticRequest": "cqrs.pydantic_models",
        "ReqT": "cqrs.requests.request_handler",
    },
    "cqrs.response": {
        "DCResponse": "cqrs.dataclass_models",
        "IResponse": "cqrs.protocols.models",
        "PydanticResponse": "cqrs.pydantic_models",
    },
    "cqrs.saga.bootstrap": {
        "DEFAULT_MESSAGE_BROKER": _NO_DEFAULT_BROKER,
        "setup_saga_mediator": "cqrs._pycqrs4",
    },
    "cqrs.saga.circuit_breaker": {
        "ISagaStepCircuitBreaker": "cqrs.breakers.protocol:CircuitBreaker"
    },
    "cqrs.saga.compensation": _NO_SAGA_INTERNALS,
    "cqrs.saga.execution": {
        "FallbackStepExecutor": _NO_SAGA_INTERNALS,
        "SagaRecoveryManager": _NO_SAGA_INTERNALS,
        "SagaStateManager": _NO_SAGA_INTERNALS,
        "SagaStepExecutor": _NO_SAGA_INTERNALS,
    },
    "cqrs.saga.models": {"ContextT": "cqrs.saga.saga"},
    "cqrs.saga.saga": {"SagaTransaction": "cqrs.saga.transaction"},
    "cqrs.saga.step": {"Resp": "cqrs.saga.step:ResponseT"},
    "cqrs.saga.storage": {
        "ISagaStorage": "cqrs.saga.storage.protocol:SagaStorage",
        "SagaLogEntry": "cqrs.saga.models",
        "SagaStatus": "cqrs.saga.models",
        "SagaStepStatus": "cqrs.saga.models",
    },
    "cqrs.saga.storage.enums": {
        "SagaStatus": "cqrs.saga.models",
        "SagaStepStatus": "cqrs.saga.models",
    },
    "cqrs.saga.storage.models": {"SagaLogEntry": "cqrs.saga.models"},
    "cqrs.saga.storage.protocol": {"ISagaStorage": "cqrs.saga.storage.protocol:SagaStorage"},
    "cqrs.saga.storage.sqlalchemy": {"SqlAlchemySagaStorage": "cqrs_sqla"},
    "cqrs.saga.validation": _INTERNAL,
    "cqrs.serializers": {"default_serializer": "cqrs._pycqrs4"},
    "cqrs.types": {
        "ReqT": "cqrs.requests.request_handler",
        "ResT": "cqrs.requests.request_handler",
    },
}
"""python-cqrs 4.x module path -> its names that are not ours already -> where they live here."""


def pycqrs4_module(path: str) -> tuple[list[str], Callable[[str], Any]]:
    """The `__all__` and module `__getattr__` of the 4.x-only module `path`, from its row.

    A path whose whole module is `Unsupported` raises an ImportError with the advice.
    """
    row = PYCQRS4_PATHS[path]
    if isinstance(row, Unsupported):
        raise ImportError(_unsupported(path, row), name=path)
    served = [name for name, target in row.items() if not isinstance(target, Unsupported)]

    def __getattr__(name: str) -> Any:
        return pycqrs4_attribute(path, name)

    return served, __getattr__


def pycqrs4_attribute(path: str, name: str) -> Any:
    """The 4.x name `name` of module `path` (cached on the module), from its row.

    An `Unsupported` name raises an ImportError with the advice (an AttributeError would lose
    it: `from path import name` turns it into a bare "cannot import name"); a name the table
    does not know raises AttributeError.
    """
    row = PYCQRS4_PATHS.get(path)
    target = row.get(name) if isinstance(row, dict) else None
    if target is None:
        raise AttributeError(f"module {path!r} has no attribute {name!r}")
    if isinstance(target, Unsupported):
        raise ImportError(_unsupported(f"{path}.{name}", target), name=path)
    module_name, _, attr = target.partition(":")
    package = module_name.partition(".")[0]
    module = (
        importlib.import_module(module_name)
        if package == "cqrs"
        else require(module_name, package.replace("_", "-"))
    )
    value = getattr(module, attr or name)
    setattr(sys.modules[path], name, value)
    return value


def _unsupported(what: str, row: Unsupported) -> str:
    return f"{what} (python-cqrs 4.x) has no counterpart in cqrs: {row.advice}"
