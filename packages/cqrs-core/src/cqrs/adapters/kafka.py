"""Seed path of `cqrs_kafka.kafka_producer_factory` (see `cqrs._compat`).

Without `pip install cqrs-kafka` the import fails with that hint.
"""

from typing import TYPE_CHECKING

from cqrs import _compat

__all__, __getattr__ = _compat.forward_module(__name__)

if TYPE_CHECKING:
    from cqrs_kafka import kafka_producer_factory as kafka_producer_factory
