"""Benchmark workloads: one module per workload family and side, plus the registry run.py reads.

A workload module is named `<family>_<side>.py` (side `ours` or `pycqrs`) and defines
`async def build() -> dict[str, Loop]`, where a `Loop` is `async def loop(n: int) -> None` running
the measured operation `n` times, and a module-level `COUNTERS: dict[str, int]` that handlers
increment so run.py can check the work really happened. This package imports nothing but the
standard library: workers of both sides import it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["FAMILIES", "ROWS", "Loop", "Row"]

Loop = Callable[[int], Awaitable[None]]
"""Runs the measured operation `n` times inside the running event loop."""


@dataclass(frozen=True)
class Row:
    """One line of the timing table: a loop measured on both sides, and its target.

    `theirs` is python-cqrs's loop key (default: `key`). `min_speedup` asks python-cqrs time /
    our time >= value. `floor_of` names another loop of ours that must take at most
    `max_of_floor` times this row's time (this row is that loop's floor). `expect` lists counters
    that must equal the number of calls the loop made (proof the work happened).
    """

    key: str
    title: str
    family: str
    theirs: str = ""
    min_speedup: float | None = None
    floor_of: str | None = None
    max_of_floor: float | None = None
    expect: tuple[str, ...] = ()

    @property
    def theirs_key(self) -> str:
        """python-cqrs's loop key for this row."""
        return self.theirs or self.key


_QUERY = ("queries_handled",)
_COMMAND = ("commands_handled", "events_handled")

ROWS: tuple[Row, ...] = (
    Row("send_query", "send query, no events", "requests", min_speedup=8.0, expect=_QUERY),
    Row(
        "send_query",
        "  same, python-cqrs logger at WARNING",
        "requests",
        theirs="send_query@logger_warning",
        min_speedup=8.0,
        expect=_QUERY,
    ),
    Row(
        "send_command_1_event",
        "send command + 1 domain event",
        "requests",
        min_speedup=8.0,
        expect=_COMMAND,
    ),
    Row(
        "send_command_1_event",
        "  same, python-cqrs logger at WARNING",
        "requests",
        theirs="send_command_1_event@logger_warning",
        min_speedup=8.0,
        expect=_COMMAND,
    ),
    Row(
        "handle_query",
        "bare await handler.handle(q) (floor)",
        "requests",
        floor_of="send_query",
        max_of_floor=4.0,
        expect=_QUERY,
    ),
)
"""Rows in table order; add outbox-relay or saga rows (and their `<family>_<side>` modules) here."""

FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(row.family for row in ROWS))
"""Workload modules to run per side, each in its own worker subprocess."""
