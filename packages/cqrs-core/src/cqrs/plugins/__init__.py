"""Plugin system: hook specifications, the plugin manager and URL resolution.

Third parties publish a module under the `cqrs` entry-point group whose functions are marked
`@hookimpl` and named after the specifications in `cqrs.plugins.hookspecs`.
"""

import pluggy

from cqrs.plugins.manager import (
    AUTOLOAD_ENV,
    ENTRY_POINT_GROUP,
    PluginManager,
    get_plugin_manager,
    new_plugin_manager,
    set_plugin_manager,
)
from cqrs.plugins.resolve import (
    KNOWN_ADAPTERS,
    adapt_container,
    installed_schemes,
    make_message_broker,
    make_outbox_repository,
    make_saga_storage,
    redact_url,
    url_scheme,
)

__all__ = [
    "AUTOLOAD_ENV",
    "ENTRY_POINT_GROUP",
    "KNOWN_ADAPTERS",
    "PluginManager",
    "adapt_container",
    "get_plugin_manager",
    "hookimpl",
    "installed_schemes",
    "make_message_broker",
    "make_outbox_repository",
    "make_saga_storage",
    "new_plugin_manager",
    "redact_url",
    "set_plugin_manager",
    "url_scheme",
]

hookimpl = pluggy.HookimplMarker("cqrs")
"""Marks a plugin's function as the implementation of the hook it is named after."""
