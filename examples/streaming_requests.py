"""The seeds' `ProcessFilesCommand`: a streaming handler yielding one result per file.

Run it with `uv run python examples/streaming_requests.py`. `ProcessFilesCommandHandler` is an
async generator; after each result it yields, `StreamingRequestMediator` handles the events the
handler emitted for that file (a domain event updating an index, and a notification event sent
to the in-memory broker) before passing the result on, so the caller sees progress in real time
and the index is already up to date for every file reported (also the skipped empty one).
"""

# expect: progress 1/3: report.pdf completed (indexed: ['report.pdf'])
# expect: progress 2/3: empty.txt skipped (indexed: ['report.pdf', 'empty.txt'])
# expect: progress 3/3: photo.png completed (indexed: ['report.pdf', 'empty.txt', 'photo.png'])
# expect: broker: 2 FileProcessed messages on topic 'files' for ['report.pdf', 'photo.png']

from __future__ import annotations

import asyncio
import json
import typing

import cqrs
from cqrs.events.event import Event
from cqrs.requests import bootstrap
from cqrs.requests.request_handler import StreamingRequestHandler

SIZES = {"report.pdf": 1200, "empty.txt": 0, "photo.png": 5400}


class ProcessFilesCommand(cqrs.Request):
    file_ids: list[str]


class FileProcessedResult(cqrs.Response):
    file_id: str
    status: str
    done: int
    total: int


class FileProcessedEvent(cqrs.DomainEvent):
    file_id: str
    size: int


class FileProcessedPayload(cqrs.Response):
    file_id: str
    size: int


class Index:
    """The read model the domain events keep up to date (a singleton)."""

    def __init__(self) -> None:
        self.file_ids: list[str] = []


class ProcessFilesCommandHandler(StreamingRequestHandler[ProcessFilesCommand, FileProcessedResult]):
    def __init__(self) -> None:
        self._events: list[Event] = []

    @property
    def events(self) -> list[Event]:
        return self._events.copy()

    def clear_events(self) -> None:
        self._events.clear()

    async def handle(
        self, request: ProcessFilesCommand
    ) -> typing.AsyncIterator[FileProcessedResult]:
        total = len(request.file_ids)
        for done, file_id in enumerate(request.file_ids, start=1):
            await asyncio.sleep(0)  # the real work: parsing, thumbnails, virus scan...
            size = SIZES[file_id]
            self._events.append(FileProcessedEvent(file_id=file_id, size=size))
            if size:
                self._events.append(
                    cqrs.NotificationEvent[FileProcessedPayload](
                        event_name="FileProcessed",
                        topic="files",
                        payload=FileProcessedPayload(file_id=file_id, size=size),
                    )
                )
            status = "completed" if size else "skipped"
            yield FileProcessedResult(file_id=file_id, status=status, done=done, total=total)


class IndexFile(cqrs.EventHandler[FileProcessedEvent]):
    def __init__(self, index: Index) -> None:
        self.index = index

    async def handle(self, event: FileProcessedEvent) -> None:
        self.index.file_ids.append(event.file_id)


async def main() -> None:
    container = cqrs.BuiltinContainer()
    container.register(Index, lifetime="singleton")
    broker = cqrs.MemoryMessageBroker()
    mediator = bootstrap.bootstrap_streaming(
        di_container=container,
        commands_mapper=lambda m: m.bind(ProcessFilesCommand, ProcessFilesCommandHandler),
        domain_events_mapper=lambda m: m.bind(FileProcessedEvent, IndexFile),
        message_broker=broker,
        max_concurrent_event_handlers=3,
        concurrent_event_handle_enable=True,
    )
    index = container.get(Index)
    command = ProcessFilesCommand(file_ids=list(SIZES))
    async for result in mediator.stream(command):
        print(
            f"progress {result.done}/{result.total}: {result.file_id} {result.status} "
            f"(indexed: {index.file_ids})"
        )

    messages = broker.messages["files"]
    published = [json.loads(m.payload)["payload"]["file_id"] for m in messages]
    print(f"broker: {len(messages)} FileProcessed messages on topic 'files' for {published}")
    await broker.close()


if __name__ == "__main__":
    asyncio.run(main())
