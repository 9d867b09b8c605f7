"""The aiobreaker circuit breaker at its seed path, provided by the `cqrs-aiobreaker` distribution.

Without `pip install cqrs-aiobreaker`, importing this module raises an ImportError naming it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cqrs._shim import forward, require

__all__ = ["AioBreakerAdapter"]

if TYPE_CHECKING:
    from cqrs_aiobreaker import (  # type: ignore[import-not-found,unused-ignore]
        AioBreakerAdapter as AioBreakerAdapter,
    )

__getattr__ = forward(require("cqrs_aiobreaker", "cqrs-aiobreaker"), __name__)
