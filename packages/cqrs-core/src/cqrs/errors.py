"""Every exception of the framework, in one place, so callers catch them by meaning.

All derive from `CQRSError` (and from the builtin they resemble, so `except ValueError` keeps
working); adapters' own errors derive from one of these. `PublicError` is the exception: a mixin
for the application's own errors, not raised by the framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cqrs.brokers.message import Message

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
    "SagaCompensationError",
    "SagaConcurrencyError",
    "SagaLeaseLostError",
    "SagaNotFoundError",
    "SagaRecoveryConfigError",
    "UnknownSchemeError",
]


class CQRSError(Exception):
    """Base class of the errors raised by the framework."""


class PublicError(Exception):
    """Mixin marking an error whose message is written for the caller (a missing meeting, a
    declined card): HTTP integrations show it to clients, any other error's text stays inside.

    It does not derive from `CQRSError` on purpose: applications mark their own errors with it,
    and those must not look like the framework's (`except CQRSError`).
    """


class ModelValidationError(CQRSError, ValueError):
    """Input data does not match a model's field types; the message names the failing path."""


class HandlerNotBoundError(CQRSError, LookupError):
    """A request was sent for which no handler is bound; the message lists what is bound."""


class ContainerError(CQRSError, LookupError):
    """The container cannot build the requested type; the message says which parameter."""


class CircuitOpenError(CQRSError, PublicError):
    """A call was refused because its circuit is open; `retry_after` says when to try again."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(f"circuit {name!r} is open; retry in {retry_after:.1f}s")
        self.name = name
        self.retry_after = retry_after


class PluginError(CQRSError):
    """A plugin could not provide what was asked of it."""


class UnknownSchemeError(PluginError, ValueError):
    """No installed plugin handles a URL's scheme; the message lists what is installed."""


class DestinationUnavailableError(CQRSError, ConnectionError):
    """A broker or service cannot take messages now (down, unreachable, refusing the credentials,
    no route to the topic yet, pushing back): wait and retry, the message is not at fault.

    `topic` is set when only that destination is unavailable (other topics may keep flowing),
    `None` when the whole service is.
    """

    def __init__(self, message: str, *, topic: str | None = None) -> None:
        super().__init__(message)
        self.topic = topic


class MessageRejectedError(CQRSError, ValueError):
    """The destination refused this message itself (too large, invalid topic, ...): sending it
    again cannot succeed, so it is dead-lettered with this error as the reason."""


class InvalidTopicError(MessageRejectedError):
    """A topic name no broker can take (empty, too long, control characters, or outside the
    broker's rules); raised where the event is added, before anything is written."""


class PublishBatchError(CQRSError):
    """`send_many` delivered only part of a batch.

    `delivered` lists the messages the broker accepted, `failed` each refused message with its
    error, and `unsent` the messages never tried (they are not at fault).
    """

    def __init__(
        self,
        delivered: list[Message],
        failed: list[tuple[Message, BaseException]],
        unsent: list[Message] | None = None,
    ) -> None:
        unsent = unsent or []
        if failed:
            first = failed[0][1]
            what = f"{len(failed)} message(s) refused (first: {type(first).__name__}: {first})"
        else:
            what = "no message refused"
        super().__init__(f"{what}; {len(delivered)} delivered, {len(unsent)} not sent")
        self.delivered = delivered
        self.failed = failed
        self.unsent = unsent


class SagaConcurrencyError(CQRSError):
    """Another writer changed the saga (stale version) or holds its lease."""


class SagaLeaseLostError(SagaConcurrencyError):
    """This driver's lease ran out and could not be renewed while a step ran: another worker
    may drive the saga now, so the step's result was not recorded."""


class SagaNotFoundError(CQRSError, ValueError):
    """No saga has this id. A `ValueError`, as python-cqrs 4.x raised for an unknown saga."""


class SagaCompensationError(CQRSError):
    """Compensation kept failing: the saga is FAILED and needs attention."""


class SagaRecoveryConfigError(CQRSError, ValueError):
    """A recovery worker was configured so that it would lose the events of resumed steps."""
