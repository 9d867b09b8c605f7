"""The redis plugin: saga storages for `redis://` URLs, and no `redis` import until needed."""

from __future__ import annotations

import subprocess
import sys

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


def test_the_hook_claims_only_redis_schemes() -> None:
    assert _plugin.cqrs_make_saga_storage(url="postgresql+asyncpg://x/y") is None
    assert _plugin.cqrs_make_saga_storage(url="memory://") is None
    for url in ("redis://127.0.0.1:6379/0", "rediss://127.0.0.1:6380/0", "REDIS://h/1"):
        storage = _plugin.cqrs_make_saga_storage(url=url)
        assert isinstance(storage, RedisSagaStorage)
    assert _plugin.cqrs_list_schemes() == {"saga_storage": ["redis", "rediss"]}


async def test_the_installed_entry_point_resolves_a_url() -> None:
    storage = make_saga_storage(
        "redis://127.0.0.1:6379/0", manager=new_plugin_manager(autoload=True)
    )
    assert isinstance(storage, RedisSagaStorage)
    assert storage.prefix == "cqrs:saga"
    await storage.close()
