"""The default request model."""

from cqrs.model import Model

__all__ = ["Request"]


class Request(Model):
    """A command or a query: sent through a mediator to exactly one handler."""
