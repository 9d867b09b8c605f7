"""Hook specifications: what a `cqrs` plugin can provide.

A plugin is a module registered under the `cqrs` entry-point group whose functions are marked
with `cqrs.plugins.hookimpl` and named after these specifications. A plugin declares each URL
scheme it owns once, in `cqrs_declare_schemes`; core builds from those declarations. The older
factory hooks (`cqrs_make_*`, with `cqrs_list_schemes`) still work: they are asked only for a
scheme no plugin declares, each returning `None` for schemes it does not own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cqrs.plugins.markers import hookspec

if TYPE_CHECKING:
    from cqrs.brokers.protocol import MessageBroker
    from cqrs.faults import Fault
    from cqrs.outbox.protocol import OutboxedEventRepository
    from cqrs.plugins.declarations import SchemeDeclaration
    from cqrs.protocols.container import Container
    from cqrs.saga.storage.protocol import SagaStorage

__all__ = [
    "cqrs_adapt_container",
    "cqrs_classify_error",
    "cqrs_declare_schemes",
    "cqrs_list_schemes",
    "cqrs_make_message_broker",
    "cqrs_make_outbox_repository",
    "cqrs_make_saga_storage",
    "cqrs_worker_starting",
    "hookspec",
]


@hookspec
def cqrs_declare_schemes() -> Sequence[SchemeDeclaration]:  # type: ignore[empty-body]
    """Declare each URL scheme the plugin owns, once: its role, its name and its factory.

    This is the hook for every role: `message_broker`, `outbox`, `saga_storage`, `inbox` and
    `consumer_transport` (a broker's consumer side for `ConsumerRunner` and `cqrs consume`), or
    any other lower-case role a plugin and its callers agree on.
    Called once per plugin manager (and again after a plugin is registered or removed); keep it
    cheap and import nothing heavy: factories are `"module:attribute"` references imported only
    when a URL of their scheme is resolved.
    """


@hookspec(firstresult=True)
def cqrs_make_message_broker(url: str) -> MessageBroker | None:
    """Older way: a broker for `url`, or `None`; asked only when no declaration matches."""


@hookspec(firstresult=True)
def cqrs_make_outbox_repository(url: str) -> OutboxedEventRepository[Any] | None:
    """Older way: an outbox for `url`, or `None`; asked only when no declaration matches."""


@hookspec(firstresult=True)
def cqrs_make_saga_storage(url: str) -> SagaStorage | None:
    """Older way: a saga storage for `url`, or `None`; asked only when no declaration matches."""


@hookspec(firstresult=True)
def cqrs_adapt_container(container: Any) -> Container | None:
    """Wrap a foreign DI container (dependency-injector, di, ...) in a `Container`, or `None`."""


@hookspec
def cqrs_list_schemes() -> dict[str, list[str]]:  # type: ignore[empty-body]
    """Older way: map each role (`"message_broker"`, ...) to the schemes the plugin's
    `cqrs_make_*` hooks own; merged with the declarations in listings and hints."""


@hookspec(firstresult=True)
def cqrs_classify_error(error: BaseException) -> Fault | None:
    """Say whether `error`, raised by the plugin's library, is a destination fault (the service
    is unavailable: retry, never dead-letter) or a message fault; `None` if it is not the
    plugin's to judge. Import nothing heavy: look at `type(error).__module__` first."""


@hookspec
def cqrs_worker_starting(command: str) -> None:
    """Called by the long-running commands (`command` is `"relay"`, `"consume"` or
    `"saga recover"`) before they connect to anything: an instrumentation plugin installs
    itself here, so a deployed worker is traced without code of the user's."""
