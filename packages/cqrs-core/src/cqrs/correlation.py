"""Correlation and causation ids that follow a request or a message through what it causes.

Every `send` and `stream`, every consumed message and every saga run is a *scope*: the thing
being handled has an id, and the whole chain shares one correlation id. Events that leave the
process (published, or written to an outbox) inside a scope carry the scope's correlation id
and, as causation id, the id of what is being handled, unless they already have their own::

    async with cqrs.correlation.scope(correlation_id=request.headers.get("correlation-id")):
        await mediator.send(PlaceOrder(...))   # OrderPlaced: correlation = that header,
                                               # causation = the PlaceOrder send's id

Ids are made on first use (a send whose handler emits nothing never pays for one), and the
scope lives in a context variable, so it follows `await` and tasks and needs no OpenTelemetry.
"""

from __future__ import annotations

import contextlib
import contextvars
import random
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uuid

__all__ = [
    "active",
    "current_causation_id",
    "current_headers",
    "current_correlation_id",
    "current_message_id",
    "enter",
    "leave",
    "nested",
    "resume",
    "scope",
    "stamp",
]

_PARENT, _MESSAGE, _CORRELATION, _HEADERS = 0, 1, 2, 3

_scope: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "cqrs_correlation", default=None
)
"""The current scope as `[parent scope, message id, correlation id]`: a list, because the
mediator opens one per `send` and a list is the cheapest mutable record to build."""


def _new_id() -> str:
    """A random UUID (version 4) as text, several times cheaper than `str(uuid.uuid4())`: the
    ids of a send are made on its path, and a correlation id needs to be unique, not secret
    (OpenTelemetry's ids come from the same generator)."""
    digits = f"{random.getrandbits(128):032x}"
    variant = "89ab"[int(digits[16], 16) & 3]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


def enter(
    message_id: str | None = None, correlation_id: str | None = None
) -> contextvars.Token[list[Any] | None]:
    """Open a scope nested in the current one; give the token to `leave`. (The mediators'
    fast path: `scope` is the public, context-manager form.)"""
    return _scope.set([_scope.get(), message_id, correlation_id])


def nested(
    message_id: str | uuid.UUID | None = None,
    correlation_id: str | uuid.UUID | None = None,
    headers: Mapping[str, str] | None = None,
) -> list[Any]:
    """A scope record nested in the current scope, not entered yet: give it to `resume` around
    each step of work that spans yields (a stream, a saga). The ids may be UUIDs, turned into
    text when first asked for; `headers` are those stored with work being continued (a
    recovered saga's trace), for `current_headers`."""
    if headers:
        return [_scope.get(), message_id, correlation_id, headers]
    return [_scope.get(), message_id, correlation_id]


def resume(record: list[Any]) -> contextvars.Token[list[Any] | None]:
    """Enter the scope `record` again (one kept across the steps of a stream); an empty list
    becomes a new scope nested in the current one. Give the token to `leave`."""
    if not record:
        record.extend((_scope.get(), None, None))
    return _scope.set(record)


def leave(token: contextvars.Token[list[Any] | None]) -> None:
    """Close the scope `enter` opened."""
    _scope.reset(token)


@contextlib.contextmanager
def scope(*, message_id: str | None = None, correlation_id: str | None = None) -> Iterator[None]:
    """Handle something inside this block: `message_id` is its id (made when first needed if
    `None`), `correlation_id` the chain's (inherited from the enclosing scope, or made, if
    `None`). Integrations open one per HTTP request or consumed message."""
    token = _scope.set([_scope.get(), message_id, correlation_id])
    try:
        yield
    finally:
        _scope.reset(token)


def active() -> bool:
    """Whether something is being handled in a scope right now."""
    return _scope.get() is not None


def current_message_id() -> str | None:
    """The id of what is being handled (the causation id of what it emits); `None` outside
    any scope."""
    current = _scope.get()
    return None if current is None else _message(current)


def current_headers() -> Mapping[str, str] | None:
    """The headers stored with the work the current scope continues (a recovered saga's
    `trace`: an instrumentation resumes its trace from them); `None` if there are none."""
    current = _scope.get()
    while current is not None:
        if len(current) > _HEADERS:
            headers: Mapping[str, str] = current[_HEADERS]
            return headers
        current = current[_PARENT]
    return None


def current_causation_id() -> str | None:
    """The id of what caused the current scope: the enclosing scope's message id (`None` at the
    outermost scope, or outside any)."""
    current = _scope.get()
    if current is None or current[_PARENT] is None:
        return None
    return _message(current[_PARENT])


def current_correlation_id() -> str | None:
    """The correlation id of the current chain; `None` outside any scope."""
    current = _scope.get()
    if current is None:
        return None
    return _correlation(current)


def _message(record: list[Any]) -> str:
    """The message id of a scope record, made (or turned into text: a saga passes its UUID)
    the first time it is asked for."""
    found = record[_MESSAGE]
    if found.__class__ is not str:
        found = record[_MESSAGE] = _new_id() if found is None else str(found)
    return found


def _correlation(record: list[Any]) -> str:
    """The correlation id of a scope record: its own, else its parent's, else a new one."""
    found = record[_CORRELATION]
    if found.__class__ is not str:
        if found is None:
            parent = record[_PARENT]
            found = _correlation(parent) if parent is not None else _new_id()
        else:
            found = str(found)
        record[_CORRELATION] = found
    return found


def stamp(correlation_id: str | None, causation_id: str | None) -> tuple[str | None, str | None]:
    """The ids an outgoing event carries: its own where it has them, else the current scope's."""
    current = _scope.get()
    if current is None or (correlation_id is not None and causation_id is not None):
        return correlation_id, causation_id
    if correlation_id is None:
        correlation_id = _correlation(current)
    if causation_id is None:
        causation_id = _message(current)
    return correlation_id, causation_id
