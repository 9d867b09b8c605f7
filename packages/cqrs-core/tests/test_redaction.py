"""Secrets never survive `redact_text`, and nothing else in the text is lost."""

from __future__ import annotations

import pytest

from cqrs.redaction import redact_text, redact_url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "connect postgresql+asyncpg://app:s3cret@db:5432/app failed",
            "connect postgresql+asyncpg://app:***@db:5432/app failed",
        ),
        ("amqp://guest:gu@st@mq/ down", "amqp://guest:***@mq/ down"),
        ("mysql+asyncmy://root@db/test", "mysql+asyncmy://root@db/test"),
        ("password=hunter2 host=db", "password=*** host=db"),
        ("token: abc123, next", "token: ***, next"),
        ("(using password: YES)", "(using password: ***)"),
        ("no secret here", "no secret here"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_redact_url_keeps_user_host_and_path() -> None:
    assert redact_url("redis://user:pw@cache:6379/0") == "redis://user:***@cache:6379/0"
    assert redact_url("not a url") == "not a url"
