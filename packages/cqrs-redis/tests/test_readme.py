"""The README's Python examples run against the test Redis, under a key prefix of their own."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from cqrs.testing._support.services import require_service

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples_run(prefix: str, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.M | re.S)
    assert len(blocks) == 2
    url = require_service("redis").url
    module = types.ModuleType("readme")  # a real module: dataclass models look theirs up
    namespace: dict[str, Any] = module.__dict__
    sys.modules["readme"] = module
    try:
        for block in blocks:
            code = block.replace("redis://localhost:6379/0", url).replace("shop:", f"{prefix}:")
            exec(compile(code, str(README), "exec"), namespace)
    finally:
        del sys.modules["readme"]
    assert capsys.readouterr().out.splitlines() == [
        "completed ['Reserve']",
        "refused by the circuit the other process opened: payments",
    ]
