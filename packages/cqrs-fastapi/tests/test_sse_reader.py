"""`read_events` parses the wire format `EventStreamResponse` writes, and what others write."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from cqrs_fastapi import SseEvent, format_event, read_events


async def _lines(chunks: Iterable[bytes]) -> AsyncIterator[str]:
    for line in b"".join(chunks).decode().split("\n"):
        yield line


async def test_events_written_by_format_event_read_back() -> None:
    chunks = [
        format_event({"file_id": 1, "note": "a\nb"}, event="result", event_id="1"),
        b": ping\n\n",
        format_event({"count": 1}, event="end"),
    ]
    events = [event async for event in read_events(_lines(chunks))]
    assert events == [
        SseEvent("result", {"file_id": 1, "note": "a\nb"}, "1"),
        SseEvent("end", {"count": 1}),
    ]


async def test_unnamed_and_multi_line_data_events() -> None:
    chunks = [b"data: [1,\ndata: 2]\n\n", b"event: x\n\n", b'data:"no space"\n\n']
    events = [event async for event in read_events(_lines(chunks))]
    assert events == [SseEvent("message", [1, 2]), SseEvent("message", "no space")]
