"""The default response model: what request handlers return."""

from cqrs.model import Model

__all__ = ["Response"]


class Response(Model):
    """What a request handler returns."""
