"""RFC 9457 problem responses for the framework's exceptions (and any the application maps).

Example::

    add_exception_handlers(app, {MeetingNotFound: 404})
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cqrs.exceptions import (
    CircuitOpenError,
    ContainerError,
    CQRSError,
    HandlerNotBoundError,
    ModelValidationError,
)

__all__ = [
    "DEFAULT_STATUSES",
    "PROBLEM_CONTENT_TYPE",
    "ProblemResponse",
    "add_exception_handlers",
    "problem_body",
]

PROBLEM_CONTENT_TYPE = "application/problem+json"

DEFAULT_STATUSES: Mapping[type[Exception], int] = {
    ModelValidationError: 422,
    CircuitOpenError: 503,
    HandlerNotBoundError: 500,
    ContainerError: 500,
    CQRSError: 500,
}
"""Status of each framework exception; the most specific class in an exception's MRO wins."""

_log = logging.getLogger("cqrs_fastapi")

_STATUSES_STATE_KEY = "cqrs_problem_statuses"

_RFC_9110_TITLES = {
    413: "Content Too Large",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}
"""Titles RFC 9110 renamed, which `http.HTTPStatus` only uses from Python 3.13 on."""


class ProblemResponse(JSONResponse):
    """A JSON response with the `application/problem+json` media type."""

    media_type = PROBLEM_CONTENT_TYPE


def problem_body(exc: BaseException, status: int, instance: str | None = None) -> dict[str, Any]:
    """The problem document for `exc`: client errors carry the exception's message, server
    errors only their title, so internals never leak into responses."""
    body: dict[str, Any] = {"type": "about:blank", "title": _title(status), "status": status}
    if status < 500 or isinstance(exc, CircuitOpenError):
        body["detail"] = str(exc)
    if instance is not None:
        body["instance"] = instance
    return body


def _title(status: int) -> str:
    if status in _RFC_9110_TITLES:
        return _RFC_9110_TITLES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Client Error" if status < 500 else "Server Error"


def _logs_failure(exc: BaseException, status: int) -> bool:
    """Server errors are logged with their traceback, except an open circuit, which is expected
    while a dependency recovers."""
    return status >= 500 and not isinstance(exc, CircuitOpenError)


def _status_for(exc: BaseException, statuses: Mapping[type[Exception], int]) -> int:
    for cls in type(exc).__mro__:
        if cls in statuses:
            return statuses[cls]
    return 500


def add_exception_handlers(
    app: FastAPI, statuses: Mapping[type[Exception], int] | None = None
) -> None:
    """Answer the framework's exceptions, and those in `statuses` (exception class -> HTTP
    status, e.g. `{LookupError: 404}`), with problem responses; server errors are logged.

    The table is also kept in `app.state`, so the error events of `EventStreamResponse` use
    the same statuses.
    """
    table: dict[type[Exception], int] = {**DEFAULT_STATUSES, **(statuses or {})}
    setattr(app.state, _STATUSES_STATE_KEY, table)

    async def handle(request: Request, exc: Exception) -> ProblemResponse:
        status = _status_for(exc, table)
        if _logs_failure(exc, status):
            _log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        headers = None
        if isinstance(exc, CircuitOpenError):
            headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
        body = problem_body(exc, status, request.url.path)
        return ProblemResponse(body, status_code=status, headers=headers)

    for exc_type in table:
        app.add_exception_handler(exc_type, handle)
