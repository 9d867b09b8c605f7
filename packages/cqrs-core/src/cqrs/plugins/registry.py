"""The URL schemes a plugin manager's plugins declare, by role: one table, read by everyone.

Built from each plugin's `cqrs_declare_schemes` and, for plugins written the older way, its
`cqrs_list_schemes` (those schemes have no declaration: their `cqrs_make_*` hook builds them).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cqrs.plugins.declarations import SchemeDeclaration

if TYPE_CHECKING:
    import pluggy

__all__ = ["RegisteredScheme", "SchemeRegistry"]

_log = logging.getLogger("cqrs.plugins")


@dataclass(frozen=True, slots=True)
class RegisteredScheme:
    """A scheme a plugin serves for a role: declared (`declaration` set) or only listed."""

    plugin: str
    role: str
    scheme: str
    declaration: SchemeDeclaration | None = None


class SchemeRegistry:
    """Every scheme of every loaded plugin, with the plugins whose hooks failed (`problems`).

    When two plugins claim one role's scheme, the one pluggy asks first (the last registered)
    wins, as it would for a first-result hook, and a warning names both.
    """

    def __init__(
        self, entries: Iterable[RegisteredScheme], problems: Mapping[str, str] | None = None
    ) -> None:
        self.problems: dict[str, str] = dict(problems or {})
        self._entries: dict[tuple[str, str], RegisteredScheme] = {}
        for entry in entries:
            key = (entry.role, entry.scheme)
            kept = self._entries.setdefault(key, entry)
            if kept is not entry and kept.plugin != entry.plugin:
                _log.warning(
                    "%s:// (%s) is claimed by plugins %r and %r; %r serves it",
                    entry.scheme,
                    entry.role,
                    kept.plugin,
                    entry.plugin,
                    kept.plugin,
                )

    @classmethod
    def collect(cls, manager: pluggy.PluginManager) -> SchemeRegistry:
        """Ask every plugin of `manager` for its declarations, then for its older listing."""
        entries: list[RegisteredScheme] = []
        problems: dict[str, str] = {}
        hooks = manager.hook
        for impl in reversed(hooks.cqrs_declare_schemes.get_hookimpls()):
            try:
                answer: Any = impl.function()
                declared = list(answer or ())
                for item in declared:
                    if not isinstance(item, SchemeDeclaration):
                        raise TypeError(f"expected SchemeDeclaration, got {type(item).__name__}")
            except Exception as exc:
                problems[impl.plugin_name] = f"cqrs_declare_schemes failed: {_text(exc)}"
                continue
            entries.extend(
                RegisteredScheme(impl.plugin_name, item.role, item.scheme, item)
                for item in declared
            )
        for impl in reversed(hooks.cqrs_list_schemes.get_hookimpls()):
            try:
                answer = impl.function()
                listed: dict[str, Any] = dict(answer or {})
            except Exception as exc:
                problems[impl.plugin_name] = f"cqrs_list_schemes failed: {_text(exc)}"
                continue
            entries.extend(
                RegisteredScheme(impl.plugin_name, role, str(scheme).lower())
                for role, schemes in listed.items()
                for scheme in schemes
            )
        return cls(entries, problems)

    def find(self, role: str, scheme: str) -> RegisteredScheme | None:
        """The entry serving `scheme://` URLs for `role`, or `None`."""
        return self._entries.get((role, scheme))

    def schemes(self, role: str) -> dict[str, str]:
        """Each scheme served for `role`, mapped to the plugin serving it."""
        return {scheme: e.plugin for (r, scheme), e in self._entries.items() if r == role}

    def roles_of(self, scheme: str) -> list[str]:
        """The roles `scheme://` is served for, in the order the plugins declared them."""
        return list(dict.fromkeys(role for role, s in self._entries if s == scheme))

    def entries(self) -> list[RegisteredScheme]:
        """Every served scheme, declared ones first, as the plugins gave them."""
        return list(self._entries.values())

    def by_plugin(self) -> dict[str, dict[str, list[str]]]:
        """Each plugin's schemes by role (what `cqrs plugins` prints)."""
        found: dict[str, dict[str, list[str]]] = {}
        for entry in self._entries.values():
            found.setdefault(entry.plugin, {}).setdefault(entry.role, []).append(entry.scheme)
        return found


def _text(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"
