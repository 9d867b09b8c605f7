"""The scheme registry: plugins declare each scheme once and every reader uses that table."""

from __future__ import annotations

import ast
import logging
import os
import pkgutil
import subprocess
import sys
import uuid
from typing import Any

import pytest

import cqrs.plugins
from cqrs.brokers.memory import MemoryMessageBroker
from cqrs.exceptions import UnknownSchemeError
from cqrs.inbox.memory import MemoryInbox
from cqrs.memory import _plugin as builtin
from cqrs.plugins import (
    INBOX,
    MESSAGE_BROKER,
    OUTBOX,
    PluginManager,
    SchemeDeclaration,
    hookimpl,
    installed_schemes,
    make_from_url,
    make_inbox,
    make_message_broker,
    new_plugin_manager,
)
from cqrs.urls import partition_url, split_url, url_scheme


class Recorder:
    """What a plugin's factory built, with the URL it was given."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def connect(self) -> None:
        pass

    async def close(self) -> None:
        pass


class DeclaringPlugin:
    """A third party written the new way: one declaration per scheme, factories as callables."""

    @hookimpl
    def cqrs_declare_schemes(self) -> list[SchemeDeclaration]:
        return [
            SchemeDeclaration(MESSAGE_BROKER, "nats", Recorder, "NATS"),
            SchemeDeclaration("consumer_transport", "nats", Recorder, "NATS consumer"),
        ]


class OlderPlugin:
    """A third party written before declarations: a factory hook and a listing."""

    @hookimpl
    def cqrs_make_message_broker(self, url: str) -> Recorder | None:
        return Recorder(url) if url_scheme(url) == "zmq" else None

    @hookimpl
    def cqrs_list_schemes(self) -> dict[str, list[str]]:
        return {"message_broker": ["zmq"]}


@pytest.fixture
def manager() -> PluginManager:
    return new_plugin_manager(autoload=False)


class TestUrls:
    def test_split_lower_cases_the_scheme_only(self) -> None:
        assert split_url("Kafka://H:9092/x") == ("kafka", "H:9092/x")
        assert url_scheme("MARIADB+asyncmy://root@db/app") == "mariadb+asyncmy"

    @pytest.mark.parametrize("url", ["localhost:9092", "://host", ""])
    def test_split_refuses_what_has_no_scheme(self, url: str) -> None:
        with pytest.raises(ValueError, match="not a URL"):
            split_url(url)

    def test_a_refused_url_is_redacted(self) -> None:
        with pytest.raises(ValueError, match=r"://user:\*\*\*@host") as info:
            split_url("://user:s3cret@host")
        assert "s3cret" not in str(info.value)

    def test_partition_never_raises(self) -> None:
        assert partition_url("AMQP://h") == ("AMQP", "h")
        assert partition_url("no scheme") is None


class TestDeclarations:
    def test_a_reference_is_imported_only_when_built(self) -> None:
        declared = SchemeDeclaration(
            MESSAGE_BROKER, "memory", "cqrs.memory._from_url:message_broker"
        )
        assert isinstance(declared.build("memory://"), MemoryMessageBroker)

    def test_a_dotted_attribute_reference(self) -> None:
        declared = SchemeDeclaration(
            MESSAGE_BROKER, "x", "cqrs.brokers.memory:MemoryMessageBroker.__call__"
        )
        assert declared.factory == "cqrs.brokers.memory:MemoryMessageBroker.__call__"

    @pytest.mark.parametrize(
        ("role", "scheme", "factory", "problem"),
        [
            ("message_broker", "Kafka", "m:f", "invalid URL scheme"),
            ("message_broker", "kafka://", "m:f", "invalid URL scheme"),
            ("message_broker", "", "m:f", "invalid URL scheme"),
            ("Message Broker", "kafka", "m:f", "invalid role"),
            ("message_broker", "kafka", "module.only", "expected 'module:attribute'"),
        ],
    )
    def test_malformed_declarations_are_refused(
        self, role: str, scheme: str, factory: str, problem: str
    ) -> None:
        with pytest.raises(ValueError, match=problem):
            SchemeDeclaration(role, scheme, factory)

    def test_a_factory_that_is_neither_reference_nor_callable(self) -> None:
        with pytest.raises(TypeError, match="string or a callable"):
            SchemeDeclaration(MESSAGE_BROKER, "x", 42)  # type: ignore[arg-type]

    def test_a_missing_module_raises_import_error_for_the_driver_hint(self) -> None:
        declared = SchemeDeclaration(MESSAGE_BROKER, "x", "cqrs_no_such_module:make")
        with pytest.raises(ImportError):
            declared.build("x://")


class TestRegistry:
    def test_the_builtin_plugin_declares_its_schemes(self, manager: PluginManager) -> None:
        assert manager.schemes.by_plugin() == {
            "cqrs-core": {
                "message_broker": ["memory", "devnull"],
                "outbox": ["memory"],
                "inbox": ["memory"],
                "saga_storage": ["memory"],
            }
        }
        assert [d.scheme for d in builtin.cqrs_declare_schemes()].count("devnull") == 1

    async def test_memory_builds_an_inbox_that_records_an_id_once(
        self, manager: PluginManager
    ) -> None:
        inbox = make_inbox("memory://", manager)
        assert isinstance(inbox, MemoryInbox)
        assert make_inbox("memory://", manager) is not inbox, "each URL resolution is a new inbox"
        message_id = uuid.uuid4()
        for expected in (True, False):
            async with inbox as session:
                assert await inbox.record(session, message_id, consumer="billing") is expected
                await inbox.commit(session)
        assert await inbox.seen(message_id, consumer="billing")

    def test_an_unknown_inbox_scheme_says_what_there_is(self, manager: PluginManager) -> None:
        with pytest.raises(UnknownSchemeError) as info:
            make_inbox("nosuch://u:secret@h", manager)
        text = str(info.value)
        assert text.startswith("no installed plugin provides an inbox for nosuch:// "), text
        assert "Installed schemes: memory:// (cqrs-core)." in text
        assert "secret" not in text

    def test_an_inbox_of_the_sql_adapter_not_installed(self, manager: PluginManager) -> None:
        with pytest.raises(UnknownSchemeError) as info:
            make_from_url(INBOX, "postgresql+asyncpg://db/app", manager)
        assert str(info.value).endswith("Install it with: pip install cqrs-sqla")
        with pytest.raises(UnknownSchemeError, match="did you mean mysql"):
            make_inbox("mysql://root@db/app", manager)

    def test_a_declared_scheme_is_built_by_its_factory(self, manager: PluginManager) -> None:
        manager.register(DeclaringPlugin(), name="nats")
        broker: Any = make_message_broker("nats://h:4222", manager)
        assert isinstance(broker, Recorder)
        assert broker.url == "nats://h:4222"
        assert installed_schemes(MESSAGE_BROKER, manager)["nats"] == "nats"

    def test_the_role_set_is_open(self, manager: PluginManager) -> None:
        manager.register(DeclaringPlugin(), name="nats")
        built = make_from_url("consumer_transport", "NATS://h", manager)
        assert isinstance(built, Recorder)
        with pytest.raises(UnknownSchemeError, match="provides a consumer transport for kafka://"):
            make_from_url("consumer_transport", "kafka://h", manager)

    def test_older_plugins_still_build_and_are_listed(self, manager: PluginManager) -> None:
        manager.register(OlderPlugin(), name="zmq")
        broker: Any = make_message_broker("zmq://h", manager)
        assert isinstance(broker, Recorder)
        assert installed_schemes(MESSAGE_BROKER, manager)["zmq"] == "zmq"
        assert manager.schemes.find(MESSAGE_BROKER, "zmq") is not None

    def test_the_table_follows_registration(self, manager: PluginManager) -> None:
        assert "nats" not in installed_schemes(MESSAGE_BROKER, manager)
        plugin = DeclaringPlugin()
        manager.register(plugin, name="nats")
        assert "nats" in installed_schemes(MESSAGE_BROKER, manager)
        manager.unregister(plugin)
        assert "nats" not in installed_schemes(MESSAGE_BROKER, manager)

    def test_a_failing_declaration_hook_is_reported_not_fatal(self, manager: PluginManager) -> None:
        class Broken:
            @hookimpl
            def cqrs_declare_schemes(self) -> list[SchemeDeclaration]:
                raise RuntimeError("declaring exploded")

        manager.register(Broken(), name="broken")
        assert isinstance(make_message_broker("memory://", manager), MemoryMessageBroker)
        assert manager.schemes.problems == {
            "broken": "cqrs_declare_schemes failed: RuntimeError: declaring exploded"
        }
        with pytest.raises(UnknownSchemeError, match="Plugin 'broken' failed to load"):
            make_message_broker("nats://h", manager)

    def test_a_scheme_claimed_twice_warns_and_the_last_registered_wins(
        self, manager: PluginManager, caplog: pytest.LogCaptureFixture
    ) -> None:
        class Override:
            @hookimpl
            def cqrs_declare_schemes(self) -> list[SchemeDeclaration]:
                return [SchemeDeclaration(MESSAGE_BROKER, "memory", Recorder)]

        manager.register(Override(), name="override")
        with caplog.at_level(logging.WARNING, logger="cqrs.plugins"):
            assert isinstance(make_message_broker("memory://", manager), Recorder)
        assert "claimed by plugins 'override' and 'cqrs-core'" in caplog.text
        assert isinstance(make_from_url(OUTBOX, "memory://", manager), object)

    def test_a_scheme_of_an_uninstalled_adapter_for_another_role(
        self, manager: PluginManager
    ) -> None:
        with pytest.raises(UnknownSchemeError) as info:
            make_from_url(OUTBOX, "redis://h/0", manager)
        text = str(info.value)
        assert "redis:// is a saga storage scheme of cqrs-redis." in text
        assert "pip install" not in text


def _fresh(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CQRS_")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


PLUGIN_MODULES = sorted(
    f"cqrs.plugins.{info.name}" for info in pkgutil.iter_modules(cqrs.plugins.__path__)
)


@pytest.mark.parametrize("module", PLUGIN_MODULES)
def test_each_plugins_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    """No import cycle: whichever module of `cqrs.plugins` is imported first, it loads."""
    _fresh(f"import {module}")


def test_no_plugins_module_imports_the_package_it_belongs_to() -> None:
    """Submodules import their siblings' modules, never names the package `__init__` binds."""
    root = cqrs.plugins.__path__[0]
    submodules = {name.rpartition(".")[2] for name in PLUGIN_MODULES}
    for module in PLUGIN_MODULES:
        path = os.path.join(root, module.rpartition(".")[2] + ".py")
        with open(path, encoding="utf-8") as source:
            tree = ast.parse(source.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "cqrs.plugins":
                names = {alias.name for alias in node.names}
                assert names <= submodules, (
                    f"{module} imports {names - submodules} from the package"
                )


def test_resolving_memory_as_a_broker_imports_nothing_from_sagas() -> None:
    out = _fresh(
        "import sys\n"
        "from cqrs.plugins import make_message_broker, new_plugin_manager\n"
        "make_message_broker('memory://', new_plugin_manager(autoload=False))\n"
        "print('\\n'.join(m for m in sys.modules if m.startswith('cqrs.saga')))\n"
    )
    assert out.split() == []
