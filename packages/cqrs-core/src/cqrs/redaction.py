"""Keeping secrets out of logs, dead-letter reasons and HTTP responses.

Passwords in URLs (`scheme://user:password@host`) and `password=...` style parameters are
replaced by `***` wherever they appear in a text::

    from cqrs.redaction import redact_text

    text = "could not connect to postgresql://app:s3cret@db/app"
    assert redact_text(text) == "could not connect to postgresql://app:***@db/app"
"""

from __future__ import annotations

import re

from cqrs.urls import partition_url

__all__ = ["redact_text", "redact_url"]

_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)(?P<secret>[^\s/]+)@")
_KEY_VALUE = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd|secret|token|api[_-]?key)\s*[=:]\s*)"
    r"(?P<quote>['\"]?)(?P<secret>[^\s'\";&,)\]}]+)",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """`url` with any password replaced by `***`, safe to log or put in an error."""
    parts = partition_url(url)
    if parts is None:
        return url
    scheme, rest = parts
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}{slash}{path}"


def redact_text(text: str) -> str:
    """`text` with every URL password and `password=...`-like value replaced by `***`."""
    if "@" in text:
        text = _URL_PASSWORD.sub(r"\g<head>***@", text)
    if "=" in text or ":" in text:
        text = _KEY_VALUE.sub(r"\g<head>\g<quote>***", text)
    return text
