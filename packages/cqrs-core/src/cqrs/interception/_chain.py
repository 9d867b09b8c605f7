"""Composing the interceptors that override one hook into a single callable, once."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from cqrs.interception import registry
from cqrs.interception.interceptor import Interceptor, PublishCall, SagaRunCall, SagaStepCall

if TYPE_CHECKING:
    from cqrs.brokers.message import Message
    from cqrs.brokers.protocol import MessageBroker

__all__: list[str] = []

SendOne = Callable[["Message"], Awaitable[None]]
SendMany = Callable[[list["Message"]], Awaitable[None]]

_Handle = Callable[[Any], Awaitable[Any]]
_F = TypeVar("_F", bound=Callable[[Any], Awaitable[Any]])


class Interception:
    """The interceptors one object applies, per hook: the registered ones (outermost), then its
    own. A `watcher` (the object composing chains from this) gets `_reintercept()` called when
    the registration changes."""

    __slots__ = ("own",)

    def __init__(self, own: Sequence[Interceptor] = (), watcher: object | None = None) -> None:
        for interceptor in own:
            if not isinstance(interceptor, Interceptor):
                raise TypeError(f"{interceptor!r} is not a cqrs.interception.Interceptor")
        self.own = tuple(own)
        if watcher is not None:
            registry.watch(watcher)

    def overriding(self, hook: str) -> list[Interceptor]:
        """The interceptors whose class overrides `hook`, outermost first."""
        default = getattr(Interceptor, hook)
        return [
            i for i in (*registry.registered(), *self.own) if getattr(type(i), hook) is not default
        ]

    def observers(self, hook: str) -> tuple[Callable[..., None], ...]:
        """The `hook` methods (`on_*` notifications) of the interceptors overriding it."""
        return tuple(getattr(i, hook) for i in self.overriding(hook))

    def request(self, handle: _Handle) -> _Handle | None:
        """`handle` wrapped by every `intercept_request`, or `None` when nobody intercepts."""
        return _wrap(self.overriding("intercept_request"), "intercept_request", handle)

    def publishers(
        self, broker: MessageBroker, source: Literal["relay", "producer", "emitter"]
    ) -> tuple[SendOne, SendMany | None] | None:
        """`broker.send_message` and `broker.send_many` (`None` if it has none), each wrapped
        by every `intercept_publish`; `None` when nobody intercepts (then call the broker's
        own methods, looked up when used)."""
        send_message = broker.send_message
        many = getattr(broker, "send_many", None)
        send_many: SendMany | None = many if callable(many) else None
        interceptors = self.overriding("intercept_publish")
        if not interceptors:
            return None
        system = getattr(broker, "messaging_system", None)

        async def each(call: PublishCall) -> None:
            for message in call.messages:
                await send_message(message)

        one = _wrap_publish(interceptors, each)

        async def intercepted_one(message: Message) -> None:
            await one(PublishCall((message,), source, system))

        if send_many is None:
            return intercepted_one, None
        sending_many = send_many

        async def together(call: PublishCall) -> None:
            await sending_many(list(call.messages))

        many_chain = _wrap_publish(interceptors, together)

        async def intercepted_many(messages: list[Message]) -> None:
            await many_chain(PublishCall(messages, source, system))

        return intercepted_one, intercepted_many

    def consume(self, handle: _Handle) -> _Handle | None:
        """`handle` wrapped by every `intercept_consume`, or `None` when nobody intercepts."""
        return _wrap(self.overriding("intercept_consume"), "intercept_consume", handle)

    def stream(
        self,
    ) -> Callable[[Any, Callable[[Any], AsyncIterator[Any]]], AsyncIterator[Any]] | None:
        """A function streaming a request through every `intercept_stream` down to the given
        `proceed`, or `None` when nobody intercepts."""
        return self._iterating("intercept_stream")

    def sagas(
        self,
    ) -> Callable[[SagaRunCall, Callable[[Any], AsyncIterator[Any]]], AsyncIterator[Any]] | None:
        """A function running a saga through every `intercept_saga` down to the given
        `proceed`, or `None` when nobody intercepts."""
        return self._iterating("intercept_saga")

    def _iterating(
        self, hook: str
    ) -> Callable[[Any, Callable[[Any], AsyncIterator[Any]]], AsyncIterator[Any]] | None:
        interceptors = self.overriding(hook)
        if not interceptors:
            return None

        def run(subject: Any, proceed: Callable[[Any], AsyncIterator[Any]]) -> AsyncIterator[Any]:
            wrapped = proceed
            for interceptor in reversed(interceptors):
                wrapped = _bind_iterating(getattr(interceptor, hook), wrapped)
            return wrapped(subject)

        return run

    def event(
        self, handler: type, run: Callable[[Any], Awaitable[Sequence[Any]]]
    ) -> Callable[[Any], Awaitable[Sequence[Any]]]:
        """`run` (one handler's step) wrapped by every `intercept_event`, or `run` itself."""
        wrapped = run
        for interceptor in reversed(self.overriding("intercept_event")):
            wrapped = _bind_event(interceptor, handler, wrapped)
        return wrapped

    def saga_steps(
        self,
    ) -> Callable[[SagaStepCall, Callable[[], Awaitable[Any]]], Awaitable[Any]] | None:
        """A function running a step through every `intercept_saga_step`, or `None`."""
        interceptors = tuple(self.overriding("intercept_saga_step"))
        if not interceptors:
            return None

        async def run(step: SagaStepCall, proceed: Callable[[], Awaitable[Any]]) -> Any:
            return await _saga_at(interceptors, 0, step, proceed)()

        return run


def _wrap(interceptors: list[Interceptor], hook: str, handle: _F) -> _F | None:
    if not interceptors:
        return None
    wrapped: Any = handle
    for interceptor in reversed(interceptors):
        wrapped = _bind(getattr(interceptor, hook), wrapped)
    return cast("_F", wrapped)


def _wrap_publish(
    interceptors: list[Interceptor], publish: Callable[[PublishCall], Awaitable[None]]
) -> Callable[[PublishCall], Awaitable[None]]:
    wrapped: Any = publish
    for interceptor in reversed(interceptors):
        wrapped = _bind(interceptor.intercept_publish, wrapped)
    return cast("Callable[[PublishCall], Awaitable[None]]", wrapped)


def _bind(method: Callable[[Any, Any], Awaitable[Any]], proceed: Any) -> Any:
    async def call(subject: Any) -> Any:
        return await method(subject, proceed)

    return call


def _bind_iterating(
    method: Callable[[Any, Callable[[Any], AsyncIterator[Any]]], AsyncIterator[Any]],
    proceed: Callable[[Any], AsyncIterator[Any]],
) -> Callable[[Any], AsyncIterator[Any]]:
    return lambda subject: method(subject, proceed)


async def closing(
    items: AsyncIterator[Any], opened: Sequence[AsyncGenerator[Any, None]]
) -> AsyncGenerator[Any, None]:
    """`items` (an interceptors' chain) as an async generator whose `aclose` closes `items`,
    then the generators under it, even if an interceptor forgot to."""
    try:
        async for item in items:
            yield item
    finally:
        close = getattr(items, "aclose", None)
        if close is not None:
            await close()
        for generator in opened:
            await generator.aclose()


def _bind_event(
    interceptor: Interceptor, handler: type, proceed: Callable[[Any], Awaitable[Sequence[Any]]]
) -> Callable[[Any], Awaitable[Sequence[Any]]]:
    async def call(event: Any) -> Sequence[Any]:
        return await interceptor.intercept_event(event, handler, proceed)

    return call


def _saga_at(
    interceptors: tuple[Interceptor, ...],
    index: int,
    step: SagaStepCall,
    proceed: Callable[[], Awaitable[Any]],
) -> Callable[[], Awaitable[Any]]:
    if index == len(interceptors):
        return proceed
    interceptor = interceptors[index]
    following = _saga_at(interceptors, index + 1, step, proceed)
    return lambda: interceptor.intercept_saga_step(step, following)
