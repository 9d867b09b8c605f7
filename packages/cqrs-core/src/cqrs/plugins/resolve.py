"""Turning URLs and foreign objects into implementations through the installed plugins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from cqrs.errors import PluginError
from cqrs.plugins._lifecycle import managed_broker
from cqrs.plugins.declarations import (
    CONSUMER_TRANSPORT,
    INBOX,
    MESSAGE_BROKER,
    OUTBOX,
    SAGA_STORAGE,
)
from cqrs.plugins.hints import KNOWN_ADAPTERS, unknown_scheme_error
from cqrs.plugins.manager import PluginManager, get_plugin_manager
from cqrs.redaction import redact_url
from cqrs.urls import url_scheme

if TYPE_CHECKING:
    from cqrs.brokers.protocol import ManagedMessageBroker
    from cqrs.consumers.transport import ConsumerTransport
    from cqrs.inbox.protocol import Inbox
    from cqrs.outbox.protocol import OutboxedEventRepository
    from cqrs.protocols.container import Container
    from cqrs.saga.storage.protocol import SagaStorage

__all__ = [
    "KNOWN_ADAPTERS",
    "adapt_container",
    "installed_schemes",
    "make_consumer_transport",
    "make_from_url",
    "make_inbox",
    "make_message_broker",
    "make_outbox_repository",
    "make_saga_storage",
    "redact_url",
    "url_scheme",
]

_OLDER_HOOKS = {
    MESSAGE_BROKER: "cqrs_make_message_broker",
    OUTBOX: "cqrs_make_outbox_repository",
    SAGA_STORAGE: "cqrs_make_saga_storage",
}
"""The factory hook plugins written before `cqrs_declare_schemes` implement, per role."""

_KNOWN_CONTAINERS = {
    "dependency_injector": "cqrs-dependency-injector",
    "di": "cqrs-di",
}


def installed_schemes(role: str, manager: PluginManager | None = None) -> dict[str, str]:
    """Each URL scheme installed for `role`, mapped to the plugin that provides it."""
    return (manager or get_plugin_manager()).schemes.schemes(role)


def make_from_url(role: str, url: str, manager: PluginManager | None = None) -> Any:
    """Build what the plugin declaring `url`'s scheme for `role` provides, or raise
    `UnknownSchemeError` saying what was meant and what to install.

    A declaration is used first; for a scheme nobody declares, plugins written the older way
    are asked through the role's `cqrs_make_*` hook.
    """
    manager = manager or get_plugin_manager()
    scheme = url_scheme(url)
    registry = manager.schemes
    entry = registry.find(role, scheme)
    if entry is not None and entry.declaration is not None:
        return entry.declaration.build(url)
    older = _OLDER_HOOKS.get(role)
    if older is not None:
        built = getattr(manager.hook, older)(url=url)
        if built is not None:
            return built
    failures = {**manager.failures, **registry.problems}
    raise unknown_scheme_error(role, url, registry, failures)


def make_message_broker(url: str, manager: PluginManager | None = None) -> ManagedMessageBroker:
    """Build the message broker that an installed plugin provides for `url`'s scheme; one
    without `connect()` and `close()` raises `PluginError`, since nobody could close it."""
    manager = manager or get_plugin_manager()
    return managed_broker(make_from_url(MESSAGE_BROKER, url, manager), url, manager)


def make_outbox_repository(
    url: str, manager: PluginManager | None = None
) -> OutboxedEventRepository[Any]:
    """Build the outbox repository that an installed plugin provides for `url`'s scheme."""
    outbox: OutboxedEventRepository[Any] = make_from_url(OUTBOX, url, manager)
    return outbox


def make_inbox(url: str, manager: PluginManager | None = None) -> Inbox[Any]:
    """Build the inbox that an installed plugin provides for `url`'s scheme."""
    inbox: Inbox[Any] = make_from_url(INBOX, url, manager)
    return inbox


def make_saga_storage(url: str, manager: PluginManager | None = None) -> SagaStorage:
    """Build the saga storage that an installed plugin provides for `url`'s scheme."""
    storage: SagaStorage = make_from_url(SAGA_STORAGE, url, manager)
    return storage


def make_consumer_transport(
    url: str,
    *,
    topics: Sequence[str] = (),
    group: str | None = None,
    manager: PluginManager | None = None,
) -> ConsumerTransport[Any]:
    """Build the consumer transport an installed plugin declares for `url`'s scheme.

    `topics` (Kafka topics, RabbitMQ routing keys) and `group` (Kafka's consumer group,
    RabbitMQ's queue) join the URL's query as `topics=a,b` and `group=name`.
    """
    extra = [("topics", ",".join(topics))] if topics else []
    if group:
        extra.append(("group", group))
    if extra:
        url = f"{url}{'&' if '?' in url else '?'}{urlencode(extra)}"
    transport: ConsumerTransport[Any] = make_from_url(CONSUMER_TRANSPORT, url, manager)
    return transport


def adapt_container(container: Any, manager: PluginManager | None = None) -> Container:
    """Return `container` if it already is a `Container`, else a plugin's adapter for it."""
    from cqrs.protocols.container import Container

    if isinstance(container, Container):
        return container
    manager = manager or get_plugin_manager()
    adapted: Container | None = manager.hook.cqrs_adapt_container(container=container)
    if adapted is not None:
        return adapted
    module = type(container).__module__.split(".")[0]
    hint = ""
    if module in _KNOWN_CONTAINERS:
        hint = f" Install the adapter with: pip install {_KNOWN_CONTAINERS[module]}"
    raise PluginError(
        f"{type(container).__module__}.{type(container).__qualname__} is not a cqrs Container "
        f"(it has no async resolve(type)) and no installed plugin adapts it.{hint}"
    )
