"""Requests (commands and queries), their handlers, the request map and bootstrap."""

from cqrs.requests.cor_request_handler import CORRequestHandler
from cqrs.requests.fallback import RequestHandlerFallback
from cqrs.requests.map import RequestHandlerBinding, RequestMap
from cqrs.requests.request import Request
from cqrs.requests.request_handler import RequestHandler, StreamingRequestHandler

__all__ = [
    "CORRequestHandler",
    "Request",
    "RequestHandler",
    "RequestHandlerBinding",
    "RequestHandlerFallback",
    "RequestMap",
    "StreamingRequestHandler",
]
