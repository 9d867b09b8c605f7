"""Interception points on every path: requests, streams, event handlers, saga steps, publishes
and consumed messages, through one `Interceptor` type (see docs/middlewares.md)."""

from cqrs.interception.interceptor import Interceptor, PublishCall, SagaRunCall, SagaStepCall
from cqrs.interception.registry import register, registered, unregister

__all__ = [
    "Interceptor",
    "PublishCall",
    "SagaRunCall",
    "SagaStepCall",
    "register",
    "registered",
    "unregister",
]
