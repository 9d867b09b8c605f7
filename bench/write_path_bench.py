"""Write-path benchmark: a command that writes a business row and two outbox events, on PostgreSQL.

Ours (`outbox.add` + `outbox.commit` through `cqrs_sqla`) against python-cqrs 5.3.0's
`SqlAlchemyOutboxedEventRepository` doing the same, each side in its own process and environment
(bench/write_path/ours.py, bench/write_path/pycqrs.py). The sides alternate; each side's best
and median commands/s over its runs are reported, with SQL statements and outbox INSERTs per
command counted by SQLAlchemy's `before_cursor_execute` event.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["print_write_path", "run_write_path"]

HERE = Path(__file__).resolve().parent
POSTGRES = os.environ.get(
    "CQRS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
MIN_SPEEDUP = 2.0
MAX_OUTBOX_INSERTS = 1.0


def _side(python: Path, script: str, commands: int, repeats: int) -> dict[str, Any]:
    run = subprocess.run(
        [str(python), str(HERE / "write_path" / script), POSTGRES, str(commands), str(repeats)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if run.returncode != 0 or not run.stdout.strip():
        raise RuntimeError(f"{script} failed:\n{run.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    if ("/.bench/pycqrs-" in result["cqrs_file"]) != (script == "pycqrs.py"):
        raise RuntimeError(f"{script} imported the wrong cqrs: {result['cqrs_file']}")
    return result


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Best and median of the runs' rates; the counts from the first run (they do not vary)."""
    rates = [run["best_commands_per_s"] for run in runs]
    summary = {
        **runs[0],
        "runs": len(runs),
        "best_commands_per_s": max(rates),
        "median_commands_per_s": statistics.median(rates),
        "rates": rates,
    }
    for key in ("order_only_commands_per_s",):
        if key in runs[0]:
            summary[key] = max(run[key] for run in runs)
    for key in ("cpu_us_per_command", "order_only_cpu_us_per_command"):
        if key in runs[0]:
            summary[key] = min(run[key] for run in runs)
    return summary


def run_write_path(
    ours: Path, pycqrs: Path, *, rounds: int = 3, commands: int = 500, repeats: int = 3
) -> dict[str, Any]:
    """Both sides `rounds` times, alternating; returns each side's summary."""
    ours_runs, theirs_runs = [], []
    for _ in range(rounds):
        theirs_runs.append(_side(pycqrs, "pycqrs.py", commands, repeats))
        ours_runs.append(_side(ours, "ours.py", commands, repeats))
    return {"ours": _summary(ours_runs), "pycqrs": _summary(theirs_runs)}


def print_write_path(result: dict[str, Any]) -> None:
    """The write-path table with targets (>= 2x; one outbox INSERT per command)."""
    ours, theirs = result["ours"], result["pycqrs"]
    print(
        f"\nWrite path on PostgreSQL: a command writing 1 order + 2 outbox events, committed "
        f"(sequential commands; best and median of {ours['runs']} alternating runs per side):"
    )
    print(f"{'workload':<40} | {'python-cqrs':>11} | {'ours':>9} | {'ratio':>6} | target | result")
    for key, title in (
        ("best_commands_per_s", "commands/s, best"),
        ("median_commands_per_s", "commands/s, median"),
    ):
        ratio = ours[key] / theirs[key]
        verdict = "PASS" if ratio >= MIN_SPEEDUP else "MISS"
        figures = f"{theirs[key]:>11.0f} | {ours[key]:>9.0f} | {ratio:>5.2f}x"
        print(f"{title:<40} | {figures} | >= {MIN_SPEEDUP:g}x  | {verdict}")
    for key, title, target in (
        ("statements_per_command", "SQL statements per command", None),
        ("outbox_inserts_per_command", "outbox INSERT statements per command", MAX_OUTBOX_INSERTS),
        ("commits_per_command", "COMMITs per command", None),
    ):
        figures = f"{theirs[key]:>11.2f} | {ours[key]:>9.2f} | {'':>6}"
        if target is None:
            print(f"{title:<40} | {figures} | -      | -")
        else:
            verdict = "PASS" if ours[key] <= target else "MISS"
            print(f"{title:<40} | {figures} | <= {target:g}   | {verdict}")
    cpu_theirs, cpu_ours = theirs["cpu_us_per_command"], ours["cpu_us_per_command"]
    print(
        f"{'client CPU µs per command, least':<40} | {cpu_theirs:>11.0f} | {cpu_ours:>9.0f} | "
        f"{cpu_theirs / cpu_ours:>5.2f}x | -      | -"
    )
    ceiling = ours["order_only_commands_per_s"]
    print(
        f"{'ours, the order alone (no outbox), best':<40} | {'':>11} | {ceiling:>9.0f} | "
        f"{ceiling / theirs['best_commands_per_s']:>5.2f}x | -      | -"
    )
    print(
        f"{'  ... its client CPU µs per command':<40} | {'':>11} | "
        f"{ours['order_only_cpu_us_per_command']:>9.0f} | {'':>6} | -      | -"
    )
    print(
        "  both sides: the ORM flush sends the order's INSERT and one multi-row INSERT "
        "(insertmanyvalues) for both events; BEGIN and COMMIT are not cursor statements"
    )


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(HERE))
    from pycqrs_env import PYCQRS_VERSION, ensure_env

    root = HERE.parent
    quick = "--quick" in sys.argv
    print_write_path(
        run_write_path(
            Path(sys.executable),
            ensure_env(root / ".bench" / f"pycqrs-{PYCQRS_VERSION}"),
            rounds=1 if quick else 3,
            commands=100 if quick else 500,
            repeats=1 if quick else 3,
        )
    )
