"""Requests (commands and queries), their handlers, the request map and bootstrap."""

from cqrs.requests.cor_request_handler import CORRequestHandler
from cqrs.requests.fallback import RequestHandlerFallback
from cqrs.requests.map import RequestHandlerBinding, RequestMap
from cqrs.requests.request import Request
from cqrs.requests.request_handler import RequestHandler, StreamingRequestHandler
from cqrs.requests.response import Response

__all__ = [
    "CORRequestHandler",
    "Request",
    "RequestHandler",
    "RequestHandlerBinding",
    "RequestHandlerFallback",
    "RequestMap",
    "Response",
    "StreamingRequestHandler",
]

_LAZY = ("bootstrap", "mermaid")


def __getattr__(name: str) -> object:
    """Load the submodules in `_LAZY` on first attribute access (they import the mediators)."""
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
