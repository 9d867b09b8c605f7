"""The redis plugin: saga storages for `redis://` URLs, and no `redis` import until needed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cqrs.exceptions import UnknownSchemeError
from cqrs.plugins import new_plugin_manager
from cqrs.plugins.resolve import make_saga_storage
from cqrs_redis import RedisSagaStorage, _plugin


def test_importing_the_package_and_plugin_does_not_import_redis() -> None:
    code = (
        "import sys, cqrs_redis._plugin, cqrs_redis\n"
        "print(sorted(m for m in sys.modules if m == 'redis' or m.startswith('redis.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_plugin_declares_only_redis_schemes() -> None:
    declared = _plugin.cqrs_declare_schemes()
    assert [(d.role, d.scheme) for d in declared] == [
        ("saga_storage", "redis"),
        ("saga_storage", "rediss"),
    ]
    manager = new_plugin_manager(autoload=False)
    manager.register(_plugin, name="redis")
    with pytest.raises(UnknownSchemeError):
        make_saga_storage("postgresql+asyncpg://x/y", manager)
    for url in ("redis://127.0.0.1:6379/0", "rediss://127.0.0.1:6380/0", "REDIS://h/1"):
        storage = make_saga_storage(url, manager)
        assert isinstance(storage, RedisSagaStorage)


async def test_the_installed_entry_point_resolves_a_url() -> None:
    storage = make_saga_storage(
        "redis://127.0.0.1:6379/0", manager=new_plugin_manager(autoload=True)
    )
    assert isinstance(storage, RedisSagaStorage)
    assert storage.prefix == "cqrs:saga"
    await storage.close()
