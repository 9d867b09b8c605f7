"""The registry binding each request type to its handler, handler chain or fallback."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeAlias

from cqrs.errors import HandlerNotBoundError
from cqrs.requests.cor_request_handler import CORRequestHandler
from cqrs.requests.fallback import RequestHandlerFallback
from cqrs.requests.request_handler import RequestHandler, StreamingRequestHandler

__all__ = ["RequestHandlerBinding", "RequestMap"]

RequestHandlerBinding: TypeAlias = (
    type[RequestHandler[Any, Any]]
    | type[StreamingRequestHandler[Any, Any]]
    | Sequence[type[CORRequestHandler[Any, Any]]]
    | RequestHandlerFallback
)
"""What `RequestMap.bind` accepts: a handler class, a chain of CoR handlers, or a fallback."""


class RequestMap:
    """Maps each request type to exactly one handler (or one chain, or one fallback pair)."""

    def __init__(self) -> None:
        self._registry: dict[type, RequestHandlerBinding] = {}

    def bind(self, request_type: type, handler: RequestHandlerBinding) -> None:
        """Bind `request_type`; binding a type twice is an error: a request has one handler."""
        if request_type in self._registry:
            raise KeyError(
                f"{request_type.__qualname__} is already bound to "
                f"{_describe(self._registry[request_type])}"
            )
        if isinstance(handler, list | tuple):
            if not handler:
                raise ValueError(f"empty handler chain for {request_type.__qualname__}")
            for link in handler:
                if not (isinstance(link, type) and issubclass(link, CORRequestHandler)):
                    raise TypeError(
                        f"chain links must be CORRequestHandler subclasses, got {link!r}"
                    )
            handler = tuple(handler)
        elif not isinstance(handler, RequestHandlerFallback) and not (
            isinstance(handler, type)
            and issubclass(handler, RequestHandler | StreamingRequestHandler)
        ):
            raise TypeError(
                f"cannot bind {request_type.__qualname__} to {handler!r}: expected a "
                "RequestHandler or StreamingRequestHandler subclass, a list of CORRequestHandler "
                "subclasses or a RequestHandlerFallback"
            )
        self._registry[request_type] = handler

    def get(self, request_type: type) -> RequestHandlerBinding:
        """The binding of `request_type`; raises `HandlerNotBoundError` naming what is bound."""
        try:
            return self._registry[request_type]
        except KeyError:
            bound = ", ".join(sorted(t.__qualname__ for t in self._registry)) or "nothing"
            raise HandlerNotBoundError(
                f"no handler is bound for {request_type.__module__}.{request_type.__qualname__}; "
                f"bound request types: {bound}"
            ) from None

    def __getitem__(self, request_type: type) -> RequestHandlerBinding:
        return self.get(request_type)

    def __contains__(self, request_type: object) -> bool:
        return request_type in self._registry

    def __iter__(self) -> Iterator[type]:
        return iter(self._registry)

    def __len__(self) -> int:
        return len(self._registry)

    def items(self) -> Iterator[tuple[type, RequestHandlerBinding]]:
        """Each bound request type with its binding, in binding order."""
        return iter(self._registry.items())


def _describe(binding: RequestHandlerBinding) -> str:
    if isinstance(binding, tuple):
        return " -> ".join(h.__qualname__ for h in binding)
    if isinstance(binding, RequestHandlerFallback):
        return f"{binding.primary.__qualname__} (fallback {binding.fallback.__qualname__})"
    return getattr(binding, "__qualname__", repr(binding))


def __getattr__(name: str) -> Any:
    """python-cqrs 4.x names kept at this path, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
