"""Import cost: wall time and peak RSS of `python -c CODE`, median over many fresh processes.

Each child is reaped with `os.wait4`, which returns that child's own resource usage (the same
numbers as `resource.getrusage(RUSAGE_CHILDREN)`, but per child rather than the running maximum).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ImportCase", "compile_bytecode", "measure"]

_LOADED_FILES = """
import json, sys, sysconfig
stdlib = sysconfig.get_paths()["stdlib"]
files = {
    m.__file__ for m in list(sys.modules.values())
    if getattr(m, "__file__", None) and m.__file__.endswith(".py")
    and not m.__file__.startswith(stdlib)
}
print(json.dumps({"cqrs": sys.modules["cqrs"].__file__, "files": sorted(files)}))
"""


@dataclass(frozen=True)
class ImportCase:
    """One measured command line: `python -c code`."""

    key: str
    python: Path
    code: str


def compile_bytecode(python: Path, code: str) -> int:
    """Compile the whole `cqrs` package `code` imports, and every non-stdlib module it loads.

    Returns the number of source files handed to compileall. Without this, machines that set
    PYTHONDONTWRITEBYTECODE=1 would measure source compilation instead of importing.
    """
    done = subprocess.run(
        [str(python), "-c", f"{code}\n{_LOADED_FILES}"],
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    package_dir = str(Path(found["cqrs"]).parent)
    files = [f for f in found["files"] if not f.startswith(package_dir)]
    subprocess.run(
        [str(python), "-m", "compileall", "-q", "-j", "0", package_dir, *files], check=True
    )
    return len(files) + sum(1 for _ in Path(package_dir).rglob("*.py"))


def _run_once(case: ImportCase) -> tuple[float, float]:
    """Wall seconds and peak RSS in MiB of one fresh `python -c`."""
    start = time.perf_counter_ns()
    child = subprocess.Popen(
        [str(case.python), "-c", case.code],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = (time.perf_counter_ns() - start) / 1e9
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{case.key}: `python -c {case.code!r}` exited {child.returncode}")
    return wall, usage.ru_maxrss / 1024


def measure(cases: list[ImportCase], runs: int) -> dict[str, dict[str, float]]:
    """Median wall (ms) and RSS (MiB) per case; runs are interleaved so drift hits all alike."""
    for case in cases:
        subprocess.run(
            [str(case.python), "-c", case.code], check=True, capture_output=True, text=True
        )
    walls: dict[str, list[float]] = {case.key: [] for case in cases}
    rsss: dict[str, list[float]] = {case.key: [] for case in cases}
    for _ in range(runs):
        for case in cases:
            wall, rss = _run_once(case)
            walls[case.key].append(wall)
            rsss[case.key].append(rss)
    return {
        case.key: {
            "wall_ms": statistics.median(walls[case.key]) * 1000,
            "wall_ms_min": min(walls[case.key]) * 1000,
            "rss_mib": statistics.median(rsss[case.key]),
            "runs": runs,
        }
        for case in cases
    }
