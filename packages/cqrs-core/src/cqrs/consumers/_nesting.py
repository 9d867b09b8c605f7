"""A linear-time pre-scan of JSON nesting depth, so hostile nesting never reaches the parser.

`json.loads` recurses once per nested array or object and raises `RecursionError` (or worse,
with a raised recursion limit, overflows the C stack) on a few kilobytes of `[[[[...`.
"""

from __future__ import annotations

import itertools
import re

__all__ = ["json_depth_exceeds"]

_STRING = re.compile(rb'(?s)"[^"\\]*+(?:\\(?:.|\Z)[^"\\]*+)*+(?:"|\Z)')
"""A JSON string, or an unterminated one up to the end: always matches at a quote, so the scan
never restarts inside a string and stays linear on hostile input."""

_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


def json_depth_exceeds(payload: bytes, limit: int) -> bool:
    """Whether arrays and objects in the JSON text `payload` nest deeper than `limit`.

    Brackets inside strings do not count. The common case (no more brackets than `limit`) costs
    two `bytes.count` calls; otherwise strings are cut out and the brackets summed in C.
    """
    if payload.count(b"[") + payload.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", payload).translate(None, _NOT_BRACKET)
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit
