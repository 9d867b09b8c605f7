"""RFC 9457 problem responses for the framework's exceptions (and any the application maps).

A problem's `detail` is the exception's message only when the exception is public (see
`is_public`); any other exception gets the status title alone, and secrets are redacted from
details and logs. Example::

    class MeetingNotFound(cqrs.PublicError, LookupError): ...


    add_exception_handlers(app, {MeetingNotFound: 404})
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cqrs.errors import (
    CircuitOpenError,
    ContainerError,
    CQRSError,
    HandlerNotBoundError,
    ModelValidationError,
    PublicError,
)
from cqrs.redaction import redact_text
from cqrs_fastapi._logging import log_redacted

__all__ = [
    "DEFAULT_STATUSES",
    "PROBLEM_CONTENT_TYPE",
    "ProblemPolicy",
    "ProblemResponse",
    "add_exception_handlers",
    "is_public",
    "problem_body",
]

PROBLEM_CONTENT_TYPE = "application/problem+json"

DEFAULT_STATUSES: Mapping[type[Exception], int] = MappingProxyType(
    {
        ModelValidationError: 422,
        CircuitOpenError: 503,
        HandlerNotBoundError: 500,
        ContainerError: 500,
        CQRSError: 500,
    }
)
"""Status of each framework exception; the most specific class in an exception's MRO wins."""

_POLICY_STATE_KEY = "cqrs_problem_policy"

_RFC_9110_TITLES = {
    413: "Content Too Large",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}
"""Titles RFC 9110 renamed, which `http.HTTPStatus` only uses from Python 3.13 on."""


class ProblemResponse(JSONResponse):
    """A JSON response with the `application/problem+json` media type."""

    media_type = PROBLEM_CONTENT_TYPE


def is_public(exc: BaseException, public: Collection[type[BaseException]] = ()) -> bool:
    """Whether `exc`'s message may reach clients: it is a `cqrs.PublicError`, or an instance of
    a class in `public`. A builtin class listed there (`LookupError`) never exposes the
    framework's own errors (`HandlerNotBoundError`); only a listed framework class does."""
    if isinstance(exc, PublicError):
        return True
    framework = isinstance(exc, CQRSError)
    return any(
        isinstance(exc, cls) and (not framework or issubclass(cls, CQRSError)) for cls in public
    )


def problem_body(
    exc: BaseException,
    status: int,
    instance: str | None = None,
    *,
    public: Collection[type[BaseException]] = (),
) -> dict[str, Any]:
    """The problem document for `exc`: its message, with secrets redacted, is the `detail`
    when `exc` is public (see `is_public`); any other exception gets the status title only."""
    body: dict[str, Any] = {"type": "about:blank", "title": _title(status), "status": status}
    if is_public(exc, public):
        body["detail"] = redact_text(str(exc))
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


@dataclasses.dataclass(frozen=True, slots=True)
class ProblemPolicy:
    """How exceptions become problems: each class's status (the most specific class in an
    exception's MRO wins, 500 when none matches) and the classes whose messages are public."""

    statuses: Mapping[type[Exception], int] = dataclasses.field(
        default_factory=lambda: DEFAULT_STATUSES
    )
    public: tuple[type[BaseException], ...] = ()

    @classmethod
    def of(cls, app: Any) -> ProblemPolicy:
        """The policy `add_exception_handlers` installed on `app`, else the default one."""
        found = getattr(getattr(app, "state", None), _POLICY_STATE_KEY, None)
        return found if isinstance(found, ProblemPolicy) else cls()

    def status_for(self, exc: BaseException) -> int:
        """The HTTP status answering `exc`."""
        for cls in type(exc).__mro__:
            if cls in self.statuses:
                return self.statuses[cls]
        return 500

    def body(self, exc: BaseException, status: int, instance: str | None = None) -> dict[str, Any]:
        """The problem document for `exc` (see `problem_body`) under this policy."""
        return problem_body(exc, status, instance, public=self.public)

    def report(self, exc: BaseException, status: int, what: str) -> None:
        """Log a server error with its traceback, secrets redacted; client errors and an open
        circuit (expected while a dependency recovers) are not logged."""
        if status >= 500 and not isinstance(exc, CircuitOpenError):
            log_redacted(what, exc, stacklevel=3)


def add_exception_handlers(
    app: FastAPI,
    statuses: Mapping[type[Exception], int] | None = None,
    *,
    public: Collection[type[BaseException]] = (),
) -> None:
    """Answer the framework's exceptions, and those in `statuses` (exception class -> HTTP
    status, e.g. `{MeetingNotFound: 404}`), with problem responses; server errors are logged.

    Only public exceptions (`cqrs.PublicError`, or classes listed in `public`) show their
    message as `detail`. The policy is kept in `app.state`, so the error events of
    `EventStreamResponse` follow it too.
    """
    policy = ProblemPolicy({**DEFAULT_STATUSES, **(statuses or {})}, tuple(public))
    setattr(app.state, _POLICY_STATE_KEY, policy)

    async def handle(request: Request, exc: Exception) -> ProblemResponse:
        status = policy.status_for(exc)
        policy.report(exc, status, f"{request.method} {request.url.path} failed")
        headers = None
        if isinstance(exc, CircuitOpenError):
            headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
        body = policy.body(exc, status, request.url.path)
        return ProblemResponse(body, status_code=status, headers=headers)

    for exc_type in policy.statuses:
        app.add_exception_handler(exc_type, handle)
