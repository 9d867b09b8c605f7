"""Every exception the core raises, so callers can catch them by meaning rather than by message."""

from __future__ import annotations

__all__ = [
    "CQRSError",
    "CircuitOpenError",
    "ContainerError",
    "HandlerNotBoundError",
    "ModelValidationError",
    "PluginError",
    "UnknownSchemeError",
]


class CQRSError(Exception):
    """Base class of the errors raised by the framework."""


class ModelValidationError(CQRSError, ValueError):
    """Input data does not match a model's field types; the message names the failing path."""


class HandlerNotBoundError(CQRSError, LookupError):
    """A request was sent for which no handler is bound; the message lists what is bound."""


class ContainerError(CQRSError, LookupError):
    """The container cannot build the requested type; the message says which parameter."""


class CircuitOpenError(CQRSError):
    """A call was refused because its circuit is open; `retry_after` says when to try again."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(f"circuit {name!r} is open; retry in {retry_after:.1f}s")
        self.name = name
        self.retry_after = retry_after


class PluginError(CQRSError):
    """A plugin could not provide what was asked of it."""


class UnknownSchemeError(PluginError, ValueError):
    """No installed plugin handles a URL's scheme; the message lists what is installed."""
