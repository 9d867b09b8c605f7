"""Problem responses leak nothing: one test per row of the failure-mode table in docs/fastapi.md.

Every exception here carries a DSN with a password. Only public errors (`cqrs.PublicError`, or
classes listed in `public=`) show their message, with the password redacted; everything else
gets the status title only, in plain responses and in the error event of a stream alike, and
the logs of server errors carry the redacted text only.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import fastapi
import httpx
import pytest

import cqrs
from cqrs.exceptions import (
    CircuitOpenError,
    ContainerError,
    HandlerNotBoundError,
    ModelValidationError,
)
from cqrs_fastapi import (
    DEFAULT_STATUSES,
    EventStreamResponse,
    ProblemPolicy,
    add_exception_handlers,
    is_public,
    problem_body,
)

SECRET = "s3cret-pw"
DSN = f"postgresql://app:{SECRET}@db.internal/app"
REDACTED_DSN = "postgresql://app:***@db.internal/app"


class MeetingNotFound(cqrs.PublicError, LookupError):
    """The application's own error, marked public."""


class QuotaExceeded(Exception):
    """An error class the application cannot change, made public with `public=`."""


class Settings(cqrs.Response):
    pool_size: int


def _raise(name: str) -> None:
    """Raise the exception a route or a stream fails with, by name; each quotes the DSN."""
    if name == "public":
        raise MeetingNotFound(f"no meeting in {DSN}")
    if name == "listed":
        raise QuotaExceeded(f"quota of {DSN} exceeded")
    if name == "builtin-4xx":
        raise KeyError(f"no row at {DSN}")
    if name == "validation":
        Settings.from_dict({"pool_size": DSN})  # server-side data, not the client's
    if name == "framework-5xx":
        raise ContainerError(f"cannot build Repository({DSN!r})")
    if name == "builtin-5xx":
        raise ConnectionRefusedError(f"could not connect to {DSN}")
    if name == "unmapped":
        raise RuntimeError(f"pool for {DSN} is exhausted")
    if name == "circuit":
        raise CircuitOpenError(f"billing at {DSN}", retry_after=2.0)
    raise AssertionError(name)


def build_app() -> fastapi.FastAPI:
    app = fastapi.FastAPI()
    add_exception_handlers(
        app,
        {LookupError: 404, QuotaExceeded: 429, ConnectionError: 502},
        public={QuotaExceeded},
    )

    @app.get("/fail/{name}")
    async def fail(name: str) -> None:
        _raise(name)

    @app.get("/stream/{name}")
    async def stream(name: str) -> EventStreamResponse:
        async def results() -> AsyncIterator[dict[str, int]]:
            yield {"n": 1}
            _raise(name)

        return EventStreamResponse(results(), ping_interval=None)

    return app


async def _get(name: str) -> httpx.Response:
    transport = httpx.ASGITransport(build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        return await client.get(f"/fail/{name}")


async def _error_event(serve: Any, sse: Any, name: str) -> dict[str, Any]:
    async with (
        serve(build_app()) as url,
        httpx.AsyncClient(base_url=url) as client,
        client.stream("GET", f"/stream/{name}") as response,
    ):
        events = [event async for event in sse(response)]
    assert [e.event for e in events] == ["result", "error"]
    data: dict[str, Any] = events[1].data
    return data


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Callable[[], str]:
    """What `cqrs_fastapi` logged, formatted as a standard handler writes it."""
    caplog.set_level(logging.ERROR, logger="cqrs_fastapi")
    return lambda: "\n".join(
        caplog.handler.format(r) for r in caplog.records if r.name == "cqrs_fastapi"
    )


# --- one test per row of the table --------------------------------------------------------------


async def test_public_error_shows_its_message_with_secrets_redacted(logs: Any) -> None:
    response = await _get("public")
    assert response.status_code == 404
    assert response.json()["detail"] == f"no meeting in {REDACTED_DSN}"
    assert logs() == "", "client errors are not logged"


async def test_class_listed_in_public_shows_its_message_with_secrets_redacted() -> None:
    response = await _get("listed")
    assert response.status_code == 429
    assert response.json()["detail"] == f"quota of {REDACTED_DSN} exceeded"


async def test_builtin_exception_mapped_to_4xx_gets_the_title_only(logs: Any) -> None:
    response = await _get("builtin-4xx")
    assert response.status_code == 404
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "instance": "/fail/builtin-4xx",
    }
    assert logs() == ""


async def test_model_validation_error_gets_the_title_only() -> None:
    response = await _get("validation")
    assert response.status_code == 422
    assert "detail" not in response.json()
    assert response.json()["title"] == "Unprocessable Content"


@pytest.mark.parametrize("name", ["framework-5xx", "builtin-5xx"])
async def test_server_error_gets_the_title_only_and_is_logged_redacted(
    logs: Any, name: str
) -> None:
    response = await _get(name)
    assert response.status_code in (500, 502)
    assert "detail" not in response.json()
    logged = logs()
    assert f"GET /fail/{name} failed" in logged
    assert "Traceback (most recent call last)" in logged
    assert REDACTED_DSN in logged
    assert SECRET not in logged


async def test_open_circuit_keeps_its_retry_detail_redacted_and_is_not_logged(
    logs: Any,
) -> None:
    response = await _get("circuit")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert (
        response.json()["detail"] == f"circuit 'billing at {REDACTED_DSN}' is open; retry in 2.0s"
    )
    assert logs() == ""


async def test_unmapped_exception_in_a_plain_route_is_left_to_fastapi() -> None:
    response = await _get("unmapped")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"


@pytest.mark.parametrize(
    ("name", "status", "detail"),
    [
        ("public", 404, f"no meeting in {REDACTED_DSN}"),
        ("listed", 429, f"quota of {REDACTED_DSN} exceeded"),
        ("builtin-4xx", 404, None),
        ("validation", 422, None),
        ("framework-5xx", 500, None),
        ("builtin-5xx", 502, None),
        ("unmapped", 500, None),
    ],
)
async def test_stream_error_event_follows_the_same_rules(
    serve: Any, sse: Any, logs: Any, name: str, status: int, detail: str | None
) -> None:
    data = await _error_event(serve, sse, name)
    assert data["status"] == status
    assert data.get("detail") == detail
    logged = logs()
    assert SECRET not in logged
    if status >= 500:
        assert "event stream failed after 1 result(s)" in logged
        assert REDACTED_DSN in logged


# --- the rules themselves ---------------------------------------------------------------------


def test_a_listed_builtin_class_never_exposes_framework_errors() -> None:
    assert is_public(KeyError("k"), {LookupError})
    assert not is_public(HandlerNotBoundError("bound: ..."), {LookupError})
    assert not is_public(ModelValidationError("x"), {ValueError})
    assert is_public(ModelValidationError("x"), {ModelValidationError})
    assert is_public(CircuitOpenError("c", retry_after=1.0))
    assert not is_public(RuntimeError("r"))


def test_problem_body_and_policy_agree() -> None:
    policy = ProblemPolicy({**DEFAULT_STATUSES, LookupError: 404}, (QuotaExceeded,))
    assert policy.status_for(KeyError("k")) == 404
    assert policy.status_for(HandlerNotBoundError("h")) == 500
    assert policy.status_for(RuntimeError("r")) == 500
    assert policy.body(QuotaExceeded(DSN), 429)["detail"] == REDACTED_DSN
    assert "detail" not in problem_body(QuotaExceeded(DSN), 429)
    assert ProblemPolicy.of(fastapi.FastAPI()) == ProblemPolicy()
