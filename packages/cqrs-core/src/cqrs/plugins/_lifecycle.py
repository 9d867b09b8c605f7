"""The check that a broker made from a URL can be opened and closed by whoever made it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cqrs.errors import PluginError
from cqrs.plugins.declarations import MESSAGE_BROKER
from cqrs.redaction import redact_url
from cqrs.urls import url_scheme

if TYPE_CHECKING:
    from cqrs.brokers.protocol import ManagedMessageBroker
    from cqrs.plugins.manager import PluginManager

__all__ = ["managed_broker"]

_LIFECYCLE = ("connect", "close")


def managed_broker(broker: Any, url: str, manager: PluginManager) -> ManagedMessageBroker:
    """`broker` itself once it has `connect()` and `close()`, else a `PluginError` naming the
    plugin that built it and the methods it lacks (the application could never close it)."""
    missing = [name for name in _LIFECYCLE if not callable(getattr(broker, name, None))]
    if not missing:
        managed: ManagedMessageBroker = broker
        return managed
    entry = manager.schemes.find(MESSAGE_BROKER, url_scheme(url))
    plugin = entry.plugin if entry is not None else type(broker).__module__.partition(".")[0]
    kind = f"{type(broker).__module__}.{type(broker).__qualname__}"
    lacks = " and ".join(f"{name}()" for name in missing)
    raise PluginError(
        f"plugin {plugin!r} built a {kind} for {redact_url(url)} without {lacks}: a message "
        "broker made from a URL must have async connect() and close() (cqrs.ManagedMessageBroker; "
        "no-ops when there is nothing to open or release) so the application can open it at "
        "startup and close it at shutdown"
    )
