"""Finding the real services tests run against: addresses from the environment, skip or fail.

On a developer machine a missing service skips its tests with a one-line reason; when the `CI`
environment variable is set, it fails them instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["SERVICES", "Service", "require_service", "service_reachable"]


@dataclass(frozen=True)
class Service:
    """A service the integration tests use, its URL variable and its loopback default."""

    name: str
    env: str
    default_url: str

    @property
    def url(self) -> str:
        """The URL from the environment variable, else the default."""
        return os.environ.get(self.env, self.default_url)

    @property
    def host(self) -> str:
        """The host part of `url`."""
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        """The port part of `url`."""
        port = urlsplit(self.url).port
        if port is None:
            raise ValueError(f"{self.env} has no port: {self.url}")
        return port


SERVICES = {
    "postgres": Service(
        "PostgreSQL", "CQRS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": Service(
        "MariaDB", "CQRS_TEST_MARIADB_URL", "mysql+asyncmy://root@127.0.0.1:3306/test"
    ),
    "redis": Service("Redis", "CQRS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    "rabbitmq": Service("RabbitMQ", "CQRS_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/"),
}
"""The services of the brief at their standard loopback ports."""


def service_reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether a TCP connection to `host:port` succeeds within `timeout` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(key: str) -> Service:
    """The service named `key` if it answers; else skip the test (or fail it when `CI` is set)."""
    import pytest

    service = SERVICES[key]
    if service_reachable(service.host, service.port):
        return service
    reason = f"{service.name} is not reachable at {service.host}:{service.port}"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so a missing service is a failure)")
    pytest.skip(reason)
