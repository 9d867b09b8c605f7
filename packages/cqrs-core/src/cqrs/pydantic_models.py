"""Pydantic v2 flavours of the models, for applications that validate with Pydantic.

They need the `pydantic` extra (`pip install "cqrs-core[pydantic]"`) and offer the same
`to_dict`/`from_dict` as the dataclass models, so mediators and brokers treat them alike.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, Self, TypeVar

import pydantic

from cqrs.clock import utcnow
from cqrs.errors import ModelValidationError
from cqrs.events._notification_extras import NotificationExtras
from cqrs.events.event import DEFAULT_OUTPUT_TOPIC

__all__ = [
    "PydanticDomainEvent",
    "PydanticEvent",
    "PydanticModel",
    "PydanticNotificationEvent",
    "PydanticRequest",
    "PydanticResponse",
]

PayloadT = TypeVar("PayloadT")


class PydanticModel(pydantic.BaseModel):
    """Base of the Pydantic models: adds the framework's `to_dict`/`from_dict` to `BaseModel`."""

    def to_dict(self) -> dict[str, Any]:
        """Return the model as JSON-compatible builtins (`model_dump(mode="json")`)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None = None, /, **fields: Any) -> Self:
        """Validate `data` into the model; raises `ModelValidationError` naming each bad field.

        The fields may also come as keywords, `from_dict(**data)`, as python-cqrs 4.x called it.
        """
        try:
            if fields:
                data = {**data, **fields} if data is not None else fields
            return cls.model_validate({} if data is None else dict(data))
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}"
                for error in exc.errors()
            )
            raise ModelValidationError(f"{cls.__name__}: {problems}") from exc


class PydanticRequest(PydanticModel):
    """A command or query validated by Pydantic."""


class PydanticResponse(PydanticModel):
    """A handler result validated by Pydantic."""


class PydanticEvent(PydanticModel):
    """Base of the Pydantic events; any subclass bound in a domain events map is handled."""


class PydanticDomainEvent(PydanticEvent):
    """A Pydantic event handled inside the process that emitted it."""


class PydanticNotificationEvent(PydanticEvent, NotificationExtras, Generic[PayloadT]):
    """A Pydantic event published to a message broker; the fields of `cqrs.NotificationEvent`.

    `PydanticNotificationEvent[Payload]` is a real (cached) subclass, so it binds in an `EventMap`.
    """

    __cqrs_notification__: ClassVar[bool] = True

    event_name: str
    topic: str = DEFAULT_OUTPUT_TOPIC
    payload: PayloadT
    event_id: uuid.UUID = pydantic.Field(default_factory=uuid.uuid4)
    timestamp: datetime.datetime = pydantic.Field(default_factory=utcnow)
    partition_key: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
