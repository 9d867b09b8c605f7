"""Telling destination faults from message faults, the split every relay and consumer acts on.

A **destination fault** means the broker or a service is unavailable (down, unreachable, wrong
credentials, no route yet, back-pressure): the message is not to blame, so it is kept, no
attempt is charged and nothing is dead-lettered; the caller waits and tries again. A **message
fault** means this one message cannot be sent or handled (malformed, too large, invalid topic,
a handler bug): it is retried a bounded number of times, then dead-lettered with the reason.

Adapters teach `classify` their library's errors through the `cqrs_classify_error` hook::

    from cqrs.faults import Fault, classify

    assert classify(ConnectionRefusedError()) is Fault.DESTINATION
    assert classify(ValueError("bad payload")) is Fault.MESSAGE
"""

from __future__ import annotations

import enum
import errno
import socket

from cqrs.errors import DestinationUnavailableError, MessageRejectedError

__all__ = ["Fault", "classify", "is_destination_fault"]


class Fault(enum.Enum):
    """Who is to blame for a failure: where the message goes, or the message itself."""

    DESTINATION = "destination"
    """The broker or a service is unavailable: wait and retry, never dead-letter."""
    MESSAGE = "message"
    """This message cannot be sent or handled: count an attempt, dead-letter in the end."""


_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.ETIMEDOUT,
        errno.EPIPE,
        errno.ENOTCONN,
        errno.EADDRNOTAVAIL,
    }
)

_MAX_CHAIN = 8
"""How deep `classify` follows `__cause__`/`__context__` (wrapped driver errors)."""


def _builtin(error: BaseException) -> Fault | None:
    if isinstance(error, MessageRejectedError):
        return Fault.MESSAGE
    if isinstance(error, DestinationUnavailableError | ConnectionError | TimeoutError):
        return Fault.DESTINATION
    if isinstance(error, socket.gaierror | socket.herror):
        return Fault.DESTINATION
    if isinstance(error, OSError) and error.errno in _NETWORK_ERRNOS:
        return Fault.DESTINATION
    return None


def _from_plugins(error: BaseException) -> Fault | None:
    from cqrs.plugins.manager import get_plugin_manager

    verdict: Fault | None = get_plugin_manager().hook.cqrs_classify_error(error=error)
    return verdict


def classify(error: BaseException) -> Fault:
    """Whether `error` is a destination fault or a message fault.

    Built-in network errors (`ConnectionError`, `TimeoutError`, DNS failures, unreachable
    hosts) and `DestinationUnavailableError` are destination faults, `MessageRejectedError` a
    message fault; errors of adapted libraries are classified by their plugins. An error whose
    cause (`raise ... from`) is a destination fault is one too. Anything else is blamed on the
    message, so a real poison message is dead-lettered in the end.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    for _ in range(_MAX_CHAIN):
        if current is None or id(current) in seen:
            break
        seen.add(id(current))
        verdict = _builtin(current)
        if verdict is None:
            try:
                verdict = _from_plugins(current)
            except Exception:  # a broken plugin must not turn a failure into a crash
                verdict = None
        if verdict is not None:
            return verdict
        current = current.__cause__ or current.__context__
    return Fault.MESSAGE


def is_destination_fault(error: BaseException) -> bool:
    """Shorthand for `classify(error) is Fault.DESTINATION`."""
    return classify(error) is Fault.DESTINATION
