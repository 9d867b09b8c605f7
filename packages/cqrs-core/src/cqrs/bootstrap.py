"""The one-call entry point: `cqrs.bootstrap.bootstrap(commands_mapper=..., ...)`."""

from cqrs.events.bootstrap import bootstrap as bootstrap_events
from cqrs.requests.bootstrap import bootstrap, bootstrap_streaming

__all__ = ["bootstrap", "bootstrap_events", "bootstrap_streaming"]
