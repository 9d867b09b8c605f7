"""Test kit: the application test kit (`AppHarness` and its helpers), the contract suites that
every implementation of a protocol subclasses, and chaos tools.

Importing it is left to test code (`import cqrs` never loads it; the contract suites import
pytest); the pytest plugin registered by `cqrs-core` is `cqrs.testing.pytest_plugin`.
"""

from cqrs.breakers.contract import BreakerStateContract
from cqrs.brokers.contract import ContractPayload, MessageBrokerContract
from cqrs.consumers.contract import ConsumerContract
from cqrs.inbox.contract import InboxContract
from cqrs.outbox.contract import OutboxRepositoryContract
from cqrs.saga.storage.contract import SagaStorageContract
from cqrs.testing.clock import ManualClock
from cqrs.testing.fire_and_forget import FireAndForgetBroker
from cqrs.testing.harness import AppHarness
from cqrs.testing.proxy import TcpProxy
from cqrs.testing.published import Published, PublishRecorder
from cqrs.testing.sagas import SagaRun, StepFailures
from cqrs.testing.urls import AdapterUrls

__all__ = [
    "AdapterUrls",
    "AppHarness",
    "BreakerStateContract",
    "ConsumerContract",
    "ContractPayload",
    "FireAndForgetBroker",
    "InboxContract",
    "ManualClock",
    "MessageBrokerContract",
    "OutboxRepositoryContract",
    "PublishRecorder",
    "Published",
    "SagaRun",
    "SagaStorageContract",
    "StepFailures",
    "TcpProxy",
]
