"""Times one workload family on one side inside a single event loop and prints JSON.

Run by run.py with that side's interpreter: `python bench/worker.py SIDE FAMILY --iterations N`.
Each loop gets a warmup run, then `--repeats` timed runs of N calls (time.perf_counter_ns).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import statistics
import sys
import time
from typing import Any

__all__ = ["main"]


async def _measure(family: str, side: str, iterations: int, repeats: int, warmup: int) -> Any:
    module = importlib.import_module(f"workloads.{family}_{side}")
    loops = await module.build()
    results: dict[str, Any] = {}
    for key, loop in loops.items():
        module.COUNTERS.clear()
        await loop(warmup)
        samples = []
        for _ in range(repeats):
            gc.collect()
            start = time.perf_counter_ns()
            await loop(iterations)
            samples.append((time.perf_counter_ns() - start) / iterations)
        results[key] = {
            "best_ns": min(samples),
            "median_ns": statistics.median(samples),
            "samples_ns": samples,
            "iterations": iterations,
            "repeats": repeats,
            "calls": warmup + repeats * iterations,
            "counters": dict(module.COUNTERS),
        }
    return results


def main() -> None:
    """Parse arguments, run the family, print `{"side", "cqrs_file", "results"}` as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("side", choices=("ours", "pycqrs"))
    parser.add_argument("family")
    parser.add_argument("--iterations", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=20_000)
    args = parser.parse_args()
    results = asyncio.run(
        _measure(args.family, args.side, args.iterations, args.repeats, args.warmup)
    )
    cqrs = sys.modules["cqrs"]
    report = {
        "side": args.side,
        "family": args.family,
        "python": sys.version.split()[0],
        "cqrs_file": cqrs.__file__,
        "results": results,
    }
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
