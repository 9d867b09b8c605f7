"""The installed `cqrs` console script lists the plugins installed in this environment."""

from __future__ import annotations

import json
import os
import subprocess
import sysconfig
from pathlib import Path

import pytest

from cqrs.plugins import AUTOLOAD_ENV


@pytest.fixture(scope="module")
def script() -> Path:
    path = Path(sysconfig.get_path("scripts")) / ("cqrs.exe" if os.name == "nt" else "cqrs")
    assert path.exists(), f"the cqrs console script is not installed at {path}"
    return path


def run(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != AUTOLOAD_ENV}
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, env=env, check=False, timeout=60
    )


def test_json_lists_the_fake_plugin_from_its_entry_point(script: Path) -> None:
    result = run(script, "plugins", "--json")
    report = json.loads(result.stdout)
    plugins = {plugin["name"]: plugin for plugin in report["plugins"]}
    assert plugins["fake"]["distribution"] == "cqrs-fake"
    assert plugins["fake"]["schemes"] == {"message_broker": ["fake", "fake-legacy"]}
    assert plugins["fake"]["declarations"] == [
        {"role": "message_broker", "scheme": "fake", "description": "records messages"}
    ]
    assert plugins["cqrs-core"]["distribution"] == "cqrs-core"
    assert result.returncode == (1 if report["failures"] else 0), result.stderr


def test_text_lists_the_fake_plugin(script: Path) -> None:
    result = run(script, "plugins")
    rows = [line.split(maxsplit=2) for line in result.stdout.splitlines()]
    assert ["fake", "cqrs-fake", "message_broker: fake://, fake-legacy://"] in rows


def test_disabling_autoload_leaves_only_the_builtin_plugin(script: Path) -> None:
    env = {**os.environ, AUTOLOAD_ENV: "1"}
    result = subprocess.run(
        [str(script), "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert [p["name"] for p in json.loads(result.stdout)["plugins"]] == ["cqrs-core"]
