"""Turning URLs and foreign objects into implementations through the installed plugins."""

from __future__ import annotations

from collections.abc import Iterable
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
    "mariadb+asyncmy": "cqrs-sqla",
    "sqlite+aiosqlite": "cqrs-sqla",
}
"""URL schemes served by the project's own adapter distributions, for install hints."""

_SCHEME_ALIASES = {
    "rabbitmq": "amqp",
    "rabbit": "amqp",
    "rabbitmqs": "amqps",
    "postgres": "postgresql",
    "pgsql": "postgresql",
    "sqlite3": "sqlite",
}
"""Names people write for a scheme that is spelt otherwise in URLs (drivers come from plugins)."""

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


def _suggest_schemes(scheme: str, candidates: Iterable[str]) -> list[str]:
    """The schemes among `candidates` that `scheme` most likely meant, best first.

    A scheme without its driver (`postgresql`) gets the candidates that add one
    (`postgresql+asyncpg`); an unknown driver gets the same database with the drivers there
    are; a common alias (`rabbitmq`, `postgres`) is spelt as URLs spell it first. The
    candidates are what the plugins declare, so the hints follow the installed plugins.
    """
    known = sorted(set(candidates))
    base, plus, driver = scheme.lower().partition("+")
    base = _SCHEME_ALIASES.get(base, base)
    spelled = f"{base}{plus}{driver}"
    if spelled != scheme and spelled in known:
        return [spelled]
    return [found for found in known if found.partition("+")[0] == base and found != scheme]


def _unknown(role: str, url: str, manager: PluginManager) -> UnknownSchemeError:
    scheme = url_scheme(url)
    installed = installed_schemes(role, manager)
    listing = ", ".join(f"{s}:// ({p})" for s, p in sorted(installed.items())) or "none"
    noun = role.replace("_", " ")
    article = "an" if noun[0] in "aeiou" else "a"
    rest = url.partition("://")[2]
    advice = "."
    install = KNOWN_ADAPTERS.get(scheme)
    suggestions = _suggest_schemes(scheme, installed)
    if not suggestions and install is None:
        suggestions = _suggest_schemes(scheme, KNOWN_ADAPTERS)
        if len(suggestions) == 1:
            install = KNOWN_ADAPTERS[suggestions[0]]
    if suggestions:
        spelled = " or ".join(redact_url(f"{found}://{rest}") for found in suggestions)
        advice = f"; did you mean {spelled}?"
    else:
        roles = _roles_serving(scheme, manager)
        if roles:
            advice = f"; {scheme}:// is a {' and '.join(roles)} scheme."
            install = None
    failed = "".join(
        f" Plugin {name!r} failed to load ({error})." for name, error in manager.failures.items()
    )
    hint = f" Install it with: pip install {install}" if install else ""
    return UnknownSchemeError(
        f"no installed plugin provides {article} {noun} for {scheme}:// "
        f"(url {redact_url(url)!r}){advice} Installed schemes: {listing}.{failed}{hint}"
    )


def _roles_serving(scheme: str, manager: PluginManager) -> list[str]:
    """The roles (other than the one asked for) whose installed plugins own `scheme`."""
    roles: list[str] = []
    for impl in manager.hook.cqrs_list_schemes.get_hookimpls():
        declared: dict[str, list[str]] = impl.function() or {}  # type: ignore[assignment]
        roles.extend(
            role.replace("_", " ")
            for role, schemes in declared.items()
            if scheme in schemes and role.replace("_", " ") not in roles
        )
    return roles


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
