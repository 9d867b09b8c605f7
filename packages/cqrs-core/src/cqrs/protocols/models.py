"""Structural types of requests, responses and events, so Pydantic or custom models can be used."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping
from typing import Any, Protocol, Self, runtime_checkable

__all__ = ["IEvent", "INotificationEvent", "IRequest", "IResponse"]


@runtime_checkable
class IRequest(Protocol):
    """A command or query: convertible to and from JSON-compatible builtins."""

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self: ...


@runtime_checkable
class IResponse(Protocol):
    """A handler's result: convertible to and from JSON-compatible builtins."""

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self: ...


@runtime_checkable
class IEvent(Protocol):
    """Any event: convertible to and from JSON-compatible builtins."""

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self: ...


class INotificationEvent(IEvent, Protocol):
    """An event bound for a broker: it names its topic and carries routing metadata."""

    event_id: uuid.UUID
    event_name: str
    topic: str
    timestamp: datetime.datetime
    partition_key: str | None
    correlation_id: str | None
    causation_id: str | None
