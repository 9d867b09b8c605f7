"""FastStream integration for cqrs: decode our message envelope into typed events, and bind
FastStream subscribers to an `EventMediator` with acknowledgement after handling.

Example::

    broker = KafkaBroker("localhost:9092")
    dispatcher = MessageDispatcher(mediator, {"HelloWorld": cqrs.NotificationEvent[Hello]})
    subscribe_events(broker, "hello_world", group_id="examples", dispatcher=dispatcher,
                     dead_letter=broker.publisher("hello_world.dead-letter"))
"""

from cqrs_faststream.decoder import EventDecoder, to_cqrs_message
from cqrs_faststream.subscriber import subscribe_events

__all__ = ["EventDecoder", "subscribe_events", "to_cqrs_message"]
