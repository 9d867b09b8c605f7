"""dependency-injector adapter for cqrs."""

__all__: list[str] = []
