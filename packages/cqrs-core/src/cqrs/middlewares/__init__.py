"""Middlewares wrapping `RequestMediator.send`."""

from cqrs.middlewares.base import MiddlewareChain
from cqrs.middlewares.logging import LoggingMiddleware
from cqrs.protocols.middleware import HandleFunc, Middleware

__all__ = ["HandleFunc", "LoggingMiddleware", "Middleware", "MiddlewareChain"]
