"""Models for code that declares them with `@dataclasses.dataclass`, as python-cqrs 4.x's `DC*` did.

The default models (`cqrs.Request`, `cqrs.DomainEvent`, ...) become dataclasses by themselves;
these bases do not, so subclasses keep their own decorator::

    @dataclasses.dataclass(frozen=True)
    class OrderPlaced(DCDomainEvent):
        order_id: str

The event bases are frozen, so their subclasses must be too; requests and responses are not.
They share `to_dict`/`from_dict` with the default models.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from typing import ClassVar, Generic, TypeVar

from cqrs.clock import utcnow
from cqrs.events._notification_extras import NotificationExtras
from cqrs.events.event import DEFAULT_OUTPUT_TOPIC
from cqrs.model import _Convertible

__all__ = ["DCDomainEvent", "DCEvent", "DCNotificationEvent", "DCRequest", "DCResponse"]

PayloadT = TypeVar("PayloadT")


@dataclasses.dataclass
class DCRequest(_Convertible):
    """A command or query whose subclasses are declared with `@dataclasses.dataclass`."""


@dataclasses.dataclass
class DCResponse(_Convertible):
    """A handler result whose subclasses are declared with `@dataclasses.dataclass`."""


@dataclasses.dataclass(frozen=True)
class DCEvent(_Convertible):
    """An immutable event; subclasses are declared with `@dataclasses.dataclass(frozen=True)`."""


@dataclasses.dataclass(frozen=True)
class DCDomainEvent(DCEvent):
    """An immutable event handled inside the process that emitted it."""


@dataclasses.dataclass(frozen=True)
class DCNotificationEvent(DCEvent, NotificationExtras, Generic[PayloadT]):
    """An immutable event published to a message broker, with the fields of
    `cqrs.NotificationEvent`; equal events hash alike by `event_id`."""

    __cqrs_notification__: ClassVar[bool] = True

    event_name: str
    payload: PayloadT
    event_id: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    timestamp: datetime.datetime = dataclasses.field(default_factory=utcnow)
    topic: str = DEFAULT_OUTPUT_TOPIC
    _: dataclasses.KW_ONLY
    partition_key: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None

    def __hash__(self) -> int:
        return hash(self.event_id)
