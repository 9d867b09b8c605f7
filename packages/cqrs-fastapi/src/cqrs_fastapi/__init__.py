"""FastAPI integration for cqrs: mediator dependencies, lifespan, Server-Sent Events, problem responses."""

__all__: list[str] = []
