"""Server-Sent Events for streaming mediators and saga streams.

One `result` event per item the stream yields (its JSON form), then an `end` event; when the
handler raises, an `error` event carrying a problem document instead. When the client goes away
the stream is cancelled at once, even while the handler waits between two results, which closes
the handler's generator: its `finally` runs and may still await its cleanup. Built on
Starlette's `StreamingResponse` rather than `fastapi.sse`, which only serves path operations that
are generators themselves and leaves errors and disconnects to them. Example::

    @app.post("/files")
    async def process(command: ProcessFiles, mediator=Depends(streaming)) -> EventStreamResponse:
        return EventStreamResponse(mediator.stream(command))
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Collection, Mapping
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from cqrs.saga.step import SagaStepResult
from cqrs_fastapi.problems import DEFAULT_STATUSES, ProblemPolicy

__all__ = ["EventStreamResponse", "format_event", "to_jsonable"]

_log = logging.getLogger("cqrs_fastapi")

_PING = b": ping\n\n"


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


class _OnceSender:
    """Serializes sends from the stream and the pinger, dropping anything after the last chunk."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._lock = asyncio.Lock()
        self.started = asyncio.Event()
        self.finished = False
        self.last_sent = time.monotonic()

    async def __call__(self, message: Message) -> None:
        async with self._lock:
            if self.finished:
                return
            await self._send(message)
            self.last_sent = time.monotonic()
            if message["type"] == "http.response.start":
                self.started.set()
            elif not message.get("more_body", False):
                self.finished = True


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class EventStreamResponse(StreamingResponse):
    """Streams `results` as Server-Sent Events, closing the stream when the client leaves.

    `event` names the per-item events; `serialize` turns an item into JSON data
    (`to_jsonable` by default); `ping_interval` seconds of silence send a `: ping` comment so
    proxies keep the connection open (`None`: never). The error event's status, and whether
    its `detail` shows the exception's message, follow `statuses` and `public` where given,
    else the policy `add_exception_handlers` installed on the app, else the defaults. The
    stream runs in the context the response was created in, so it stays inside the request's
    container scope.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        results: AsyncIterator[Any],
        *,
        event: str = "result",
        serialize: Callable[[Any], Any] = to_jsonable,
        ping_interval: float | None = 15.0,
        statuses: Mapping[type[Exception], int] | None = None,
        public: Collection[type[BaseException]] | None = None,
        headers: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> None:
        self.results = results
        self.event = event
        self.serialize = serialize
        self.ping_interval = ping_interval
        self.statuses = statuses
        self.public = public
        self._policy = ProblemPolicy()
        self._instance: str | None = None
        self._context = contextvars.copy_context()
        self._body = self._events()
        merged = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})}
        super().__init__(self._body, status_code=status_code, headers=merged)

    async def _events(self) -> AsyncGenerator[bytes, None]:
        count = 0
        try:
            try:
                async for item in self.results:
                    count += 1
                    yield format_event(self.serialize(item), event=self.event, event_id=str(count))
            except Exception as exc:
                status = self._policy.status_for(exc)
                self._policy.report(exc, status, f"event stream failed after {count} result(s)")
                yield format_event(self._policy.body(exc, status, self._instance), event="error")
                return
            yield format_event({"count": count}, event="end")
        finally:
            closing = getattr(self.results, "aclose", None)
            if closing is not None:
                with contextlib.suppress(Exception):
                    await closing()

    async def _stream(self, send: Send) -> None:
        try:
            await self.stream_response(send)
        except OSError:
            _log.debug("client went away while an event was being written")
        finally:
            await self._body.aclose()

    async def _ping(self, send: _OnceSender) -> None:
        interval = self.ping_interval
        assert interval is not None
        await send.started.wait()
        while not send.finished:
            await asyncio.sleep(send.last_sent + interval - time.monotonic())
            if time.monotonic() - send.last_sent >= interval:
                await send({"type": "http.response.body", "body": _PING, "more_body": True})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        policy = ProblemPolicy.of(scope.get("app"))
        self._policy = ProblemPolicy(
            policy.statuses if self.statuses is None else {**DEFAULT_STATUSES, **self.statuses},
            policy.public if self.public is None else tuple(self.public),
        )
        self._instance = scope.get("path")
        sender = _OnceSender(send)
        # A plain task, cancelled once: the handler's `finally` may still await its cleanup.
        stream = asyncio.create_task(self._stream(sender), context=self._context.copy())
        disconnect = asyncio.create_task(_wait_for_disconnect(receive))
        helpers = [disconnect]
        if self.ping_interval is not None:
            helpers.append(asyncio.create_task(self._ping(sender)))
        try:
            await asyncio.wait((stream, disconnect), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stream, *helpers):
                task.cancel()
            with anyio.CancelScope(shield=True):
                await asyncio.gather(stream, *helpers, return_exceptions=True)
        if not stream.cancelled():
            stream.result()
        if self.background is not None:
            await self.background()
