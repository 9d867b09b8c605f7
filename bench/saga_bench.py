"""Saga benchmark: a 3-step saga on memory and PostgreSQL storage, ours vs python-cqrs 5.3.0.

Each side runs in its own process and environment (bench/saga/ours.py, bench/saga/pycqrs.py);
the sides alternate twice and the best of each is kept, to damp the noise of a shared machine.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["print_saga", "run_saga"]

HERE = Path(__file__).resolve().parent
POSTGRES = os.environ.get(
    "CQRS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _side(python: Path, script: str, memory: int, pg: int) -> dict[str, Any]:
    run = subprocess.run(
        [str(python), str(HERE / "saga" / script), POSTGRES, str(memory), str(pg)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if run.returncode != 0 or not run.stdout.strip():
        raise RuntimeError(f"{script} failed:\n{run.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    best = dict(runs[0])
    for run in runs[1:]:
        for key in ("memory_sagas_per_s", "postgres_sagas_per_s"):
            best[key] = max(best[key], run[key])
    return best


def run_saga(ours: Path, pycqrs: Path) -> dict[str, Any]:
    """Both sides, twice each, alternating; returns the best figures of each side."""
    ours_runs, theirs_runs = [], []
    for _ in range(2):
        theirs_runs.append(_side(pycqrs, "pycqrs.py", 1000, 60))
        ours_runs.append(_side(ours, "ours.py", 5000, 150))
    return {"ours": _best(ours_runs), "pycqrs": _best(theirs_runs)}


def print_saga(result: dict[str, Any]) -> None:
    """The saga table with targets (>= 5x; <= 5 statements, one round trip each)."""
    ours, theirs = result["ours"], result["pycqrs"]
    print("\nSaga of 3 steps (sequential sagas; best of 2 alternating runs per side):")
    print(f"{'workload':<38} | {'python-cqrs':>11} | {'ours':>9} | {'ratio':>6} | target | result")
    for key, title in (
        ("memory_sagas_per_s", "memory storage, sagas/s"),
        ("postgres_sagas_per_s", "PostgreSQL storage, sagas/s"),
    ):
        ratio = ours[key] / theirs[key]
        verdict = "PASS" if ratio >= 5 else "MISS"
        figures = f"{theirs[key]:>11.0f} | {ours[key]:>9.0f} | {ratio:>5.1f}x"
        print(f"{title:<38} | {figures} | >= 5x  | {verdict}")
    stmts_ours, stmts_theirs = (
        ours["postgres_statements_per_saga"],
        theirs["postgres_statements_per_saga"],
    )
    verdict = "PASS" if stmts_ours <= 5 else "MISS"
    figures = f"{stmts_theirs:>11.1f} | {stmts_ours:>9.1f} | {'':>6}"
    print(f"{'SQL statements per saga (PostgreSQL)':<38} | {figures} | <= 5   | {verdict}")
    print("  ours: one autocommitted statement (one round trip) per transition: create + 3 steps")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(HERE))
    from pycqrs_env import PYCQRS_VERSION, ensure_env

    root = HERE.parent
    print_saga(
        run_saga(Path(sys.executable), ensure_env(root / ".bench" / f"pycqrs-{PYCQRS_VERSION}"))
    )
