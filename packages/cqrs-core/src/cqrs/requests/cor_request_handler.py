"""Chain-of-responsibility handlers: each either handles a request or passes it on."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from cqrs.requests.request_handler import RequestHandler

__all__ = ["CORRequestHandler"]

ReqT = TypeVar("ReqT")
ResT = TypeVar("ResT")


class CORRequestHandler(RequestHandler[ReqT, ResT | None], Generic[ReqT, ResT]):
    """One link of a chain bound with `RequestMap.bind(Request, [First, Second, ...])`."""

    _next_handler: CORRequestHandler[ReqT, ResT] | None = None

    def set_next(self, handler: CORRequestHandler[ReqT, ResT]) -> CORRequestHandler[ReqT, ResT]:
        """Link `handler` after this one and return it, so links can be chained."""
        self._next_handler = handler
        return handler

    async def next(self, request: ReqT) -> ResT | None:
        """Pass the request to the next link; `None` when this is the last one."""
        if self._next_handler is None:
            return None
        return await self._next_handler.handle(request)


def __getattr__(name: str) -> Any:
    """python-cqrs 4.x names kept at this path, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
