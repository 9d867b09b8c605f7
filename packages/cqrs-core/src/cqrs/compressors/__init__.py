"""Compressors for outbox payloads: the protocol and zlib."""

from cqrs.compressors.zlib import ZlibCompressor
from cqrs.protocols.serializer import Compressor

__all__ = ["Compressor", "ZlibCompressor"]
