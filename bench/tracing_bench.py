"""Tracing overhead: sends and relayed events with no instrumentation, with
`cqrs-opentelemetry` on the API's no-op tracer, and with the SDK and a batch span processor.

Each mode runs in its own process (bench/tracing/ours.py), so `none` never imports
OpenTelemetry; the modes alternate twice and the best figure of each is kept.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["MODES", "print_tracing", "run_tracing"]

HERE = Path(__file__).resolve().parent
MODES = ("none", "noop", "sdk")
_ROWS = (
    ("send_query_us", "send query, µs"),
    ("send_command_1_event_us", "send command + 1 domain event, µs"),
    ("send_command_outbox_us", "send command writing 1 outbox event, µs"),
    ("relay_per_event_us", "relay, µs per event (memory, batch 500)"),
)


def _mode(python: Path, mode: str, sends: int, events: int) -> dict[str, Any]:
    run = subprocess.run(
        [str(python), str(HERE / "tracing" / "ours.py"), mode, str(sends), str(events)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if run.returncode != 0 or not run.stdout.strip():
        raise RuntimeError(f"tracing bench ({mode}) failed:\n{run.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def run_tracing(python: Path, sends: int = 100_000, events: int = 20_000) -> dict[str, Any]:
    """Every mode twice, alternating; the best (lowest) figure of each."""
    best: dict[str, dict[str, Any]] = {}
    for _ in range(2):
        for mode in MODES:
            result = _mode(python, mode, sends, events)
            kept = best.setdefault(mode, result)
            for key, _title in _ROWS:
                kept[key] = min(kept[key], result[key])
    if best["none"]["otel_imported"]:
        raise RuntimeError("the 'none' mode imported OpenTelemetry")
    return best


def print_tracing(result: dict[str, Any]) -> None:
    """The overhead table: each mode's time and its difference from no instrumentation."""
    print("\nTracing overhead (ours; best of 2 alternating runs per mode):")
    print(f"{'workload':<44} | {'none':>8} | {'no-op':>8} | {'+':>7} | {'SDK':>8} | {'+':>7}")
    for key, title in _ROWS:
        none, noop, sdk = (result[mode][key] for mode in MODES)
        print(
            f"{title:<44} | {none:>8.2f} | {noop:>8.2f} | {noop - none:>+7.2f} | "
            f"{sdk:>8.2f} | {sdk - none:>+7.2f}"
        )
    print("  none: cqrs-opentelemetry not imported; no-op: instrumented, no SDK configured;")
    print("  SDK: TracerProvider + BatchSpanProcessor (an exporter that drops), MeterProvider")


if __name__ == "__main__":
    import sys

    print_tracing(run_tracing(Path(sys.executable)))
