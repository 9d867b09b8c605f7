"""The message broker contract suite at its earlier path; its home is `cqrs.brokers.contract`."""

from cqrs.brokers.contract import ContractPayload, MessageBrokerContract

__all__ = ["ContractPayload", "MessageBrokerContract"]
