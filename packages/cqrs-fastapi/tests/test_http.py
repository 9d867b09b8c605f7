"""cqrs-fastapi over real HTTP: uvicorn on a loopback port, httpx as the client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import fastapi
import httpx
import pytest

import cqrs
from cqrs.exceptions import CircuitOpenError
from cqrs.requests import bootstrap
from cqrs.requests.request_handler import StreamingRequestHandler
from cqrs.saga import Saga, SagaContext, SagaStepHandler, SagaStepResult
from cqrs.saga import bootstrap as saga_bootstrap
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs_fastapi import (
    PROBLEM_CONTENT_TYPE,
    EventStreamResponse,
    add_exception_handlers,
    mediator_dependency,
)


class Audit:
    """A request-lifetime service: one per HTTP request."""

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex


class Store:
    def __init__(self) -> None:
        self.meetings: dict[str, tuple[str, str]] = {}


class MeetingNotFound(cqrs.PublicError, LookupError):
    pass


class CreateMeeting(cqrs.Request):
    meeting_id: str
    title: str


class GetMeeting(cqrs.Request):
    meeting_id: str


class Unbound(cqrs.Request):
    pass


class Overloaded(cqrs.Request):
    pass


class MeetingView(cqrs.Response):
    meeting_id: str
    title: str
    created_by_request: str
    read_by_request: str


class CreateMeetingHandler(cqrs.RequestHandler[CreateMeeting, None]):
    def __init__(self, store: Store, audit: Audit) -> None:
        self.store = store
        self.audit = audit

    async def handle(self, request: CreateMeeting) -> None:
        self.store.meetings[request.meeting_id] = (request.title, self.audit.token)


class GetMeetingHandler(cqrs.RequestHandler[GetMeeting, MeetingView]):
    def __init__(self, store: Store, audit: Audit) -> None:
        self.store = store
        self.audit = audit

    async def handle(self, request: GetMeeting) -> MeetingView:
        if request.meeting_id not in self.store.meetings:
            raise MeetingNotFound(f"no meeting {request.meeting_id}")
        title, created_by = self.store.meetings[request.meeting_id]
        return MeetingView(
            meeting_id=request.meeting_id,
            title=title,
            created_by_request=created_by,
            read_by_request=self.audit.token,
        )


class OverloadedHandler(cqrs.RequestHandler[Overloaded, None]):
    async def handle(self, request: Overloaded) -> None:
        raise CircuitOpenError("billing", retry_after=7.2)


class ProcessFiles(cqrs.Request):
    count: int
    fail_after: int | None = None
    fail_with: str = "disk"
    stall_after: int | None = None


class FileProcessed(cqrs.Response):
    file_id: int
    status: str
    request_token: str


class Probe:
    """What the streaming handler saw: items produced, and whether its generator was closed."""

    def __init__(self) -> None:
        self.produced = 0
        self.closed = asyncio.Event()


class ProcessFilesHandler(StreamingRequestHandler[ProcessFiles, FileProcessed]):
    def __init__(self, probe: Probe, audit: Audit) -> None:
        self.probe = probe
        self.audit = audit

    async def handle(self, request: ProcessFiles) -> AsyncIterator[FileProcessed]:  # type: ignore[override]
        try:
            for file_id in range(1, request.count + 1):
                if request.fail_after is not None and file_id > request.fail_after:
                    if request.fail_with == "lookup":
                        raise MeetingNotFound(f"no file {file_id}")
                    raise RuntimeError("disk on fire")
                if request.stall_after is not None and file_id > request.stall_after:
                    await asyncio.sleep(30)
                self.probe.produced += 1
                yield FileProcessed(file_id=file_id, status="done", request_token=self.audit.token)
        finally:
            # cleanup that awaits, like closing a session: it must not be cut short
            await asyncio.sleep(0.01)
            self.probe.closed.set()


class OrderContext(SagaContext):
    order_id: str
    reserved: bool = False
    charged: bool = False


class Reserved(cqrs.Response):
    order_id: str


COMPENSATED: list[str] = []


class Reserve(SagaStepHandler[OrderContext, Reserved]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, Reserved]:
        context.reserved = True
        return self._generate_step_result(Reserved(order_id=context.order_id))

    async def compensate(self, context: OrderContext) -> None:
        COMPENSATED.append(context.order_id)


class CardDeclined(Exception):
    pass


class Charge(SagaStepHandler[OrderContext, Reserved]):
    async def act(self, context: OrderContext) -> SagaStepResult[OrderContext, Reserved]:
        if context.order_id.startswith("declined"):
            raise CardDeclined(f"card declined for {context.order_id}")
        context.charged = True
        return self._generate_step_result(Reserved(order_id=context.order_id))


class OrderSaga(Saga[OrderContext]):
    steps = (Reserve, Charge)


def build_app(*, lifespan: Any = None) -> tuple[fastapi.FastAPI, cqrs.BuiltinContainer, Probe]:
    container = cqrs.BuiltinContainer()
    container.register(Store, lifetime="singleton")
    container.register(Audit, lifetime="request")
    probe = Probe()
    container.register_instance(Probe, probe)

    def commands(mapper: cqrs.RequestMap) -> None:
        mapper.bind(CreateMeeting, CreateMeetingHandler)
        mapper.bind(Overloaded, OverloadedHandler)

    def queries(mapper: cqrs.RequestMap) -> None:
        mapper.bind(GetMeeting, GetMeetingHandler)

    mediator = bootstrap.bootstrap(
        di_container=container, commands_mapper=commands, queries_mapper=queries
    )
    streaming = bootstrap.bootstrap_streaming(
        di_container=container,
        commands_mapper=lambda m: m.bind(ProcessFiles, ProcessFilesHandler),
    )
    sagas = saga_bootstrap.bootstrap(
        di_container=container,
        sagas_mapper=lambda m: m.bind(OrderContext, OrderSaga),
        saga_storage=MemorySagaStorage(),
    )
    Mediator = mediator_dependency(lambda: mediator, container=container)

    def mediator_factory() -> cqrs.RequestMediator:
        return mediator

    Streaming = mediator_dependency(lambda: streaming, container=container)

    app = fastapi.FastAPI(lifespan=lifespan)
    add_exception_handlers(app, {MeetingNotFound: 404, CardDeclined: 402}, public={CardDeclined})

    @app.post("/meetings/{meeting_id}")
    async def create(
        meeting_id: str, title: str, mediator: cqrs.RequestMediator = fastapi.Depends(Mediator)
    ) -> dict[str, Any]:
        await mediator.send(CreateMeeting(meeting_id=meeting_id, title=title))
        view = await mediator.send(GetMeeting(meeting_id=meeting_id))
        return view.to_dict()

    @app.get("/meetings/{meeting_id}")
    async def read(
        meeting_id: str, mediator: cqrs.RequestMediator = fastapi.Depends(Mediator)
    ) -> dict[str, Any]:
        view = await mediator.send(GetMeeting(meeting_id=meeting_id))
        return view.to_dict()

    @app.get("/plain/{meeting_id}")
    async def plain(
        meeting_id: str, mediator: cqrs.RequestMediator = fastapi.Depends(mediator_factory)
    ) -> dict[str, Any]:
        view = await mediator.send(GetMeeting(meeting_id=meeting_id))
        return view.to_dict()

    @app.post("/validate")
    async def validate(body: dict[str, Any]) -> dict[str, Any]:
        return CreateMeeting.from_dict(body).to_dict()

    @app.post("/unbound")
    async def unbound(mediator: cqrs.RequestMediator = fastapi.Depends(Mediator)) -> None:
        await mediator.send(Unbound())

    @app.post("/overloaded")
    async def overloaded(mediator: cqrs.RequestMediator = fastapi.Depends(Mediator)) -> None:
        await mediator.send(Overloaded())

    @app.get("/files")
    async def files(
        count: int,
        fail_after: int | None = None,
        fail_with: str = "disk",
        stall_after: int | None = None,
        mediator: cqrs.StreamingRequestMediator = fastapi.Depends(Streaming),
    ) -> EventStreamResponse:
        command = ProcessFiles(
            count=count, fail_after=fail_after, fail_with=fail_with, stall_after=stall_after
        )
        token = container.get(Audit).token
        return EventStreamResponse(mediator.stream(command), headers={"X-Request-Token": token})

    @app.post("/orders/{order_id}")
    async def order(order_id: str) -> EventStreamResponse:
        return EventStreamResponse(sagas.stream(OrderContext(order_id=order_id)), event="step")

    return app, container, probe


async def test_commands_and_queries_share_request_scoped_services_within_one_request(
    serve: Any,
) -> None:
    app, _, _ = build_app()
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        first = (await client.post("/meetings/m1", params={"title": "Planning"})).json()
        second = (await client.post("/meetings/m2", params={"title": "Retro"})).json()
        read = (await client.get("/meetings/m1")).json()
    assert first["title"] == "Planning"
    assert first["created_by_request"] == first["read_by_request"]
    assert second["created_by_request"] == second["read_by_request"]
    assert first["created_by_request"] != second["created_by_request"]
    assert read["created_by_request"] == first["created_by_request"]
    assert read["read_by_request"] not in (first["read_by_request"], second["read_by_request"])


async def test_exceptions_become_problem_responses(serve: Any) -> None:
    app, _, _ = build_app()
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        missing = await client.get("/meetings/nope")
        invalid = await client.post("/validate", json={"meeting_id": 7, "title": "T"})
        unbound = await client.post("/unbound")
        overloaded = await client.post("/overloaded")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert missing.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no meeting nope",
        "instance": "/meetings/nope",
    }
    assert invalid.status_code == 422
    assert "detail" not in invalid.json(), "a validation message may quote internal data"
    assert unbound.status_code == 500
    assert unbound.json()["title"] == "Internal Server Error"
    assert "detail" not in unbound.json(), "server errors do not leak internals"
    assert overloaded.status_code == 503
    assert overloaded.headers["retry-after"] == "7"
    assert "billing" in overloaded.json()["detail"]


async def test_sse_streams_one_event_per_result_then_an_end_event(serve: Any, sse: Any) -> None:
    app, _, _ = build_app()
    async with (
        serve(app) as url,
        httpx.AsyncClient(base_url=url) as client,
        client.stream("GET", "/files", params={"count": 3}) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [event async for event in sse(response)]
    assert [(e.event, e.id) for e in events] == [
        ("result", "1"),
        ("result", "2"),
        ("result", "3"),
        ("end", None),
    ]
    assert [e.data["file_id"] for e in events[:3]] == [1, 2, 3]
    assert events[-1].data == {"count": 3}


async def test_a_failing_handler_ends_the_stream_with_an_error_event(serve: Any, sse: Any) -> None:
    app, _, probe = build_app()
    async with (
        serve(app) as url,
        httpx.AsyncClient(base_url=url) as client,
        client.stream("GET", "/files", params={"count": 3, "fail_after": 1}) as response,
    ):
        events = [event async for event in sse(response)]
    assert [e.event for e in events] == ["result", "error"]
    assert events[1].data["status"] == 500
    assert "disk on fire" not in str(events[1].data), "server errors do not leak internals"
    assert probe.closed.is_set()


async def test_a_client_disconnect_stops_the_handler(serve: Any, sse: Any) -> None:
    app, _, probe = build_app()
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        params = {"count": 5, "stall_after": 1}
        async with client.stream("GET", "/files", params=params) as response:
            events = sse(response)
            first = await anext(events)
            assert first.data["file_id"] == 1
            await events.aclose()
        # the response is closed: the handler, stalled before its second file, must be closed
        async with asyncio.timeout(5):
            await probe.closed.wait()
    assert probe.produced == 1


async def test_a_saga_streams_one_event_per_step(serve: Any, sse: Any) -> None:
    app, _, _ = build_app()
    async with (
        serve(app) as url,
        httpx.AsyncClient(base_url=url) as client,
        client.stream("POST", "/orders/o-7") as response,
    ):
        events = [event async for event in sse(response)]
    assert [e.event for e in events] == ["step", "step", "end"]
    assert [e.data["step"] for e in events[:2]] == ["Reserve", "Charge"]
    assert events[0].data["response"] == {"order_id": "o-7"}
    assert events[0].data["saga_id"] == events[1].data["saga_id"]
    uuid.UUID(events[0].data["saga_id"])


@pytest.mark.parametrize("count", [1, 4])
async def test_sse_event_ids_count_results(serve: Any, sse: Any, count: int) -> None:
    app, _, _ = build_app()
    async with (
        serve(app) as url,
        httpx.AsyncClient(base_url=url) as client,
        client.stream("GET", "/files", params={"count": count}) as response,
    ):
        events = [event async for event in sse(response)]
    assert [e.id for e in events if e.event == "result"] == [str(n) for n in range(1, count + 1)]
    assert events[-1].data == {"count": count}


async def test_the_seeds_plain_dependency_style_works(serve: Any) -> None:
    app, _, _ = build_app()
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        await client.post("/meetings/m1", params={"title": "Planning"})
        view = await client.get("/plain/m1")
    assert view.status_code == 200
    assert view.json()["title"] == "Planning"


async def test_a_stream_runs_inside_its_requests_container_scope(serve: Any, sse: Any) -> None:
    app, _, _ = build_app()
    tokens = []
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        for _ in range(2):
            async with client.stream("GET", "/files", params={"count": 3}) as response:
                events = [event async for event in sse(response)]
            seen = {e.data["request_token"] for e in events if e.event == "result"}
            assert seen == {response.headers["x-request-token"]}
            tokens.append(seen.pop())
    assert tokens[0] != tokens[1]


async def test_a_stream_error_uses_the_apps_status_mapping(serve: Any, sse: Any) -> None:
    app, _, _ = build_app()
    params = {"count": 3, "fail_after": 2, "fail_with": "lookup"}
    async with (
        serve(app) as url,
        httpx.AsyncClient(base_url=url) as client,
        client.stream("GET", "/files", params=params) as response,
    ):
        events = [event async for event in sse(response)]
    assert [e.event for e in events] == ["result", "result", "error"]
    assert events[-1].data == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no file 3",
        "instance": "/files",
    }


async def test_a_silent_stream_sends_keep_alive_comments(serve: Any) -> None:
    """The handler waits until the client has seen a ping, so no timing is assumed."""
    pinged = asyncio.Event()

    async def results() -> AsyncIterator[dict[str, int]]:
        yield {"n": 1}
        await pinged.wait()
        yield {"n": 2}

    app = fastapi.FastAPI()

    @app.get("/quiet")
    async def quiet() -> EventStreamResponse:
        return EventStreamResponse(results(), ping_interval=0.01)

    lines = []
    async with (
        serve(app) as url,
        httpx.AsyncClient(base_url=url) as client,
        client.stream("GET", "/quiet") as response,
    ):
        async for line in response.aiter_lines():
            lines.append(line)
            if line == ": ping":
                pinged.set()
    first_ping = lines.index(": ping")
    assert lines[:first_ping] == ["event: result", "id: 1", 'data: {"n":1}', ""]
    assert 'data: {"n":2}' in lines[first_ping:]
    assert [line for line in lines if line.startswith("data:")][-1] == 'data: {"count":2}'


async def test_a_failing_saga_is_compensated_then_ends_with_an_error_event(
    serve: Any, sse: Any
) -> None:
    app, _, _ = build_app()
    async with (
        serve(app) as url,
        httpx.AsyncClient(base_url=url) as client,
        client.stream("POST", "/orders/declined-1") as response,
    ):
        events = [event async for event in sse(response)]
    assert [e.event for e in events] == ["step", "error"]
    assert events[1].data["status"] == 402
    assert events[1].data["detail"] == "card declined for declined-1"
    assert "declined-1" in COMPENSATED
