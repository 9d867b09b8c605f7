"""The larger run of the outbox chaos scenario (tests/chaos/scenario.py), for the bench session.

CI runs 1,500 events with 3 relays; this runs `--events` (default 20,000) with 4 relay
processes SIGKILLed and restarted throughout, and RabbitMQ cut off once, then prints the report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["run_chaos"]

SCENARIO = Path(__file__).resolve().parents[1] / "tests" / "chaos" / "scenario.py"


def run_chaos(events: int = 20_000, relays: int = 4, seconds: float = 60.0) -> dict[str, Any]:
    """Run the scenario in its own process; returns its report with `ok` added."""
    command = [
        sys.executable,
        str(SCENARIO),
        "--events",
        str(events),
        "--relays",
        str(relays),
        "--seconds",
        str(seconds),
        "--drain-timeout",
        "240",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 400)
    if not run.stdout.strip():
        raise RuntimeError(f"chaos scenario produced no report:\n{run.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(run.stdout)
    report["ok"] = run.returncode == 0
    return report


def print_report(report: dict[str, Any]) -> None:
    """One table of the figures the issue asks to report."""
    print("\nOutbox chaos (relay processes SIGKILLed and restarted, RabbitMQ cut off once):")
    for key in (
        "written",
        "applied",
        "effect_rows",
        "duplicates",
        "missing",
        "order_violations",
        "dead_letters",
        "outbox_dead_letters",
        "kills",
        "restarts",
        "outages",
        "write_seconds",
        "total_seconds",
    ):
        value = report[key]
        print(f"  {key:<17} {value:.1f}" if isinstance(value, float) else f"  {key:<17} {value}")
    print(f"  {'result':<17} {'PASS' if report['ok'] else 'FAIL'}")


if __name__ == "__main__":
    print_report(run_chaos())
