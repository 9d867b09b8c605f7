"""The exit codes `cqrs ... --help` lists and the table of docs/deployment.md say the same."""

from __future__ import annotations

import re
from pathlib import Path

from cqrs._cli_support import ExitCode

DEPLOYMENT = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"


def documented_exit_codes() -> dict[int, str]:
    """Code -> meaning from the table under `## Exit codes`, without Markdown backticks."""
    text = DEPLOYMENT.read_text(encoding="utf-8")
    table = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \|", table, flags=re.MULTILINE)
    return {int(code): meaning.replace("`", "").strip() for code, meaning in rows}


def test_the_docs_table_has_every_exit_code_with_its_meaning() -> None:
    assert documented_exit_codes() == {int(code): code.meaning for code in ExitCode}
