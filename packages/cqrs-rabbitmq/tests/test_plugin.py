"""The rabbitmq plugin: which URLs it claims, what it builds, and that it loads aio-pika lazily."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points

import pytest

import cqrs_rabbitmq
from cqrs.exceptions import UnknownSchemeError
from cqrs.plugins import make_message_broker, new_plugin_manager
from cqrs_rabbitmq import _plugin
from cqrs_rabbitmq.broker import DEFAULT_EXCHANGE, RabbitMQMessageBroker


def build(url: str) -> RabbitMQMessageBroker:
    """What a manager holding only this plugin (and core's) builds for `url`."""
    manager = new_plugin_manager(autoload=False)
    manager.register(_plugin, name="rabbitmq")
    broker = make_message_broker(url, manager)
    assert isinstance(broker, RabbitMQMessageBroker)
    return broker


@pytest.mark.parametrize(
    "url", ["kafka://localhost:9092", "redis://localhost/0", "amqpx://h/", "http://h/"]
)
def test_foreign_schemes_are_left_to_other_plugins(url: str) -> None:
    with pytest.raises(UnknownSchemeError):
        build(url)


def test_amqp_url_builds_an_unconnected_broker_on_the_default_exchange() -> None:
    broker = build("amqp://guest:guest@localhost:5672/")
    assert isinstance(broker, RabbitMQMessageBroker)
    assert broker.exchange_name == DEFAULT_EXCHANGE
    assert broker.url == "amqp://guest:guest@localhost:5672/"
    assert broker.connection is None


def test_exchange_query_parameter_is_taken_and_the_rest_passed_on() -> None:
    broker = build(
        "AMQPS://user:pw@rabbit:5671/vhost?heartbeat=30&exchange=shop%2Eevents&cafile=/c.pem"
    )
    assert isinstance(broker, RabbitMQMessageBroker)
    assert broker.exchange_name == "shop.events"
    assert broker.url == "AMQPS://user:pw@rabbit:5671/vhost?heartbeat=30&cafile=/c.pem"
    only = RabbitMQMessageBroker.from_url("amqp://h/?exchange=e")
    assert (only.url, only.exchange_name) == ("amqp://h/", "e")


def test_repr_hides_the_password() -> None:
    broker = RabbitMQMessageBroker.from_url("amqp://user:s3cret@rabbit/?exchange=x")
    assert "s3cret" not in repr(broker)
    assert "user:***@rabbit" in repr(broker)


def test_schemes_are_declared_once() -> None:
    declared = _plugin.cqrs_declare_schemes()
    assert [(d.role, d.scheme) for d in declared] == [
        ("message_broker", "amqp"),
        ("message_broker", "amqps"),
        ("consumer_transport", "amqp"),
        ("consumer_transport", "amqps"),
    ]


def test_plugin_manager_resolves_amqp_urls_through_the_plugin() -> None:
    manager = new_plugin_manager(autoload=False)
    manager.register(_plugin, name="rabbitmq")
    broker = make_message_broker("amqp://localhost/?exchange=ev", manager)
    assert isinstance(broker, RabbitMQMessageBroker)
    assert broker.exchange_name == "ev"


def test_entry_point_names_the_plugin_module() -> None:
    (entry,) = [ep for ep in entry_points(group="cqrs") if ep.name == "rabbitmq"]
    assert entry.value == "cqrs_rabbitmq._plugin"


def test_package_exports_are_complete() -> None:
    assert sorted(cqrs_rabbitmq.__all__) == [
        "DEFAULT_DEAD_LETTER_EXCHANGE",
        "DEFAULT_EXCHANGE",
        "RabbitMQEventConsumer",
        "RabbitMQMessageBroker",
    ]
    for name in cqrs_rabbitmq.__all__:
        assert getattr(cqrs_rabbitmq, name) is not None
    with pytest.raises(AttributeError):
        cqrs_rabbitmq.NoSuchThing


def test_loading_the_plugin_does_not_import_aio_pika() -> None:
    code = textwrap.dedent(
        """
        import sys
        import cqrs_rabbitmq
        import cqrs_rabbitmq._plugin as plugin
        declared = plugin.cqrs_declare_schemes()
        assert "aio_pika" not in sys.modules, "aio_pika imported by the plugin module"
        assert "aiormq" not in sys.modules
        broker = declared[0].build("amqp://h/")
        assert "aio_pika" in sys.modules, "the factory itself should load the broker"
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_make_consumer_transport_builds_a_queue_consumer_from_the_url() -> None:
    from cqrs.plugins import make_consumer_transport
    from cqrs_rabbitmq.transport import RabbitMQConsumerTransport

    manager = new_plugin_manager(autoload=False)
    manager.register(_plugin, name="rabbitmq")
    transport = make_consumer_transport(
        "amqp://guest:secret@mq/?exchange=ev&heartbeat=5",
        topics=["orders.*", "paid"],
        group="billing",
        manager=manager,
    )
    assert isinstance(transport, RabbitMQConsumerTransport)
    assert (transport.queue, transport.routing_keys) == ("billing", ["orders.*", "paid"])
    assert transport.exchange == "ev"
    assert transport.url_or_connection == "amqp://guest:secret@mq/?heartbeat=5"
    assert "secret" not in repr(transport)
    with pytest.raises(ValueError, match="needs a queue and routing keys"):
        make_consumer_transport("amqp://mq/", group="billing", manager=manager)
