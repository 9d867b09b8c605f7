"""The README's Python example runs and prints what it says; the docs list every instrument."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from cqrs_opentelemetry import INSTRUMENTS

PACKAGE = Path(__file__).resolve().parents[1]
OBSERVABILITY = PACKAGE.parents[1] / "docs" / "observability.md"


def test_readme_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (PACKAGE / "README.md").read_text()
    (block,) = re.findall(r"^```python\n(.*?)^```", readme, flags=re.M | re.S)
    module = types.ModuleType("readme")
    sys.modules["readme"] = module
    namespace: dict[str, Any] = module.__dict__
    try:
        exec(compile(block, "README.md", "exec"), namespace)
    finally:
        del sys.modules["readme"]
    assert capsys.readouterr().out.splitlines() == ["2 ['send Ping']"]


def test_the_metrics_table_lists_every_instrument() -> None:
    section = OBSERVABILITY.read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"^\| `(cqrs\.[a-z_.]+)` \|", section, re.M)) == set(INSTRUMENTS)
