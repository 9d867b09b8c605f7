"""FastAPI's request validation errors as problem documents (`validation_errors=True`), in the
shape handler errors have, so an API answers every error one way."""

from __future__ import annotations

import fastapi
import httpx
import pytest
from fastapi.exceptions import RequestValidationError

import cqrs
from cqrs_fastapi import PROBLEM_CONTENT_TYPE, add_exception_handlers, problem_body

SECRET = "s3cret-pw"


class MeetingNotFound(cqrs.PublicError, LookupError):
    """A handler's public error, for comparing shapes."""


class JoinMeeting(cqrs.Request):
    user_id: str
    seats: int


class Survey(cqrs.Request):
    a: int
    b: int
    c: int
    d: int
    e: int


def build_app(*, validation_errors: bool = False) -> fastapi.FastAPI:
    app = fastapi.FastAPI()
    add_exception_handlers(app, {MeetingNotFound: 404}, validation_errors=validation_errors)

    @app.post("/meetings/{meeting_id}")
    async def join(meeting_id: int, command: JoinMeeting) -> dict[str, str]:
        raise MeetingNotFound(f"no meeting {meeting_id}")

    @app.post("/surveys")
    async def survey(answers: Survey) -> None:
        return None

    return app


async def post(app: fastapi.FastAPI, path: str, body: object) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://a") as c:
        return await c.post(path, json=body)


async def test_without_the_option_fastapi_answers_validation_errors_itself() -> None:
    response = await post(build_app(), "/meetings/7", {"seats": 2})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"][0]["loc"] == ["body", "user_id"]


async def test_a_validation_error_is_a_problem_like_a_handler_error() -> None:
    app = build_app(validation_errors=True)
    handler_error = await post(app, "/meetings/7", {"user_id": "ada", "seats": 2})
    invalid = await post(app, "/meetings/x", {"seats": "many"})

    assert handler_error.status_code == 404
    assert invalid.status_code == 422
    for response in (handler_error, invalid):
        assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    problem = invalid.json()
    assert set(handler_error.json()) <= set(problem)
    assert problem == {
        "type": "about:blank",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": (
            "path.meeting_id: Input should be a valid integer, unable to parse string as an "
            "integer; body.user_id: Field required; body.seats: Input should be a valid "
            "integer, unable to parse string as an integer"
        ),
        "errors": [
            {
                "loc": ["path", "meeting_id"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "type": "int_parsing",
            },
            {"loc": ["body", "user_id"], "msg": "Field required", "type": "missing"},
            {
                "loc": ["body", "seats"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "type": "int_parsing",
            },
        ],
        "instance": "/meetings/x",
    }


async def test_a_missing_body_is_one_error_on_the_body() -> None:
    response = await post(build_app(validation_errors=True), "/meetings/1", None)
    assert response.status_code == 422
    assert response.json()["detail"] == "body: Field required"


async def test_the_detail_names_the_first_errors_and_counts_the_rest() -> None:
    response = await post(build_app(validation_errors=True), "/surveys", {})
    problem = response.json()
    assert len(problem["errors"]) == 5
    assert problem["detail"] == (
        "body.a: Field required; body.b: Field required; body.c: Field required (and 2 more)"
    )


async def test_the_invalid_input_is_not_echoed() -> None:
    """FastAPI's own answer repeats the input; a problem names the field and the rule only, so a
    password sent in the wrong field does not travel back or into a log of responses."""
    body = {"user_id": "ada", "seats": SECRET}
    plain = await post(build_app(), "/meetings/1", body)
    assert SECRET in plain.text
    problem = await post(build_app(validation_errors=True), "/meetings/1", body)
    assert problem.status_code == 422
    assert SECRET not in problem.text


async def test_the_status_can_be_mapped_like_any_exception() -> None:
    app = fastapi.FastAPI()
    add_exception_handlers(app, {RequestValidationError: 400}, validation_errors=True)

    @app.post("/meetings/{meeting_id}")
    async def join(meeting_id: int, command: JoinMeeting) -> None:
        return None

    response = await post(app, "/meetings/1", {"user_id": "ada"})
    assert response.status_code == 400
    assert response.json()["title"] == "Bad Request"
    assert response.json()["errors"] == [
        {"loc": ["body", "seats"], "msg": "Field required", "type": "missing"}
    ]


@pytest.mark.parametrize(
    ("errors", "detail"),
    [
        ([], "the request is invalid"),
        ([{"loc": (), "msg": "bad", "type": "x"}], "request: bad"),
        (
            [{"loc": ("query", "page"), "msg": f"token={SECRET}", "type": "x"}],
            "query.page: token=***",
        ),
    ],
)
def test_problem_body_of_a_validation_error(errors: list[dict[str, object]], detail: str) -> None:
    body = problem_body(RequestValidationError(errors), 422, "/x")
    assert body["detail"] == detail
    assert SECRET not in str(body)
    assert body["status"] == 422
    assert body["instance"] == "/x"
    assert len(body["errors"]) == len(errors)
