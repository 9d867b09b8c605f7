"""Server-Sent Events for streaming mediators and saga streams.

One `result` event per item the stream yields (its JSON form), then an `end` event; when the
handler raises, an `error` event carrying a problem document instead. When the client goes away
the stream is cancelled at once, which closes the handler's generator (its `finally` runs), even
while it is waiting between two results. Example::

    @app.post("/files")
    async def process(command: ProcessFiles, mediator=Depends(streaming)) -> EventStreamResponse:
        return EventStreamResponse(mediator.stream(command))
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from cqrs.saga.step import SagaStepResult
from cqrs_fastapi.problems import DEFAULT_STATUSES, _status_for, problem_body

__all__ = ["EventStreamResponse", "format_event", "to_jsonable"]

_log = logging.getLogger("cqrs_fastapi")


def to_jsonable(value: Any) -> Any:
    """JSON-compatible data for a streamed item: models through `to_dict`/`model_dump`, saga
    step results as `{"step", "saga_id", "response"}`, dataclasses field by field."""
    if isinstance(value, SagaStepResult):
        return {
            "step": value.step_type.step_name(),
            "saga_id": None if value.saga_id is None else str(value.saga_id),
            "response": to_jsonable(value.response),
        }
    for method, kwargs in (("to_dict", {}), ("model_dump", {"mode": "json"})):
        dump = getattr(value, method, None)
        if callable(dump):
            return dump(**kwargs)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def format_event(data: Any, *, event: str | None = None, event_id: str | None = None) -> bytes:
    """One SSE event: `data` as compact JSON (one `data:` line per line of it)."""
    lines = []
    if event is not None:
        lines.append(f"event: {event}")
    if event_id is not None:
        lines.append(f"id: {event_id}")
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    lines.extend(f"data: {line}" for line in text.splitlines() or [""])
    return ("\n".join(lines) + "\n\n").encode()


class EventStreamResponse(StreamingResponse):
    """Streams `results` as Server-Sent Events, cancelling the stream when the client leaves.

    `event` names the per-item events; `serialize` turns an item into JSON data
    (`to_jsonable` by default); `ping_interval` seconds of silence send a `: ping` comment so
    proxies keep the connection open (`None`: never).
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        results: AsyncIterator[Any],
        *,
        event: str = "result",
        serialize: Callable[[Any], Any] = to_jsonable,
        ping_interval: float | None = 15.0,
        headers: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> None:
        self.results = results
        self.event = event
        self.serialize = serialize
        self.ping_interval = ping_interval
        merged = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})}
        super().__init__(self._events(), status_code=status_code, headers=merged)

    async def _events(self) -> AsyncIterator[bytes]:
        count = 0
        closing = getattr(self.results, "aclose", None)
        try:
            try:
                async for item in self.results:
                    count += 1
                    yield format_event(self.serialize(item), event=self.event, event_id=str(count))
            except Exception as exc:
                status = _status_for(exc, DEFAULT_STATUSES)
                _log.error("event stream failed after %d result(s)", count, exc_info=exc)
                yield format_event(problem_body(exc, status), event="error")
                return
            yield format_event({"count": count}, event="end")
        finally:
            if closing is not None:
                with contextlib.suppress(Exception):
                    await closing()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lock = anyio.Lock()
        started = anyio.Event()
        finished = False

        async def locked_send(message: Message) -> None:
            nonlocal finished
            async with lock:
                if finished:
                    return
                await send(message)
                if message["type"] == "http.response.start":
                    started.set()
                elif not message.get("more_body", False):
                    finished = True

        async with anyio.create_task_group() as group:

            async def stream() -> None:
                with contextlib.suppress(OSError):  # the client went away mid-write
                    await self.stream_response(locked_send)
                group.cancel_scope.cancel()

            async def watch_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            async def ping() -> None:
                assert self.ping_interval is not None
                await started.wait()
                while True:
                    await anyio.sleep(self.ping_interval)
                    await locked_send(
                        {"type": "http.response.body", "body": b": ping\n\n", "more_body": True}
                    )

            group.start_soon(stream)
            group.start_soon(watch_disconnect)
            if self.ping_interval is not None:
                group.start_soon(ping)
        if self.background is not None:
            await self.background()
