"""The default JSON serializer used for broker messages."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["JsonSerializer"]


class JsonSerializer:
    """Compact UTF-8 JSON; rejects NaN so every payload is valid JSON for other languages."""

    content_type = "application/json"

    def dumps(self, data: Any) -> bytes:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()

    def loads(self, raw: bytes) -> Any:
        return json.loads(raw)
