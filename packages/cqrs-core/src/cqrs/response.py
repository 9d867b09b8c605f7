"""Former path of `cqrs.requests.response`, the default response model."""

from cqrs.requests.response import Response

__all__ = ["Response"]
