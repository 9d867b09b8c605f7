"""The errors at their first path; they live in `cqrs.errors` (the same class objects)."""

from cqrs.errors import (
    CircuitOpenError,
    ContainerError,
    CQRSError,
    DestinationUnavailableError,
    HandlerNotBoundError,
    InvalidTopicError,
    MessageRejectedError,
    ModelValidationError,
    PluginError,
    PublicError,
    PublishBatchError,
    UnknownSchemeError,
)

__all__ = [
    "CQRSError",
    "CircuitOpenError",
    "ContainerError",
    "DestinationUnavailableError",
    "HandlerNotBoundError",
    "InvalidTopicError",
    "MessageRejectedError",
    "ModelValidationError",
    "PluginError",
    "PublicError",
    "PublishBatchError",
    "UnknownSchemeError",
]
