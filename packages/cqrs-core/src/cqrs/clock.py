"""The one clock the framework reads: timezone-aware UTC, for timestamps, leases and schedules."""

from __future__ import annotations

import datetime

__all__ = ["utcnow"]


def utcnow() -> datetime.datetime:
    """The current time as an aware UTC datetime (naive datetimes never enter stored state)."""
    return datetime.datetime.now(datetime.UTC)
