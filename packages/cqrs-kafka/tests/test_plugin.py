"""The `kafka` plugin: URL dispatch, what a `kafka://` URL builds, and a cheap import."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from cqrs.exceptions import UnknownSchemeError
from cqrs.plugins import make_message_broker, new_plugin_manager
from cqrs_kafka import KafkaMessageBroker, _plugin


def build(url: str) -> KafkaMessageBroker:
    """What a manager holding only this plugin (and core's) builds for `url`."""
    manager = new_plugin_manager(autoload=False)
    manager.register(_plugin, name="kafka")
    broker = make_message_broker(url, manager)
    assert isinstance(broker, KafkaMessageBroker)
    return broker


@pytest.mark.parametrize(
    "url", ["amqp://guest:guest@localhost/", "fake://x", "kafkax://h:1", "redis://h/0"]
)
def test_foreign_schemes_are_left_to_other_plugins(url: str) -> None:
    with pytest.raises(UnknownSchemeError):
        build(url)


def test_kafka_url_builds_an_unstarted_broker_with_its_options() -> None:
    broker = build(
        "KAFKA://10.0.0.1:9093,broker-2?client_id=orders&linger_ms=5&enable_idempotence=1"
    )
    assert isinstance(broker, KafkaMessageBroker)
    producer = broker.producer
    assert producer.bootstrap_servers == ["10.0.0.1:9093", "broker-2:9092"]
    assert producer.options["client_id"] == "orders"
    assert producer.options["linger_ms"] == 5
    assert producer.options["enable_idempotence"] is True
    assert producer.options["acks"] == "all"
    assert not producer.started


def test_defaults_leave_idempotence_off() -> None:
    broker = build("kafka://localhost:9092")
    assert "enable_idempotence" not in broker.producer.options


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("kafka://h:9092?colour=blue", "unknown kafka:// URL option 'colour'"),
        ("kafka://h:9092?linger_ms=soon", "linger_ms='soon' is not a valid int"),
        ("kafka://h:9092?enable_idempotence=maybe", "not a valid bool"),
        ("kafka://?client_id=x", "names no host"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        build(url)


def test_credentials_are_refused_without_echoing_the_password() -> None:
    with pytest.raises(ValueError, match="not supported") as info:
        build("kafka://app:s3cret@h:9092")
    assert "s3cret" not in str(info.value)


def test_declares_its_scheme_once() -> None:
    declared, consumer = _plugin.cqrs_declare_schemes()
    assert (declared.role, declared.scheme) == ("message_broker", "kafka")
    assert declared.factory == "cqrs_kafka._url:broker_from_url"
    assert (consumer.role, consumer.scheme) == ("consumer_transport", "kafka")


def test_entry_point_serves_kafka_urls() -> None:
    manager = new_plugin_manager(autoload=True)
    assert manager.distributions.get("kafka") == "cqrs-kafka"
    broker = make_message_broker("kafka://127.0.0.1:9092", manager)
    assert isinstance(broker, KafkaMessageBroker)


def test_plugin_and_broker_construction_do_not_import_aiokafka() -> None:
    code = (
        "import sys\n"
        "import cqrs_kafka._plugin as plugin\n"
        "import cqrs_kafka\n"
        "[declared, _] = plugin.cqrs_declare_schemes()\n"
        "broker = declared.build('kafka://127.0.0.1:9092')\n"
        "assert type(broker).__name__ == 'KafkaMessageBroker', broker\n"
        "from cqrs.message_brokers.kafka import KafkaMessageBroker\n"
        "from cqrs.adapters.kafka import kafka_producer_factory\n"
        "KafkaMessageBroker(kafka_producer_factory(dsn='127.0.0.1:9092', topics=['t']))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'aiokafka', 'kafka'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_make_consumer_transport_builds_a_kafka_consumer_from_the_url() -> None:
    from cqrs.plugins import make_consumer_transport
    from cqrs_kafka.transport import KafkaConsumerTransport

    manager = new_plugin_manager(autoload=False)
    manager.register(_plugin, name="kafka")
    transport = make_consumer_transport(
        "kafka://a:9092,b?dead_letter_topic=dlq",
        topics=["orders", "paid"],
        group="billing",
        manager=manager,
    )
    assert isinstance(transport, KafkaConsumerTransport)
    assert transport.bootstrap_servers == ["a:9092", "b:9092"]
    assert (transport.topics, transport.group_id) == (["orders", "paid"], "billing")
    assert transport.dead_letter_topic_for("orders") == "dlq"
    with pytest.raises(ValueError, match="needs topics and a group"):
        make_consumer_transport("kafka://a:9092", topics=["orders"], manager=manager)
    with pytest.raises(ValueError, match="unknown kafka:// consumer option"):
        make_consumer_transport("kafka://a?linger=1", topics=["t"], group="g", manager=manager)
