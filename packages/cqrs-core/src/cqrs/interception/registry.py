"""Interceptors registered process-wide, the way an instrumentation library installs itself.

Everything that intercepts (mediators, emitters, relays, saga runs, consumers) applies the
registered interceptors around its own, and recomposes its chains when the registration
changes, so `register` works for objects built before and after it, at no cost per call.
"""

from __future__ import annotations

import weakref
from typing import Any

from cqrs.interception.interceptor import Interceptor

__all__ = ["register", "registered", "unregister"]

_registered: tuple[Interceptor, ...] = ()
_watchers: weakref.WeakSet[Any] = weakref.WeakSet()


def register(interceptor: Interceptor) -> None:
    """Apply `interceptor` everywhere, outside every interceptor given explicitly; registering
    the same object twice is a no-op."""
    global _registered
    if not isinstance(interceptor, Interceptor):
        raise TypeError(f"{interceptor!r} is not a cqrs.interception.Interceptor")
    if interceptor in _registered:
        return
    _registered = (*_registered, interceptor)
    _notify()


def unregister(interceptor: Interceptor) -> None:
    """Stop applying `interceptor` (no-op if it was not registered)."""
    global _registered
    if interceptor not in _registered:
        return
    _registered = tuple(i for i in _registered if i is not interceptor)
    _notify()


def registered() -> tuple[Interceptor, ...]:
    """The interceptors registered process-wide, outermost first."""
    return _registered


def watch(owner: Any) -> None:
    """Call `owner._reintercept()` whenever the registration changes, for as long as `owner`
    lives (it is held weakly)."""
    _watchers.add(owner)


def _notify() -> None:
    for owner in list(_watchers):
        owner._reintercept()
