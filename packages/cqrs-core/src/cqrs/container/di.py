"""The `di` container adapter at its seed path, provided by the `cqrs-di` distribution.

Without `pip install cqrs-di`, importing this module raises an ImportError naming it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cqrs._shim import forward, require

__all__ = ["DIContainer"]

if TYPE_CHECKING:
    from cqrs_di import (  # type: ignore[import-not-found,unused-ignore]
        DIContainer as DIContainer,
    )

__getattr__ = forward(require("cqrs_di", "cqrs-di"), __name__)
