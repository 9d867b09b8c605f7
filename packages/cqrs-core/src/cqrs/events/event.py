"""The default event models: in-process domain events and broker-bound notification events."""

from __future__ import annotations

import dataclasses
import datetime
import os
import typing
import uuid
from typing import Any, ClassVar, Generic, TypeVar

from cqrs.clock import utcnow
from cqrs.model import Model

__all__ = ["DEFAULT_OUTPUT_TOPIC", "DomainEvent", "Event", "NotificationEvent", "PayloadT"]

PayloadT = TypeVar("PayloadT")

DEFAULT_OUTPUT_TOPIC = os.environ.get("DEFAULT_OUTPUT_TOPIC", "output_topic")
"""The topic of a notification event that names none: the `DEFAULT_OUTPUT_TOPIC` environment
variable when the module is imported, else `"output_topic"` (python-cqrs 4.x's default)."""


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
    topic: str = DEFAULT_OUTPUT_TOPIC
    payload: PayloadT
    event_id: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    timestamp: datetime.datetime = dataclasses.field(default_factory=utcnow)
    partition_key: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None

    @property
    def event_timestamp(self) -> datetime.datetime:
        """`timestamp` under python-cqrs 4.x's name."""
        return self.timestamp

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


def __getattr__(name: str) -> Any:
    """python-cqrs 4.x names kept at this path, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
