"""The default JSON serializer used for broker messages, and how events meet any serializer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cqrs.protocols.serializer import EventSerializer, Serializer

__all__ = ["JsonSerializer", "event_dumper"]


class JsonSerializer:
    """Compact UTF-8 JSON; rejects NaN so every payload is valid JSON for other languages."""

    content_type = "application/json"

    def dumps(self, data: Any) -> bytes:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()

    def loads(self, raw: bytes) -> Any:
        return json.loads(raw)


def event_dumper(serializer: Serializer | EventSerializer) -> Callable[[Any], bytes]:
    """The function turning an event into bytes with `serializer`: its `dumps_event` when it
    serializes whole events (protobuf), else `dumps(event.to_dict())`."""
    dumps_event: Callable[[Any], bytes] | None = getattr(serializer, "dumps_event", None)
    if dumps_event is not None:
        return dumps_event
    dumps: Callable[[Any], bytes] = serializer.dumps  # type: ignore[union-attr]
    return lambda event: dumps(event.to_dict())


def __getattr__(name: str) -> Any:
    """python-cqrs 4.x names kept at this path, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
