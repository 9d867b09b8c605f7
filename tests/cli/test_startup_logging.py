"""Log records of a command's start are held back: a failed start shows its one line only, a
successful one shows the warnings it held once logging is on."""

from __future__ import annotations

import re
import subprocess
import sys

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ")

SCRIPT = """
import logging, sys
from cqrs._cli_support import StartupLogging

logs = StartupLogging(debug={debug})
logging.getLogger("cqrs.plugins").warning("cqrs plugin 'broken' failed to load")
logging.getLogger("aiormq.connection").info("connecting")
print("checks done", file=sys.stderr, flush=True)
if {start}:
    logs.started()
    logging.getLogger("cqrs.outbox.relay").info("relay started")
"""


def stderr_lines(*, debug: bool, start: bool) -> list[str]:
    code = SCRIPT.format(debug=debug, start=start)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    return [TIMESTAMP.sub("", line) for line in done.stderr.splitlines()]


def test_a_failed_start_shows_nothing_it_logged() -> None:
    assert stderr_lines(debug=False, start=False) == ["checks done"]


def test_a_successful_start_replays_the_warnings_it_held() -> None:
    assert stderr_lines(debug=False, start=True) == [
        "checks done",
        "WARNING cqrs.plugins: cqrs plugin 'broken' failed to load",
        "INFO cqrs.outbox.relay: relay started",
    ]


def test_debug_logs_from_the_start() -> None:
    assert stderr_lines(debug=True, start=False) == [
        "WARNING cqrs.plugins: cqrs plugin 'broken' failed to load",
        "INFO aiormq.connection: connecting",
        "checks done",
    ]
