"""Splitting service URLs (`scheme://rest`): the one place core and adapters read a scheme.

Plugins, install hints, redaction and the adapters' URL parsers all split here, so a URL's
scheme means the same thing everywhere::

    from cqrs.urls import partition_url, split_url, url_scheme

    assert split_url("AMQP://guest@mq/") == ("amqp", "guest@mq/")
    assert url_scheme("postgresql+asyncpg://db/app") == "postgresql+asyncpg"
    assert partition_url("AMQP://mq") == ("AMQP", "mq")
    assert partition_url("localhost:5672") is None
"""

from __future__ import annotations

__all__ = ["partition_url", "split_url", "url_scheme"]

_SEPARATOR = "://"


def partition_url(url: str) -> tuple[str, str] | None:
    """`url`'s scheme as written and what follows `://`, or `None` when there is no `://`.

    It never raises, so code that must cope with any text (redaction, error messages) uses it.
    """
    scheme, sep, rest = url.partition(_SEPARATOR)
    return (scheme, rest) if sep else None


def split_url(url: str) -> tuple[str, str]:
    """`url` as its lower-cased scheme and what follows `://`; `ValueError` when it has none."""
    parts = partition_url(url)
    if parts is None or not parts[0]:
        from cqrs.redaction import redact_url

        raise ValueError(f"not a URL (expected scheme://...): {redact_url(url)!r}")
    return parts[0].lower(), parts[1]


def url_scheme(url: str) -> str:
    """The scheme of `url`, lower-cased; raises `ValueError` when there is none."""
    return split_url(url)[0]
