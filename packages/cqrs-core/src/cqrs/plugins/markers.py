"""The pluggy markers of the `cqrs` project: `hookimpl` for plugins, `hookspec` for core."""

from __future__ import annotations

import pluggy

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "cqrs"
"""The pluggy project name the markers and the plugin manager share."""

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a plugin's function as the implementation of the hook it is named after."""

hookspec = pluggy.HookspecMarker(PROJECT)
"""Marks a function of `cqrs.plugins.hookspecs` as a hook specification."""
