"""Hook implementations of the aiobreaker plugin (it provides no URL scheme, only a name)."""

from __future__ import annotations

from cqrs.plugins import hookimpl


@hookimpl
def cqrs_list_schemes() -> dict[str, list[str]]:
    """The role this plugin serves: `AioBreakerAdapter`, a circuit breaker (no URL scheme)."""
    return {"circuit_breaker": ["aiobreaker"]}
