"""The inbox contract suite at its former path; its home is `cqrs.inbox.contract`."""

from cqrs.inbox.contract import InboxContract

__all__ = ["InboxContract"]
