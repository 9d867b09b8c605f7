"""The default request model, typed by the response its handler returns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic

from cqrs.model import Model

if TYPE_CHECKING:
    from typing_extensions import TypeVar

    ResT = TypeVar("ResT", default=Any)
else:  # the default only matters to type checkers; typing_extensions costs ~30 ms to import
    from typing import TypeVar

    ResT = TypeVar("ResT")

__all__ = ["Request"]


class Request(Model, Generic[ResT]):
    """A command or a query: sent through a mediator to exactly one handler.

    `class GetUser(cqrs.Request[UserDTO])` tells type checkers that `await mediator.send(...)`
    returns a `UserDTO` (and `stream` yields them); a bare `cqrs.Request` base gives `Any`.
    """


def __getattr__(name: str) -> Any:
    """python-cqrs 4.x names kept at this path, from `cqrs._compat.PYCQRS4_PATHS`."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from cqrs._compat import pycqrs4_attribute

    return pycqrs4_attribute(__name__, name)
