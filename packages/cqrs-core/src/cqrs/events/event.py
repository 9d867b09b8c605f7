"""The default event models: in-process domain events and broker-bound notification events."""

from __future__ import annotations

import dataclasses
import datetime
import typing
import uuid
from typing import Any, ClassVar, Generic, TypeVar

from cqrs.clock import utcnow
from cqrs.model import Model

__all__ = ["DomainEvent", "Event", "NotificationEvent", "PayloadT"]

PayloadT = TypeVar("PayloadT")


class Event(Model):
    """Base of every event; any subclass bound in a domain events map is handled in-process."""


class DomainEvent(Event):
    """An event handled inside the process that emitted it."""


class NotificationEvent(Event, Generic[PayloadT]):
    """An event published to a message broker (notification or ECST), with routing metadata.

    `NotificationEvent[Payload]` is a real subclass whose `payload` field has type `Payload`, so it
    can be bound in an `EventMap`, checked with `isinstance` and rebuilt by `from_dict`.
    """

    __cqrs_notification__: ClassVar[bool] = True
    _cqrs_parametrized: ClassVar[dict[Any, type]]

    event_name: str
    topic: str
    payload: PayloadT
    event_id: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    timestamp: datetime.datetime = dataclasses.field(default_factory=utcnow)
    partition_key: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None

    def __class_getitem__(cls, params: Any) -> Any:
        alias = super().__class_getitem__(params)  # type: ignore[misc]
        if getattr(alias, "__parameters__", ()):
            return alias
        cache: dict[Any, type] = cls.__dict__.get("_cqrs_parametrized") or {}
        if "_cqrs_parametrized" not in cls.__dict__:
            cls._cqrs_parametrized = cache
        concrete = cache.get(params)
        if concrete is None:
            arg = typing.get_args(alias)[0]
            name = f"{cls.__name__}[{getattr(arg, '__qualname__', repr(arg))}]"
            namespace = {
                "__annotations__": {"payload": arg},
                "__module__": cls.__module__,
                "__qualname__": name,
                "__orig_bases__": (alias,),
            }
            concrete = cache[params] = type(name, (cls,), namespace)
        return concrete
