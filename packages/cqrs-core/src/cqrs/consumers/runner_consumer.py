"""`RunnerConsumer`: the base of a broker's named consumer class built on a `ConsumerRunner`.

`KafkaEventConsumer` and `RabbitMQEventConsumer` are a transport plus a runner behind a
constructor of their own; their lifecycle and counters are the runner's, forwarded here once.
"""

from __future__ import annotations

from typing import Any

from cqrs.consumers.runner import ConsumerRunner

__all__ = ["RunnerConsumer"]


class RunnerConsumer:
    """Lifecycle (`run`, `wait_started`, `stop`) and counters of the `runner` a subclass builds."""

    runner: ConsumerRunner[Any]

    @property
    def shutdown_timeout(self) -> float:
        """Seconds `run()` waits after `stop()` for the messages in hand before abandoning them."""
        return self.runner.shutdown_timeout

    @property
    def received(self) -> int:
        """Messages taken from the broker (a redelivered one counts again)."""
        return self.runner.counters.received

    @property
    def handled(self) -> int:
        """Messages the handlers handled (a redelivered one counts again without an inbox)."""
        return self.runner.counters.handled

    @property
    def duplicates(self) -> int:
        """Messages the inbox recognised as already handled."""
        return self.runner.counters.duplicates

    @property
    def dead_lettered(self) -> int:
        """Messages moved to the dead-letter topic or queue."""
        return self.runner.counters.dead_lettered

    def stop(self) -> None:
        """Ask `run()` to stop: no new messages; the ones in hand are finished and acknowledged."""
        self.runner.stop()

    async def wait_started(self) -> None:
        """Return once `run()` consumes; raise if it ended before that (an unreachable broker
        raises the same `DestinationUnavailableError` as `run()`)."""
        await self.runner.wait_started()

    async def run(self) -> None:
        """Consume until `stop()`, then finish the messages in hand (those still in hand after
        `shutdown_timeout` are abandoned unacknowledged, so they are delivered again)."""
        await self.runner.run()
