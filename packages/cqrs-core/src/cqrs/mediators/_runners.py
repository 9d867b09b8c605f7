"""Compiles a request binding into the coroutine function that runs it."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from cqrs._fallback import run_with_fallback
from cqrs._handler_source import HandlerSource
from cqrs.requests.fallback import RequestHandlerFallback
from cqrs.requests.map import RequestHandlerBinding

__all__: list[str] = []

Runner = Callable[[Any], Awaitable[tuple[Any, list[Any]]]]
"""Runs a request through its binding; returns the result and the events emitted."""


def compile_runner(binding: RequestHandlerBinding, handlers: HandlerSource) -> Runner:
    """The runner for a handler class, a chain of CoR handlers or a fallback pair."""
    if isinstance(binding, RequestHandlerFallback):
        return _fallback(binding, handlers)
    if not isinstance(binding, type):
        return _chain(tuple(binding), handlers)
    handler_type: type = binding

    async def run(request: Any) -> tuple[Any, list[Any]]:
        handler = await handlers.build(handler_type)
        result = await handler.handle(request)
        return result, list(handler.events)

    return run


def _chain(links: tuple[type, ...], handlers: HandlerSource) -> Runner:
    async def run(request: Any) -> tuple[Any, list[Any]]:
        built = [await handlers.build(link) for link in links]
        for current, following in itertools.pairwise(built):
            current.set_next(following)
        result = await built[0].handle(request)
        return result, [event for handler in built for event in handler.events]

    return run


def _fallback(binding: RequestHandlerFallback, handlers: HandlerSource) -> Runner:
    async def attempt(handler_type: type, request: Any) -> tuple[Any, list[Any]]:
        handler = await handlers.build(handler_type)
        result = await handler.handle(request)
        return result, list(handler.events)

    async def run(request: Any) -> tuple[Any, list[Any]]:
        return await run_with_fallback(
            binding.primary,
            lambda: attempt(binding.primary, request),
            lambda: attempt(binding.fallback, request),
            binding.failure_exceptions,
            binding.circuit_breaker,
        )

    return run
