"""Where the Kafka examples find a broker: `CQRS_EXAMPLE_KAFKA`, else a tansu of their own."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def kafka_servers() -> Iterator[str]:
    """The Kafka named by `CQRS_EXAMPLE_KAFKA`, else a tansu started for this run."""
    if servers := os.environ.get("CQRS_EXAMPLE_KAFKA"):
        yield servers
        return
    from cqrs_kafka.testing import TansuBroker

    with TansuBroker() as tansu:
        yield tansu.bootstrap_servers
