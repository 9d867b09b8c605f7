"""Turning URLs and foreign objects into implementations through the installed plugins."""

from __future__ import annotations

from typing import Any

from cqrs.exceptions import PluginError, UnknownSchemeError
from cqrs.plugins.manager import PluginManager, get_plugin_manager
from cqrs.protocols.container import Container
from cqrs.protocols.message_broker import MessageBroker
from cqrs.protocols.outbox import OutboxedEventRepository
from cqrs.redaction import redact_url
from cqrs.saga.storage.protocol import SagaStorage

__all__ = [
    "KNOWN_ADAPTERS",
    "adapt_container",
    "installed_schemes",
    "make_message_broker",
    "make_outbox_repository",
    "make_saga_storage",
    "redact_url",
    "url_scheme",
]

KNOWN_ADAPTERS: dict[str, str] = {
    "kafka": "cqrs-kafka",
    "amqp": "cqrs-rabbitmq",
    "amqps": "cqrs-rabbitmq",
    "redis": "cqrs-redis",
    "rediss": "cqrs-redis",
    "postgresql+asyncpg": "cqrs-sqla",
    "mysql+asyncmy": "cqrs-sqla",
    "sqlite+aiosqlite": "cqrs-sqla",
}
"""URL schemes served by the project's own adapter distributions, for install hints."""

_KNOWN_CONTAINERS = {
    "dependency_injector": "cqrs-dependency-injector",
    "di": "cqrs-di",
}


def url_scheme(url: str) -> str:
    """The scheme of `url`, lower-cased; raises `ValueError` when there is none."""
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise ValueError(f"not a URL (expected scheme://...): {redact_url(url)!r}")
    return scheme.lower()


def installed_schemes(role: str, manager: PluginManager | None = None) -> dict[str, str]:
    """Each URL scheme installed for `role`, mapped to the plugin that provides it."""
    manager = manager or get_plugin_manager()
    found: dict[str, str] = {}
    for impl in manager.hook.cqrs_list_schemes.get_hookimpls():
        roles: dict[str, list[str]] = impl.function() or {}  # type: ignore[assignment]
        for scheme in roles.get(role, ()):
            found.setdefault(scheme, impl.plugin_name)
    return found


def _unknown(role: str, url: str, manager: PluginManager) -> UnknownSchemeError:
    scheme = url_scheme(url)
    installed = installed_schemes(role, manager)
    listing = ", ".join(f"{s}:// ({p})" for s, p in sorted(installed.items())) or "none"
    hint = ""
    if scheme in KNOWN_ADAPTERS:
        hint = f" Install it with: pip install {KNOWN_ADAPTERS[scheme]}"
    return UnknownSchemeError(
        f"no installed plugin provides a {role.replace('_', ' ')} for {scheme}:// "
        f"(url {redact_url(url)!r}). Installed schemes: {listing}.{hint}"
    )


def make_message_broker(url: str, manager: PluginManager | None = None) -> MessageBroker:
    """Build the message broker that an installed plugin provides for `url`'s scheme."""
    manager = manager or get_plugin_manager()
    url_scheme(url)
    broker: MessageBroker | None = manager.hook.cqrs_make_message_broker(url=url)
    if broker is None:
        raise _unknown("message_broker", url, manager)
    return broker


def make_outbox_repository(
    url: str, manager: PluginManager | None = None
) -> OutboxedEventRepository[Any]:
    """Build the outbox repository that an installed plugin provides for `url`'s scheme."""
    manager = manager or get_plugin_manager()
    url_scheme(url)
    outbox: OutboxedEventRepository[Any] | None = manager.hook.cqrs_make_outbox_repository(url=url)
    if outbox is None:
        raise _unknown("outbox", url, manager)
    return outbox


def make_saga_storage(url: str, manager: PluginManager | None = None) -> SagaStorage:
    """Build the saga storage that an installed plugin provides for `url`'s scheme."""
    manager = manager or get_plugin_manager()
    url_scheme(url)
    storage: SagaStorage | None = manager.hook.cqrs_make_saga_storage(url=url)
    if storage is None:
        raise _unknown("saga_storage", url, manager)
    return storage


def adapt_container(container: Any, manager: PluginManager | None = None) -> Container:
    """Return `container` if it already is a `Container`, else a plugin's adapter for it."""
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
