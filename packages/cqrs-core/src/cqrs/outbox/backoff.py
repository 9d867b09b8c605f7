"""The first home of `ExponentialBackoff`, now `cqrs.backoff` (shared by every runtime)."""

from cqrs.backoff import ExponentialBackoff

__all__ = ["ExponentialBackoff"]
