"""Support for seed-compatible import paths whose code lives in an adapter distribution."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ["forward", "require"]


def require(module: str, distribution: str) -> ModuleType:
    """Import the adapter `module`, or raise an ImportError that names `distribution` to install.

    Only the absence of `module` itself is translated: an adapter that is installed but fails
    on its own imports (say, its library is missing) raises its original error.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing != module and not module.startswith(f"{missing}."):
            raise
        raise ModuleNotFoundError(
            f"{module} is provided by the {distribution!r} distribution, which is not "
            f"installed. Install it with: pip install {distribution}",
            name=module,
        ) from None


def forward(adapter: ModuleType, shim: str) -> Callable[[str], Any]:
    """A module `__getattr__` for `shim` that resolves every other name on `adapter`."""

    def __getattr__(name: str) -> Any:
        try:
            return getattr(adapter, name)
        except AttributeError:
            raise AttributeError(
                f"module {shim!r} has no attribute {name!r} "
                f"({adapter.__name__} does not provide it)"
            ) from None

    return __getattr__
