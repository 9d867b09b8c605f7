"""Serializer and compressor boundaries used by brokers and the outbox."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["Compressor", "Serializer"]


@runtime_checkable
class Serializer(Protocol):
    """Turns JSON-compatible data into bytes and back; `loads(dumps(x)) == x`."""

    content_type: str

    def dumps(self, data: Any) -> bytes: ...

    def loads(self, raw: bytes) -> Any: ...


@runtime_checkable
class Compressor(Protocol):
    """Compresses bytes losslessly; `decompress(compress(b)) == b`."""

    def compress(self, value: bytes) -> bytes: ...

    def decompress(self, value: bytes) -> bytes: ...
