"""What an unknown URL scheme most likely meant, and which distribution would serve it.

The hints read the installed plugins' declarations first. For adapters that are not installed,
`ADAPTER_SCHEMES` names the project's own distributions and the schemes they declare; a test
checks it against those plugins' `cqrs_declare_schemes`, so it cannot drift from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cqrs.errors import UnknownSchemeError
from cqrs.plugins.declarations import (
    CONSUMER_TRANSPORT,
    INBOX,
    MESSAGE_BROKER,
    OUTBOX,
    SAGA_STORAGE,
)
from cqrs.plugins.registry import SchemeRegistry
from cqrs.redaction import redact_url
from cqrs.urls import split_url

__all__ = ["ADAPTER_SCHEMES", "KNOWN_ADAPTERS", "suggest_schemes", "unknown_scheme_error"]

_SQL = ("postgresql+asyncpg", "mysql+asyncmy", "mariadb+asyncmy", "sqlite+aiosqlite")

ADAPTER_SCHEMES: tuple[tuple[str, str, str], ...] = (
    ("cqrs-kafka", MESSAGE_BROKER, "kafka"),
    ("cqrs-kafka", CONSUMER_TRANSPORT, "kafka"),
    ("cqrs-rabbitmq", MESSAGE_BROKER, "amqp"),
    ("cqrs-rabbitmq", MESSAGE_BROKER, "amqps"),
    ("cqrs-rabbitmq", CONSUMER_TRANSPORT, "amqp"),
    ("cqrs-rabbitmq", CONSUMER_TRANSPORT, "amqps"),
    ("cqrs-redis", SAGA_STORAGE, "redis"),
    ("cqrs-redis", SAGA_STORAGE, "rediss"),
    *(("cqrs-sqla", OUTBOX, scheme) for scheme in _SQL),
    *(("cqrs-sqla", INBOX, scheme) for scheme in _SQL),
    *(("cqrs-sqla", SAGA_STORAGE, scheme) for scheme in _SQL),
)
"""`(distribution, role, scheme)` of every scheme the project's adapter plugins declare."""

KNOWN_ADAPTERS: dict[str, str] = {scheme: dist for dist, _, scheme in ADAPTER_SCHEMES}
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


def suggest_schemes(scheme: str, candidates: Iterable[str]) -> list[str]:
    """The schemes among `candidates` that `scheme` most likely meant, best first.

    A scheme without its driver (`postgresql`) gets the candidates that add one
    (`postgresql+asyncpg`); an unknown driver gets the same database with the drivers there
    are; a common alias (`rabbitmq`, `postgres`) is spelt as URLs spell it first.
    """
    known = sorted(set(candidates))
    base, plus, driver = scheme.lower().partition("+")
    base = _SCHEME_ALIASES.get(base, base)
    spelled = f"{base}{plus}{driver}"
    if spelled != scheme and spelled in known:
        return [spelled]
    return [found for found in known if found.partition("+")[0] == base and found != scheme]


def unknown_scheme_error(
    role: str, url: str, registry: SchemeRegistry, failures: Mapping[str, str]
) -> UnknownSchemeError:
    """The error for a `url` no plugin serves for `role`: what was meant, what is installed,
    which plugins failed to load and, for a project adapter, the distribution to install."""
    scheme, rest = split_url(url)
    installed = registry.schemes(role)
    listing = ", ".join(f"{s}:// ({p})" for s, p in sorted(installed.items())) or "none"
    noun = role.replace("_", " ")
    article = "an" if noun[0] in "aeiou" else "a"
    advice = "."
    adapters = {s: dist for dist, r, s in ADAPTER_SCHEMES if r == role}
    install = adapters.get(scheme)
    suggestions = suggest_schemes(scheme, installed)
    if not suggestions and install is None:
        suggestions = suggest_schemes(scheme, adapters)
        if len({adapters[found] for found in suggestions}) == 1:
            install = adapters[suggestions[0]]
    if suggestions:
        spelled = " or ".join(redact_url(f"{found}://{rest}") for found in suggestions)
        advice = f"; did you mean {spelled}?"
    else:
        roles = [r.replace("_", " ") for r in registry.roles_of(scheme) if r != role]
        if roles:
            advice = f"; {scheme}:// is a {' and '.join(roles)} scheme."
        elif install is None:
            others = sorted({r for dist, r, s in ADAPTER_SCHEMES if s == scheme})
            if others:
                named = " and ".join(r.replace("_", " ") for r in others)
                advice = f"; {scheme}:// is a {named} scheme of {KNOWN_ADAPTERS[scheme]}."
    failed = "".join(
        f" Plugin {name!r} failed to load ({error})." for name, error in failures.items()
    )
    hint = f" Install it with: pip install {install}" if install else ""
    return UnknownSchemeError(
        f"no installed plugin provides {article} {noun} for {scheme}:// "
        f"(url {redact_url(url)!r}){advice} Installed schemes: {listing}.{failed}{hint}"
    )
