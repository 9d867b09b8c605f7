"""The three mediators: requests, streaming requests and events."""

from cqrs.mediators.event import EventMediator
from cqrs.mediators.request import RequestMediator
from cqrs.mediators.streaming import StreamingRequestMediator

__all__ = ["EventMediator", "RequestMediator", "StreamingRequestMediator"]
