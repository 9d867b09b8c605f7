"""The seeds' file-processing stream served as Server-Sent Events by FastAPI.

Run it with `uv run python examples/sse_streaming.py`. `POST /process-files` streams one event
per processed file from a `StreamingRequestHandler` through a `StreamingRequestMediator`; the
handler's domain events are handled (concurrently, up to 3 at once) before each result goes out.
The program serves the app with uvicorn on a free loopback port and reads the stream with httpx,
event by event: a complete run ends with an `end` event, a failing file with an `error` event
(a problem document), and a client that leaves after the first event stops the handler at once.
"""

# expect: result {'file_id': 1, 'status': 'completed'}
# expect: end {'count': 3}
# expect: indexed by the event handler: [1, 2, 3]
# expect: error {'type': 'about:blank', 'title': 'Unprocessable Content', 'status': 422
# expect: client left after file 7; handler closed after 1 file(s)

from __future__ import annotations

import asyncio
import socket
import typing

import fastapi
import httpx
import uvicorn

import cqrs
from cqrs.events.event import Event
from cqrs.requests import bootstrap
from cqrs.requests.request_handler import StreamingRequestHandler
from cqrs_fastapi import (
    EventStreamResponse,
    add_exception_handlers,
    mediator_dependency,
    read_events,
)


class ProcessFilesCommand(cqrs.Request):
    file_ids: list[int]
    slow: bool = False
    """Every file after the first takes an hour: a stream the client will not wait for."""


class FileProcessedResult(cqrs.Response):
    file_id: int
    status: str


class FileProcessedEvent(cqrs.DomainEvent):
    file_id: int


class UnreadableFile(cqrs.PublicError, ValueError):
    """Answered with 422 (its message public): the client sent a file we cannot process."""


class Index:
    """The read model the domain events update."""

    def __init__(self) -> None:
        self.file_ids: list[int] = []


class Progress:
    """What the handlers did, for the program to print."""

    def __init__(self) -> None:
        self.processed = 0
        self.closed = asyncio.Event()


class ProcessFilesCommandHandler(StreamingRequestHandler[ProcessFilesCommand, FileProcessedResult]):
    def __init__(self, progress: Progress) -> None:
        self._events: list[Event] = []
        self._progress = progress

    @property
    def events(self) -> list[Event]:
        return self._events.copy()

    def clear_events(self) -> None:
        self._events.clear()

    async def handle(
        self, request: ProcessFilesCommand
    ) -> typing.AsyncIterator[FileProcessedResult]:
        self._progress.processed = 0
        self._progress.closed.clear()
        try:
            for file_id in request.file_ids:
                if file_id < 0:
                    raise UnreadableFile(f"file {file_id} is not readable")
                if request.slow and self._progress.processed:
                    await asyncio.sleep(3600)
                self._progress.processed += 1
                self._events.append(FileProcessedEvent(file_id=file_id))
                yield FileProcessedResult(file_id=file_id, status="completed")
        finally:
            self._progress.closed.set()


class IndexFile(cqrs.EventHandler[FileProcessedEvent]):
    def __init__(self, index: Index) -> None:
        self._index = index

    async def handle(self, event: FileProcessedEvent) -> None:
        self._index.file_ids.append(event.file_id)


index, progress = Index(), Progress()
container = cqrs.BuiltinContainer()
container.register_instance(Index, index)
container.register_instance(Progress, progress)
broker = cqrs.MemoryMessageBroker()


def commands_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(ProcessFilesCommand, ProcessFilesCommandHandler)


def domain_events_mapper(mapper: cqrs.EventMap) -> None:
    mapper.bind(FileProcessedEvent, IndexFile)


streaming_mediator = bootstrap.bootstrap_streaming(
    di_container=container,
    commands_mapper=commands_mapper,
    domain_events_mapper=domain_events_mapper,
    message_broker=broker,
    max_concurrent_event_handlers=3,
    concurrent_event_handle_enable=True,
)
streaming_mediator_factory = mediator_dependency(lambda: streaming_mediator, container=container)

app = fastapi.FastAPI()
add_exception_handlers(app, {UnreadableFile: 422})


@app.post("/process-files")
async def process_files_stream(
    command: ProcessFilesCommand,
    mediator: cqrs.StreamingRequestMediator = fastapi.Depends(streaming_mediator_factory),
) -> EventStreamResponse:
    return EventStreamResponse(mediator.stream(command))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def process(client: httpx.AsyncClient, file_ids: list[int]) -> None:
    """Print every event of one stream."""
    body = {"file_ids": file_ids}
    async with client.stream("POST", "/process-files", json=body) as response:
        async for event in read_events(response.aiter_lines()):
            print(event.event, event.data)


async def main() -> None:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await process(client, [1, 2, 3])
            print("indexed by the event handler:", index.file_ids)
            await process(client, [4, -5, 6])

            body = {"file_ids": [7, 8, 9], "slow": True}
            async with client.stream("POST", "/process-files", json=body) as response:
                events = read_events(response.aiter_lines())
                first = await anext(events)
                await events.aclose()
            async with asyncio.timeout(5):
                await progress.closed.wait()
            print(
                f"client left after file {first.data['file_id']}; "
                f"handler closed after {progress.processed} file(s)"
            )
    finally:
        server.should_exit = True
        await serving


if __name__ == "__main__":
    asyncio.run(main())
