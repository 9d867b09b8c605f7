"""Seed paths of adapters (Kafka producer, aiobreaker) that live in their own distributions.

Each submodule re-exports its adapter distribution's names, or raises an ImportError naming the
distribution to install.
"""

__all__: list[str] = []
