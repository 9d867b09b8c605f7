"""Plugin system: hook specifications, scheme declarations, the plugin manager, URL resolution.

Third parties publish a module under the `cqrs` entry-point group whose functions are marked
`@hookimpl` and named after the specifications in `cqrs.plugins.hookspecs`; a plugin serving
URLs declares each scheme once with `cqrs_declare_schemes`, returning `SchemeDeclaration`s.
"""

from cqrs.plugins.declarations import (
    CONSUMER_TRANSPORT,
    INBOX,
    MESSAGE_BROKER,
    OUTBOX,
    SAGA_STORAGE,
    Factory,
    SchemeDeclaration,
    load_factory,
)
from cqrs.plugins.hints import KNOWN_ADAPTERS
from cqrs.plugins.manager import (
    AUTOLOAD_ENV,
    ENTRY_POINT_GROUP,
    PluginManager,
    get_plugin_manager,
    new_plugin_manager,
    set_plugin_manager,
)
from cqrs.plugins.markers import hookimpl
from cqrs.plugins.registry import RegisteredScheme, SchemeRegistry
from cqrs.plugins.resolve import (
    adapt_container,
    installed_schemes,
    make_consumer_transport,
    make_from_url,
    make_inbox,
    make_message_broker,
    make_outbox_repository,
    make_saga_storage,
)
from cqrs.redaction import redact_url
from cqrs.urls import split_url, url_scheme

__all__ = [
    "AUTOLOAD_ENV",
    "CONSUMER_TRANSPORT",
    "ENTRY_POINT_GROUP",
    "INBOX",
    "KNOWN_ADAPTERS",
    "MESSAGE_BROKER",
    "OUTBOX",
    "SAGA_STORAGE",
    "Factory",
    "PluginManager",
    "RegisteredScheme",
    "SchemeDeclaration",
    "SchemeRegistry",
    "adapt_container",
    "get_plugin_manager",
    "hookimpl",
    "installed_schemes",
    "load_factory",
    "make_consumer_transport",
    "make_from_url",
    "make_inbox",
    "make_message_broker",
    "make_outbox_repository",
    "make_saga_storage",
    "new_plugin_manager",
    "redact_url",
    "set_plugin_manager",
    "split_url",
    "url_scheme",
]
