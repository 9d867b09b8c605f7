"""FastAPI integration for cqrs: mediator dependencies with a request scope, a lifespan that
opens brokers and runs outbox relays, Server-Sent Events for streams and sagas, and problem
responses for the framework's exceptions.

Example::

    app = fastapi.FastAPI(lifespan=cqrs_lifespan(brokers=[broker], relays=[relay]))
    add_exception_handlers(app, {MeetingNotFound: 404})
    Streaming = mediator_dependency(lambda: streaming_mediator, container=container)

    @app.post("/process-files")
    async def process(
        command: ProcessFiles, mediator: cqrs.StreamingRequestMediator = Depends(Streaming)
    ) -> EventStreamResponse:
        return EventStreamResponse(mediator.stream(command))
"""

from cqrs_fastapi.correlation import CorrelationMiddleware
from cqrs_fastapi.dependencies import ScopedContainer, mediator_dependency, request_scope
from cqrs_fastapi.lifespan import cqrs_lifespan, open_brokers, running_relays
from cqrs_fastapi.problems import (
    DEFAULT_STATUSES,
    PROBLEM_CONTENT_TYPE,
    ProblemPolicy,
    ProblemResponse,
    add_exception_handlers,
    is_public,
    problem_body,
)
from cqrs_fastapi.sse import EventStreamResponse, format_event, to_jsonable
from cqrs_fastapi.sse_reader import SseEvent, read_events

__all__ = [
    "CorrelationMiddleware",
    "DEFAULT_STATUSES",
    "PROBLEM_CONTENT_TYPE",
    "EventStreamResponse",
    "ProblemPolicy",
    "ProblemResponse",
    "ScopedContainer",
    "SseEvent",
    "add_exception_handlers",
    "cqrs_lifespan",
    "format_event",
    "is_public",
    "mediator_dependency",
    "open_brokers",
    "problem_body",
    "read_events",
    "request_scope",
    "running_relays",
    "to_jsonable",
]
