"""Hook specifications: what a `cqrs` plugin can provide.

A plugin is a module registered under the `cqrs` entry-point group whose functions are marked
with `cqrs.plugins.hookimpl` and named after these specifications. Factory hooks receive a URL
and return `None` for schemes they do not own; the first non-`None` answer wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from cqrs.faults import Fault
    from cqrs.protocols.container import Container
    from cqrs.protocols.message_broker import MessageBroker
    from cqrs.protocols.outbox import OutboxedEventRepository
    from cqrs.saga.storage.protocol import SagaStorage

__all__ = [
    "cqrs_adapt_container",
    "cqrs_classify_error",
    "cqrs_list_schemes",
    "cqrs_make_message_broker",
    "cqrs_make_outbox_repository",
    "cqrs_make_saga_storage",
    "hookspec",
]

hookspec = pluggy.HookspecMarker("cqrs")


@hookspec(firstresult=True)
def cqrs_make_message_broker(url: str) -> MessageBroker | None:
    """Return a message broker for `url`, or `None` if the plugin does not own its scheme."""


@hookspec(firstresult=True)
def cqrs_make_outbox_repository(url: str) -> OutboxedEventRepository[Any] | None:
    """Return an outbox repository for the database at `url`, or `None` for a foreign scheme."""


@hookspec(firstresult=True)
def cqrs_make_saga_storage(url: str) -> SagaStorage | None:
    """Return a saga storage for `url`, or `None` if the plugin does not own its scheme."""


@hookspec(firstresult=True)
def cqrs_adapt_container(container: Any) -> Container | None:
    """Wrap a foreign DI container (dependency-injector, di, ...) in a `Container`, or `None`."""


@hookspec
def cqrs_list_schemes() -> dict[str, list[str]]:  # type: ignore[empty-body]
    """Map each role the plugin serves (`"message_broker"`, ...) to the URL schemes it owns."""


@hookspec(firstresult=True)
def cqrs_classify_error(error: BaseException) -> Fault | None:
    """Say whether `error`, raised by the plugin's library, is a destination fault (the service
    is unavailable: retry, never dead-letter) or a message fault; `None` if it is not the
    plugin's to judge. Import nothing heavy: look at `type(error).__module__` first."""
