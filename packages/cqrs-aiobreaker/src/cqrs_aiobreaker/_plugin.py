"""The aiobreaker plugin's hooks: none yet.

`cqrs-aiobreaker` provides `AioBreakerAdapter`, a circuit breaker passed to handlers by the
application, so it owns no URL scheme. The entry point stays so `cqrs plugins` shows the
distribution installed.
"""
