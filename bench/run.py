"""Benchmarks our `cqrs` against python-cqrs 5.3.0 in the same run and prints a table.

Usage: `python bench/run.py [--quick]` with the workspace interpreter (the one that has our
`cqrs`); python-cqrs gets its own venv under `.bench/`. Results go to `.bench/results.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from chaos_bench import print_report as print_chaos
from chaos_bench import run_chaos
from imports import ImportCase, compile_bytecode, measure
from pycqrs_env import PYCQRS_VERSION, ensure_env
from relay_bench import add_arguments as add_relay_arguments
from relay_bench import options_from, print_relay, run_relay
from relay_scale_bench import print_scale, run_scale
from saga_bench import print_saga, run_saga
from tracing_bench import print_tracing, run_tracing
from workloads import FAMILIES, ROWS, Row
from write_path_bench import print_write_path, run_write_path

__all__ = ["main"]

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = ROOT / ".bench"
PYCQRS_ROOT = OUT / f"pycqrs-{PYCQRS_VERSION}"

STDLIB_FLOOR = "import asyncio, dataclasses, json, logging, uuid, datetime, enum, typing"
OURS_CORE = (
    "from cqrs import Request, Response, RequestHandler, EventHandler, DomainEvent, "
    "RequestMap, EventMap, bootstrap; bootstrap.bootstrap"
)
PYCQRS_CORE = (
    "from cqrs import Request, Response, RequestHandler, EventHandler, DomainEvent, "
    "RequestMap, EventMap; from cqrs.bootstrap.requests import bootstrap"
)
IMPORT_WALL_VS_PYCQRS = 0.5
IMPORT_VS_FLOOR = 1.3


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=200_000, help="calls per repeat, ours")
    parser.add_argument(
        "--pycqrs-iterations", type=int, default=40_000, help="calls per repeat, python-cqrs"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (best is kept)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="worker runs per side, alternating (best is kept)"
    )
    parser.add_argument("--import-runs", type=int, default=21, help="processes per import case")
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke test")
    parser.add_argument("--no-relay", action="store_true", help="skip the outbox relay benchmark")
    parser.add_argument("--no-saga", action="store_true", help="skip the saga benchmark")
    parser.add_argument(
        "--no-write-path", action="store_true", help="skip the outbox write-path benchmark"
    )
    parser.add_argument(
        "--no-tracing", action="store_true", help="skip the tracing overhead benchmark"
    )
    parser.add_argument(
        "--no-scale", action="store_true", help="skip the relay scale-out benchmark (~8 min)"
    )
    parser.add_argument(
        "--chaos", action="store_true", help="also run the large outbox chaos scenario (~3 min)"
    )
    add_relay_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.iterations, args.pycqrs_iterations, args.repeats = 5000, 1000, 2
        args.rounds, args.import_runs = 1, 3
    return args


def _worker(python: Path, side: str, family: str, iterations: int, repeats: int) -> Any:
    warmup = max(iterations // 10, 100)
    done = subprocess.run(
        [
            str(python),
            str(BENCH / "worker.py"),
            side,
            family,
            f"--iterations={iterations}",
            f"--repeats={repeats}",
            f"--warmup={warmup}",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: {side} worker for {family!r} failed:\n{done.stderr}")
    report = json.loads(done.stdout)
    if report["cqrs_file"].startswith(str(PYCQRS_ROOT)) != (side == "pycqrs"):
        raise SystemExit(f"bench: the {side} worker imported the wrong cqrs: {report['cqrs_file']}")
    return report


def _merge(into: dict[str, Any], results: dict[str, Any]) -> None:
    """Fold one worker run into the totals: samples and calls add up, counters too."""
    for key, result in results.items():
        total = into.setdefault(
            key, {"samples_ns": [], "calls": 0, "counters": {}, "iterations": 0, "repeats": 0}
        )
        total["samples_ns"] += result["samples_ns"]
        total["calls"] += result["calls"]
        total["iterations"] = result["iterations"]
        total["repeats"] += result["repeats"]
        for name, count in result["counters"].items():
            total["counters"][name] = total["counters"].get(name, 0) + count
        total["best_ns"] = min(total["samples_ns"])
        total["median_ns"] = statistics.median(total["samples_ns"])


def _check_counters(row: Row, result: dict[str, Any], side: str) -> None:
    for name in row.expect:
        if result["counters"].get(name) != result["calls"]:
            raise SystemExit(
                f"bench: {side} {row.title.strip()}: counter {name}="
                f"{result['counters'].get(name)} but {result['calls']} calls were made"
            )


def _timing_rows(ours: dict[str, Any], theirs: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for row in ROWS:
        mine, other = ours[row.key], theirs[row.theirs_key]
        _check_counters(row, mine, "ours")
        _check_counters(row, other, "python-cqrs")
        ours_us, theirs_us = mine["best_ns"] / 1000, other["best_ns"] / 1000
        speedup = theirs_us / ours_us
        checks: list[tuple[str, bool]] = []
        if row.min_speedup is not None:
            checks.append((f">= {row.min_speedup:g}x faster", speedup >= row.min_speedup))
        if row.floor_of is not None and row.max_of_floor is not None:
            of_floor = ours[row.floor_of]["best_ns"] / mine["best_ns"]
            checks.append(
                (
                    f"{row.floor_of} <= {row.max_of_floor:g}x this ({of_floor:.2f}x)",
                    of_floor <= row.max_of_floor,
                )
            )
        rows.append(
            {
                "key": row.key,
                "pycqrs_key": row.theirs_key,
                "workload": row.title,
                "pycqrs_us": theirs_us,
                "ours_us": ours_us,
                "pycqrs_median_us": other["median_ns"] / 1000,
                "ours_median_us": mine["median_ns"] / 1000,
                "speedup": speedup,
                "target": "; ".join(text for text, _ in checks) or "-",
                "pass": all(ok for _, ok in checks) if checks else None,
            }
        )
    return rows


def _import_rows(results: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    floor, ours, theirs = results["floor"], results["ours"], results["pycqrs"]
    ours_core, theirs_core = results["ours_core"], results["pycqrs_core"]
    wall_ok_pycqrs = ours["wall_ms"] <= IMPORT_WALL_VS_PYCQRS * theirs["wall_ms"]
    wall_ok_floor = ours["wall_ms"] <= IMPORT_VS_FLOOR * floor["wall_ms"]
    rss_ok = ours["rss_mib"] <= IMPORT_VS_FLOOR * floor["rss_mib"]

    def line(
        what: str,
        unit: str,
        metric: str,
        mine: Any,
        other: Any,
        target: str,
        ok: bool | None,
        floor_value: float | None = None,
    ) -> dict[str, Any]:
        return {
            "workload": what,
            "unit": unit,
            "pycqrs": other[metric],
            "ours": mine[metric],
            "floor": floor_value,
            "ours_vs_pycqrs": mine[metric] / other[metric],
            "ours_vs_floor": None if floor_value is None else mine[metric] / floor_value,
            "target": target,
            "pass": ok,
        }

    return [
        line(
            "python -c pass (interpreter start)",
            "ms",
            "wall_ms",
            results["ours_pass"],
            results["pycqrs_pass"],
            "-",
            None,
        ),
        line(
            "import cqrs, wall",
            "ms",
            "wall_ms",
            ours,
            theirs,
            f"<= {IMPORT_WALL_VS_PYCQRS:g}x python-cqrs and <= {IMPORT_VS_FLOOR:g}x floor",
            wall_ok_pycqrs and wall_ok_floor,
            floor["wall_ms"],
        ),
        line(
            "import cqrs, max RSS",
            "MiB",
            "rss_mib",
            ours,
            theirs,
            f"<= {IMPORT_VS_FLOOR:g}x floor",
            rss_ok,
            floor["rss_mib"],
        ),
        line(
            "import cqrs + core names, wall",
            "ms",
            "wall_ms",
            ours_core,
            theirs_core,
            "-",
            None,
            floor["wall_ms"],
        ),
        line(
            "import cqrs + core names, max RSS",
            "MiB",
            "rss_mib",
            ours_core,
            theirs_core,
            "-",
            None,
            floor["rss_mib"],
        ),
    ]


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("PASS" if ok else "MISS")


def _table(header: list[str], lines: list[list[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=True)]

    def fmt(cells: list[str]) -> str:
        return " | ".join(
            cell.ljust(width) if i == 0 or i >= len(cells) - 2 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines)])


def _print(
    timing: list[dict[str, Any]], imports: list[dict[str, Any]], meta: dict[str, Any]
) -> None:
    print(
        f"\nPer-call time: best of {meta['rounds']} rounds x {meta['repeats']} repeats of "
        f"{meta['iterations']} calls "
        f"(python-cqrs: {meta['pycqrs_iterations']}), one event loop per side, after warmup."
    )
    print(
        _table(
            ["workload", "python-cqrs µs/call", "ours µs/call", "x faster", "target", "result"],
            [
                [
                    r["workload"],
                    f"{r['pycqrs_us']:.3f}",
                    f"{r['ours_us']:.3f}",
                    f"{r['speedup']:.1f}x",
                    r["target"],
                    _verdict(r["pass"]),
                ]
                for r in timing
            ],
        )
    )
    print(
        f"\nImport cost: median of {meta['import_runs']} fresh processes per case, bytecode "
        f"compiled first with compileall (PYTHONDONTWRITEBYTECODE="
        f"{meta['pythondontwritebytecode'] or 'unset'} on this machine)."
    )
    print(f"Floor: `{STDLIB_FLOOR}` with our interpreter.")
    print(
        _table(
            [
                "import",
                "python-cqrs",
                "ours",
                "stdlib floor",
                "ours/python-cqrs",
                "ours/floor",
                "target",
                "result",
            ],
            [
                [
                    r["workload"],
                    f"{r['pycqrs']:.1f} {r['unit']}",
                    f"{r['ours']:.1f} {r['unit']}",
                    "-" if r["floor"] is None else f"{r['floor']:.1f} {r['unit']}",
                    f"{r['ours_vs_pycqrs']:.2f}x",
                    "-" if r["ours_vs_floor"] is None else f"{r['ours_vs_floor']:.2f}x",
                    r["target"],
                    _verdict(r["pass"]),
                ]
                for r in imports
            ],
        )
    )


def main() -> None:
    """Build python-cqrs's venv if needed, run every workload on both sides, report."""
    args = _parse()
    ours_python = Path(sys.executable)
    pycqrs_python = ensure_env(PYCQRS_ROOT)

    ours_results: dict[str, Any] = {}
    pycqrs_results: dict[str, Any] = {}
    for round_no in range(1, args.rounds + 1):
        for family in FAMILIES:
            for side, python, iterations in (
                ("ours", ours_python, args.iterations),
                ("pycqrs", pycqrs_python, args.pycqrs_iterations),
            ):
                print(f"bench: round {round_no}: {family}: {side} ...", flush=True)
                report = _worker(python, side, family, iterations, args.repeats)
                _merge(ours_results if side == "ours" else pycqrs_results, report["results"])
    timing = _timing_rows(ours_results, pycqrs_results)

    print("bench: compiling bytecode of both cqrs packages and their imports ...", flush=True)
    compiled = {
        "ours": compile_bytecode(ours_python, OURS_CORE),
        "pycqrs": compile_bytecode(pycqrs_python, f"import cqrs; {PYCQRS_CORE}"),
    }
    print("bench: timing imports ...", flush=True)
    import_results = measure(
        [
            ImportCase("ours_pass", ours_python, "pass"),
            ImportCase("pycqrs_pass", pycqrs_python, "pass"),
            ImportCase("floor", ours_python, STDLIB_FLOOR),
            ImportCase("ours", ours_python, "import cqrs"),
            ImportCase("pycqrs", pycqrs_python, "import cqrs"),
            ImportCase("ours_core", ours_python, f"import cqrs; {OURS_CORE}"),
            ImportCase("pycqrs_core", pycqrs_python, f"import cqrs; {PYCQRS_CORE}"),
        ],
        args.import_runs,
    )
    imports = _import_rows(import_results)
    relay = None if args.no_relay else run_relay(ours_python, pycqrs_python, options_from(args))
    saga = None if args.no_saga else run_saga(ours_python, pycqrs_python)
    write_path = None
    if not args.no_write_path:
        rounds, commands, repeats = (1, 100, 1) if args.quick else (3, 500, 3)
        write_path = run_write_path(
            ours_python, pycqrs_python, rounds=rounds, commands=commands, repeats=repeats
        )
    tracing = None
    if not args.no_tracing:
        sends, events = (2_000, 1_000) if args.quick else (100_000, 20_000)
        tracing = run_tracing(ours_python, sends, events)
    scale = None if args.no_scale else run_scale(ours_python, quick=args.quick)
    chaos = run_chaos() if args.chaos else None

    meta = {
        "iterations": args.iterations,
        "pycqrs_iterations": args.pycqrs_iterations,
        "repeats": args.repeats,
        "rounds": args.rounds,
        "import_runs": args.import_runs,
        "quick": args.quick,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "pycqrs_version": PYCQRS_VERSION,
        "pythondontwritebytecode": os.environ.get("PYTHONDONTWRITEBYTECODE"),
        "bytecode_compiled_files": compiled,
    }
    _print(timing, imports, meta)
    if relay is not None:
        print_relay(relay, _table)
    if saga is not None:
        print_saga(saga)
    if write_path is not None:
        print_write_path(write_path)
    if tracing is not None:
        print_tracing(tracing)
    if scale is not None:
        print_scale(scale)
    if chaos is not None:
        print_chaos(chaos)
    OUT.mkdir(exist_ok=True)
    results = {
        "meta": meta,
        "timing": timing,
        "imports": imports,
        "relay": relay,
        "saga": saga,
        "write_path": write_path,
        "tracing": tracing,
        "scale": scale,
        "chaos": chaos,
        "raw": {"ours": ours_results, "pycqrs": pycqrs_results, "imports": import_results},
    }
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nbench: results written to {OUT / 'results.json'}")


if __name__ == "__main__":
    main()
