"""An opt-in middleware that logs each request, its outcome and its duration."""

from __future__ import annotations

import logging
import time
from typing import Any

from cqrs.protocols.middleware import HandleFunc

__all__ = ["LoggingMiddleware"]


class LoggingMiddleware:
    """Logs `request name`, success or failure, and milliseconds spent, at `level`."""

    def __init__(self, logger: logging.Logger | None = None, level: int = logging.DEBUG) -> None:
        self.logger = logger or logging.getLogger("cqrs.requests")
        self.level = level

    async def __call__(self, request: Any, handle: HandleFunc) -> Any:
        name = type(request).__qualname__
        started = time.perf_counter()
        try:
            result = await handle(request)
        except Exception as exc:
            elapsed = (time.perf_counter() - started) * 1000
            self.logger.error("%s failed after %.2f ms: %r", name, elapsed, exc)
            raise
        elapsed = (time.perf_counter() - started) * 1000
        self.logger.log(self.level, "%s handled in %.2f ms", name, elapsed)
        return result
