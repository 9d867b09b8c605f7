"""One-call construction of the saga mediator."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from cqrs import _bootstrap
from cqrs.brokers.protocol import MessageBroker
from cqrs.events.event_emitter import EventEmitter
from cqrs.interception.interceptor import Interceptor
from cqrs.saga.map import SagaMap
from cqrs.saga.mediator import SagaMediator
from cqrs.saga.storage.protocol import SagaStorage

__all__ = ["bootstrap"]


def bootstrap(
    di_container: Any = None,
    sagas_mapper: Callable[[SagaMap], Any] | None = None,
    domain_events_mapper: _bootstrap.EventMapper | None = None,
    message_broker: MessageBroker | str | None = None,
    saga_storage: SagaStorage | None = None,
    on_startup: Iterable[Callable[[], Any]] | None = None,
    max_concurrent_event_handlers: int = 1,
    concurrent_event_handle_enable: bool = True,
    compensation_retry_count: int = 3,
    compensation_retry_delay: float = 1.0,
    compensation_retry_backoff: float = 2.0,
    interceptors: Sequence[Interceptor] = (),
) -> SagaMediator:
    """Build a `SagaMediator` (memory storage and the built-in container unless given)."""
    _bootstrap.run_startup(on_startup)
    container = _bootstrap.container(di_container)
    saga_map = SagaMap()
    if sagas_mapper is not None:
        sagas_mapper(saga_map)
    emitter = EventEmitter(
        _bootstrap.event_map(domain_events_mapper),
        container,
        _bootstrap.message_broker(message_broker),
        interceptors=interceptors,
    )
    return SagaMediator(
        saga_map,
        container,
        emitter,
        storage=saga_storage,
        max_concurrent_event_handlers=max_concurrent_event_handlers,
        concurrent_event_handle_enable=concurrent_event_handle_enable,
        compensation_retry_count=compensation_retry_count,
        compensation_retry_delay=compensation_retry_delay,
        compensation_retry_backoff=compensation_retry_backoff,
        interceptors=interceptors,
    )


def __getattr__(name: str) -> Any:
    """python-cqrs 4.x names kept at this path, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
