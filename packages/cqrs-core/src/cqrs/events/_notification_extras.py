"""What python-cqrs 4.x's notification event bases offered beyond their fields, written once for
the `DC*` and Pydantic bases."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Self

__all__: list[str] = []


class NotificationExtras:
    """`event_timestamp` and the protobuf hooks `proto` / `from_proto` (which `cqrs-protobuf`
    calls; a subclass that publishes as protobuf overrides both)."""

    if TYPE_CHECKING:  # a field of the classes this is mixed into, not of the mixin
        timestamp: datetime.datetime

    @property
    def event_timestamp(self) -> datetime.datetime:
        """`timestamp` under python-cqrs 4.x's name."""
        return self.timestamp

    def proto(self) -> Any:
        """The event as a protobuf message; override it to publish with `cqrs-protobuf`."""
        raise NotImplementedError(f"{type(self).__qualname__} does not define proto()")

    @classmethod
    def from_proto(cls, proto: Any) -> Self:
        """The event rebuilt from its protobuf message; override it together with `proto`."""
        raise NotImplementedError(f"{cls.__qualname__} does not define from_proto()")
