"""RFC 9457 problem responses for the framework's exceptions (and any the application maps).

A problem's `detail` is the exception's message only when the exception is public (see
`is_public`); any other exception gets the status title alone, and secrets are redacted from
details and logs. With `validation_errors=True`, FastAPI's request validation errors answer in
the same shape, so an API has one error format. Example::

    class MeetingNotFound(cqrs.PublicError, LookupError): ...


    add_exception_handlers(app, {MeetingNotFound: 404}, validation_errors=True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
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

_DETAILED_ERRORS = 3
"""Validation errors a problem's `detail` spells out; its `errors` member lists them all."""


class ProblemResponse(JSONResponse):
    """A JSON response with the `application/problem+json` media type."""

    media_type = PROBLEM_CONTENT_TYPE


def is_public(exc: BaseException, public: Collection[type[BaseException]] = ()) -> bool:
    """Whether `exc`'s message may reach clients: it is a `cqrs.PublicError`, FastAPI's
    `RequestValidationError` (it describes the client's own input), or an instance of a class
    in `public`. A builtin class listed there (`LookupError`) never exposes the framework's own
    errors (`HandlerNotBoundError`); only a listed framework class does."""
    if isinstance(exc, PublicError | RequestValidationError):
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
    when `exc` is public (see `is_public`); any other exception gets the status title only.

    A `RequestValidationError` gets a `detail` naming the first invalid fields and an `errors`
    member listing each one's `loc`, `msg` and `type` (the input itself is not echoed).
    """
    body: dict[str, Any] = {"type": "about:blank", "title": _title(status), "status": status}
    if isinstance(exc, RequestValidationError):
        errors = _validation_errors(exc)
        body["detail"] = _validation_detail(errors)
        body["errors"] = errors
    elif is_public(exc, public):
        body["detail"] = redact_text(str(exc))
    if instance is not None:
        body["instance"] = instance
    return body


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": [part if isinstance(part, int) else str(part) for part in error.get("loc", ())],
            "msg": redact_text(str(error.get("msg", ""))),
            "type": str(error.get("type", "")),
        }
        for error in exc.errors()
    ]


def _validation_detail(errors: list[dict[str, Any]]) -> str:
    """`body.user_id: Field required; ...`, the first few errors, then how many more."""
    if not errors:
        return "the request is invalid"
    shown = "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'request'}: {error['msg']}"
        for error in errors[:_DETAILED_ERRORS]
    )
    more = len(errors) - _DETAILED_ERRORS
    return f"{shown} (and {more} more)" if more > 0 else shown


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
    validation_errors: bool = False,
) -> None:
    """Answer the framework's exceptions, and those in `statuses` (exception class -> HTTP
    status, e.g. `{MeetingNotFound: 404}`), with problem responses; server errors are logged.

    Only public exceptions (`cqrs.PublicError`, or classes listed in `public`) show their
    message as `detail`. `validation_errors=True` answers FastAPI's request validation errors
    too (422, or the status `statuses` gives `RequestValidationError`), with the invalid
    fields in `detail` and `errors`, instead of FastAPI's own `{"detail": [...]}`. The policy
    is kept in `app.state`, so the error events of `EventStreamResponse` follow it too.
    """
    defaults: dict[type[Exception], int] = dict(DEFAULT_STATUSES)
    if validation_errors:
        defaults[RequestValidationError] = 422
    policy = ProblemPolicy({**defaults, **(statuses or {})}, tuple(public))
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
