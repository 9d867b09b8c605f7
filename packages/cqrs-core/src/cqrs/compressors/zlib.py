"""zlib compression of outbox payloads (stdlib, no dependency)."""

from __future__ import annotations

import zlib

__all__ = ["ZlibCompressor"]


class ZlibCompressor:
    """Deflate at `level` (1 fastest .. 9 smallest); large JSON payloads shrink several times."""

    def __init__(self, level: int = 6) -> None:
        if not 0 <= level <= 9:
            raise ValueError("zlib level must be between 0 and 9")
        self.level = level

    def compress(self, value: bytes) -> bytes:
        return zlib.compress(value, self.level)

    def decompress(self, value: bytes) -> bytes:
        return zlib.decompress(value)
