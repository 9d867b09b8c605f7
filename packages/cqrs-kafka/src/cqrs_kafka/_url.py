"""Building a Kafka message broker, or a consumer transport, from a `kafka://` URL.

`kafka://host:port[,host:port]?option=value` makes a broker; a consumer transport's URL names
its topics and group too: `kafka://host:9092?topics=orders,payments&group=billing`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from cqrs.redaction import redact_url
from cqrs.urls import url_scheme
from cqrs_kafka.broker import KafkaMessageBroker
from cqrs_kafka.producer import KafkaProducer

if TYPE_CHECKING:
    from cqrs_kafka.transport import KafkaConsumerTransport

__all__ = ["URL_OPTIONS", "broker_from_url", "consumer_transport_from_url"]

URL_OPTIONS: dict[str, type] = {
    "client_id": str,
    "acks": str,
    "compression_type": str,
    "linger_ms": int,
    "request_timeout_ms": int,
    "retry_backoff_ms": int,
    "max_batch_size": int,
    "enable_idempotence": bool,
}
"""Query parameters a `kafka://` URL accepts, each passed on to aiokafka's producer."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def broker_from_url(url: str) -> KafkaMessageBroker:
    """A `KafkaMessageBroker` for `url`; raises `ValueError` naming what is wrong with it."""
    servers = _servers(url)
    options = {name: _option(name, raw, url) for name, raw in parse_qsl(urlsplit(url).query)}
    return KafkaMessageBroker(KafkaProducer(servers, **options))


def consumer_transport_from_url(url: str) -> KafkaConsumerTransport:
    """A `KafkaConsumerTransport` for `kafka://hosts?topics=a,b&group=name` (optionally
    `dead_letter_topic=`); raises `ValueError` naming what is wrong with the URL."""
    from cqrs_kafka.transport import KafkaConsumerTransport

    servers = _servers(url)
    query = dict(parse_qsl(urlsplit(url).query))
    unknown = set(query) - {"topics", "group", "dead_letter_topic"}
    if unknown:
        raise ValueError(
            f"unknown kafka:// consumer option(s) {', '.join(sorted(unknown))} in "
            f"{redact_url(url)!r}; accepted: topics, group, dead_letter_topic"
        )
    topics = [topic for topic in query.get("topics", "").split(",") if topic]
    if not topics or not query.get("group"):
        raise ValueError(
            f"a Kafka consumer needs topics and a group (--topics, --group): {redact_url(url)!r}"
        )
    return KafkaConsumerTransport(
        servers, topics, query["group"], dead_letter_topic=query.get("dead_letter_topic")
    )


def _servers(url: str) -> list[str]:
    if url_scheme(url) != "kafka":
        raise ValueError(f"not a kafka:// URL: {redact_url(url)!r}")
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise ValueError(
            f"credentials in kafka:// URLs are not supported ({redact_url(url)!r}); build the "
            "broker with kafka_producer_factory(dsn, sasl_plain_username=..., ...) instead"
        )
    servers = [_with_port(host) for host in parts.netloc.split(",") if host.strip()]
    if not servers:
        raise ValueError(f"kafka:// URL names no host: {redact_url(url)!r}")
    return servers


def _with_port(host: str) -> str:
    host = host.strip()
    return host if host.rpartition(":")[2].isdigit() and not host.endswith("]") else f"{host}:9092"


def _option(name: str, raw: str, url: str) -> Any:
    kind = URL_OPTIONS.get(name)
    if kind is None:
        accepted = ", ".join(sorted(URL_OPTIONS))
        raise ValueError(
            f"unknown kafka:// URL option {name!r} in {redact_url(url)!r}; accepted: {accepted}"
        )
    if kind is bool:
        if raw.lower() in _TRUE | _FALSE:
            return raw.lower() in _TRUE
    elif kind is int:
        if raw.isdigit():
            return int(raw)
    else:
        return raw
    raise ValueError(f"kafka:// URL option {name}={raw!r} is not a valid {kind.__name__}")
