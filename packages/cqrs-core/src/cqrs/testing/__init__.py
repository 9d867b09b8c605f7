"""Test kit: contract suites that every implementation of a protocol subclasses, and chaos tools.

Importing it is left to test code (it imports pytest); the opt-in pytest plugin is
`cqrs.testing.pytest_plugin`.
"""

from cqrs.breakers.contract import BreakerStateContract
from cqrs.brokers.contract import ContractPayload, MessageBrokerContract
from cqrs.consumers.contract import ConsumerContract
from cqrs.inbox.contract import InboxContract
from cqrs.outbox.contract import OutboxRepositoryContract
from cqrs.saga.storage.contract import SagaStorageContract
from cqrs.testing.fire_and_forget import FireAndForgetBroker
from cqrs.testing.proxy import TcpProxy

__all__ = [
    "BreakerStateContract",
    "ConsumerContract",
    "ContractPayload",
    "FireAndForgetBroker",
    "InboxContract",
    "MessageBrokerContract",
    "OutboxRepositoryContract",
    "SagaStorageContract",
    "TcpProxy",
]
