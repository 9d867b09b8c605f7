"""The Kafka message broker at its seed path, provided by the `cqrs-kafka` distribution.

Without `pip install cqrs-kafka`, importing this module raises an ImportError naming it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cqrs._shim import forward, require

__all__ = ["KafkaMessageBroker"]

if TYPE_CHECKING:
    from cqrs_kafka import (  # type: ignore[import-not-found,unused-ignore]
        KafkaMessageBroker as KafkaMessageBroker,
    )

__getattr__ = forward(require("cqrs_kafka", "cqrs-kafka"), __name__)
