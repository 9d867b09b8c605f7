"""An unknown URL scheme names the scheme that was meant, read from what the plugins declare."""

from __future__ import annotations

import pytest

from cqrs.exceptions import UnknownSchemeError
from cqrs.plugins import (
    KNOWN_ADAPTERS,
    PluginManager,
    hookimpl,
    make_message_broker,
    make_outbox_repository,
    make_saga_storage,
    new_plugin_manager,
)


class DatabasePlugin:
    """Declares database schemes with drivers, as an SQL adapter does (it builds nothing)."""

    @hookimpl
    def cqrs_list_schemes(self) -> dict[str, list[str]]:
        schemes = ["postgresql+asyncpg", "postgresql+psycopg", "cockroach+asyncpg"]
        return {"outbox": schemes, "saga_storage": schemes}


class AmqpPlugin:
    @hookimpl
    def cqrs_list_schemes(self) -> dict[str, list[str]]:
        return {"message_broker": ["amqp", "amqps"]}


@pytest.fixture
def manager() -> PluginManager:
    manager = new_plugin_manager(autoload=False)
    manager.register(DatabasePlugin(), name="db")
    manager.register(AmqpPlugin(), name="amqp")
    return manager


def message(make: object, url: str, manager: PluginManager) -> str:
    with pytest.raises(UnknownSchemeError) as info:
        make(url, manager)  # type: ignore[operator]
    return str(info.value)


def test_a_scheme_without_driver_lists_the_installed_drivers(manager: PluginManager) -> None:
    text = message(make_outbox_repository, "postgresql://app:pw@db/app", manager)
    assert "did you mean postgresql+asyncpg://app:***@db/app or postgresql+psycopg://" in text
    assert "pw@" not in text


def test_the_hint_follows_the_plugins_not_a_table(manager: PluginManager) -> None:
    text = message(make_saga_storage, "cockroach://db/app", manager)
    assert "did you mean cockroach+asyncpg://db/app?" in text


def test_an_unknown_driver_gets_the_installed_ones(manager: PluginManager) -> None:
    text = message(make_outbox_repository, "postgresql+pg8000://db/app", manager)
    assert "did you mean postgresql+asyncpg://db/app or postgresql+psycopg://db/app?" in text


@pytest.mark.parametrize("alias", ["postgres", "pgsql"])
def test_a_database_alias(manager: PluginManager, alias: str) -> None:
    text = message(make_outbox_repository, f"{alias}://db/app", manager)
    assert "did you mean postgresql+asyncpg://db/app or postgresql+psycopg://db/app?" in text


@pytest.mark.parametrize(("alias", "meant"), [("rabbitmq", "amqp"), ("rabbitmqs", "amqps")])
def test_a_broker_alias(manager: PluginManager, alias: str, meant: str) -> None:
    text = message(make_message_broker, f"{alias}://guest:pw@mq/", manager)
    assert f"did you mean {meant}://guest:***@mq/?" in text


def test_a_scheme_of_another_role(manager: PluginManager) -> None:
    text = message(make_outbox_repository, "amqp://mq/", manager)
    assert "amqp:// is a message broker scheme." in text
    assert "pip install" not in text


def test_an_adapter_not_installed_is_suggested_with_its_distribution() -> None:
    bare = new_plugin_manager(autoload=False)
    text = message(make_outbox_repository, "mysql://root@db/app", bare)
    assert "did you mean mysql+asyncmy://root@db/app?" in text
    assert text.endswith("Install it with: pip install cqrs-sqla")


def test_mariadb_is_a_known_adapter_scheme() -> None:
    assert KNOWN_ADAPTERS["mariadb+asyncmy"] == "cqrs-sqla"
    bare = new_plugin_manager(autoload=False)
    text = message(make_outbox_repository, "mariadb+asyncmy://root@db/app", bare)
    assert text.endswith("Install it with: pip install cqrs-sqla")


def test_plugins_that_failed_to_load_are_named(manager: PluginManager) -> None:
    manager.failures["nats"] = "ModuleNotFoundError: No module named 'nats'"
    text = message(make_message_broker, "nats://mq", manager)
    assert "Plugin 'nats' failed to load (ModuleNotFoundError: No module named 'nats')." in text


def test_nothing_close_gives_no_hint(manager: PluginManager) -> None:
    text = message(make_message_broker, "zmq://mq", manager)
    assert "did you mean" not in text
    assert "Installed schemes: amqp:// (amqp), amqps:// (amqp)," in text
