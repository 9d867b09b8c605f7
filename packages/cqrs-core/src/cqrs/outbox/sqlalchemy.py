"""The SQLAlchemy outbox at its seed path, provided by the `cqrs-sqla` distribution.

Without `pip install cqrs-sqla`, importing this module raises an ImportError naming it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cqrs._shim import forward, require

__all__ = ["SqlAlchemyOutboxedEventRepository"]

if TYPE_CHECKING:
    from cqrs_sqla import (  # type: ignore[import-not-found,unused-ignore]
        SqlAlchemyOutboxedEventRepository as SqlAlchemyOutboxedEventRepository,
    )

__getattr__ = forward(require("cqrs_sqla", "cqrs-sqla"), __name__)
