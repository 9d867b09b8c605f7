"""Test kit: contract suites that every implementation of a protocol subclasses.

Importing it is left to test code; the opt-in pytest plugin is `cqrs.testing.pytest_plugin`.
"""

from cqrs.testing.message_broker import ContractPayload, MessageBrokerContract

__all__ = ["ContractPayload", "MessageBrokerContract"]
