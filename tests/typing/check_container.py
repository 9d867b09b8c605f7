"""Static checks of container registration and lookup by protocol and ABC keys.

`register`, `register_instance`, `get`, `resolve` and `factory` accept a protocol or an abstract
class as the key with no `type-abstract` error, and return that key's type. Lines ending in
`# type: ignore[...]` must produce exactly that error (see `check_public_api.py`).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, Protocol, assert_type

import cqrs


class Clock(Protocol):
    def now(self) -> float: ...


class Mailer(abc.ABC):
    @abc.abstractmethod
    def send(self, to: str) -> None: ...


class FixedClock:
    def now(self) -> float:
        return 0.0


class Smtp(Mailer):
    def send(self, to: str) -> None:
        pass


class Unrelated:
    pass


def make_clock() -> FixedClock:
    return FixedClock()


async def protocol_keys(container: cqrs.BuiltinContainer) -> None:
    container.register(Clock, FixedClock, lifetime="singleton")
    container.register(Clock, make_clock)
    container.register_instance(Clock, FixedClock())
    container.register(Mailer, Smtp)
    container.register_instance(Mailer, Smtp())
    assert_type(container.get(Clock), Clock)
    assert_type(await container.resolve(Clock), Clock)
    assert_type(container.factory(Clock), Callable[[], Clock])
    assert_type(container.get(Mailer), Mailer)
    container.register(FixedClock, Unrelated)  # type: ignore[arg-type]
    # A provider that does not build the key is refused; mypy reports it against the first
    # overload (`type[T]`), so the abstract key adds a `type-abstract` line to the error.
    container.register(Clock, Unrelated)  # type: ignore[type-abstract,arg-type]
    container.register(Mailer, make_clock)  # type: ignore[type-abstract,arg-type]


async def generic_protocol_keys(
    container: cqrs.BuiltinContainer, outbox: cqrs.MemoryOutboxedEventRepository
) -> None:
    container.register_instance(cqrs.OutboxedEventRepository[Any], outbox)
    assert_type(container.get(cqrs.OutboxedEventRepository[Any]), cqrs.OutboxedEventRepository[Any])


async def class_keys(container: cqrs.BuiltinContainer) -> None:
    container.register(FixedClock, lifetime="singleton")
    container.register_instance(FixedClock, FixedClock())
    assert_type(container.get(FixedClock), FixedClock)
    assert_type(await container.resolve(FixedClock), FixedClock)


async def through_the_protocol(container: cqrs.Container) -> None:
    assert_type(await container.resolve(FixedClock), FixedClock)
