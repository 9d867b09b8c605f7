"""The aiobreaker plugin names its role, and importing it does not load aiobreaker."""

from __future__ import annotations

import subprocess
import sys

from cqrs_aiobreaker import _plugin


def test_importing_the_package_and_plugin_does_not_import_aiobreaker() -> None:
    code = (
        "import sys, cqrs_aiobreaker._plugin, cqrs_aiobreaker; print('aiobreaker' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_lists_its_role() -> None:
    assert _plugin.cqrs_list_schemes() == {"circuit_breaker": ["aiobreaker"]}
