"""The plugin manager: built on first use, loading `cqrs` entry points one by one."""

from __future__ import annotations

import logging
import os
from typing import Any

import pluggy

from cqrs.plugins import hookspecs
from cqrs.plugins.markers import PROJECT
from cqrs.plugins.registry import SchemeRegistry

__all__ = [
    "AUTOLOAD_ENV",
    "ENTRY_POINT_GROUP",
    "PluginManager",
    "get_plugin_manager",
    "new_plugin_manager",
    "set_plugin_manager",
]

ENTRY_POINT_GROUP = "cqrs"
AUTOLOAD_ENV = "CQRS_DISABLE_PLUGIN_AUTOLOAD"
"""Set to a non-empty value to load no entry points (only the built-in plugin)."""

_log = logging.getLogger("cqrs.plugins")
_current: PluginManager | None = None


class PluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers which distribution provided each plugin and what failed,
    and holds the table of the schemes its plugins declare (`schemes`)."""

    def __init__(self) -> None:
        super().__init__(PROJECT)
        self.add_hookspecs(hookspecs)
        self.distributions: dict[str, str] = {}
        self.failures: dict[str, str] = {}
        self._schemes: SchemeRegistry | None = None

    @property
    def schemes(self) -> SchemeRegistry:
        """The schemes the registered plugins declare, collected on first use after a change."""
        if self._schemes is None:
            self._schemes = SchemeRegistry.collect(self)
        return self._schemes

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register `plugin` (pluggy's `register`); the scheme table is collected anew."""
        self._schemes = None
        return super().register(plugin, name)

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        """Remove a plugin (pluggy's `unregister`); the scheme table is collected anew."""
        self._schemes = None
        return super().unregister(plugin, name)

    def load_entry_points(self) -> None:
        """Register every `cqrs` entry point; one that fails to import is logged and skipped."""
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if self.has_plugin(ep.name) or self.is_blocked(ep.name):
                continue
            dist = ep.dist.name if ep.dist is not None else "?"
            try:
                plugin = ep.load()
                self.register(plugin, name=ep.name)
            except Exception as exc:
                self.failures[ep.name] = f"{type(exc).__name__}: {exc}"
                _log.warning("cqrs plugin %r from %s failed to load: %s", ep.name, dist, exc)
                continue
            self.distributions[ep.name] = dist


def new_plugin_manager(*, autoload: bool | None = None) -> PluginManager:
    """Build a manager with the built-in plugin and, unless disabled, every installed plugin."""
    from cqrs.memory import _plugin as builtin

    manager = PluginManager()
    manager.register(builtin, name="cqrs-core")
    manager.distributions["cqrs-core"] = "cqrs-core"
    if autoload is None:
        autoload = not os.environ.get(AUTOLOAD_ENV)
    if autoload:
        manager.load_entry_points()
    return manager


def get_plugin_manager() -> PluginManager:
    """The process's plugin manager, created on the first call."""
    global _current
    if _current is None:
        _current = new_plugin_manager()
    return _current


def set_plugin_manager(manager: PluginManager | None) -> None:
    """Replace the process's plugin manager (tests); `None` makes the next use build a fresh one."""
    global _current
    _current = manager
