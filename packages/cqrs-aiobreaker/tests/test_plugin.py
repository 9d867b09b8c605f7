"""The aiobreaker plugin declares no URL scheme, and importing it does not load aiobreaker."""

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


def test_declares_no_url_scheme() -> None:
    """A circuit breaker is passed in by the application: there is no aiobreaker:// URL."""
    from cqrs.plugins import new_plugin_manager

    hooks = [name for name in vars(_plugin) if name.startswith("cqrs_")]
    assert hooks == []
    manager = new_plugin_manager(autoload=False)
    manager.register(_plugin, name="aiobreaker")
    assert "aiobreaker" not in manager.schemes.by_plugin()
