"""The inbox protocol at its former path; its home is `cqrs.inbox.protocol`."""

from cqrs.inbox.protocol import Inbox

__all__ = ["Inbox"]
