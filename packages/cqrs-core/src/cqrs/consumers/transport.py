"""What a broker adapter supplies to consume with `ConsumerRunner`: a small `ConsumerTransport`.

The runner owns everything broker-neutral (lifecycle, concurrency with per-key order, the
dispatcher, dead-letter retries, stop, counters); a transport only moves deliveries::

    class MyTransport:
        async def connect(self, control): ...          # fail fast: DestinationUnavailableError
        async def receive(self, limit): ...            # up to `limit` Deliveries, [] when idle
        def message(self, raw): ...                    # the cqrs.Message a delivery carries
        async def ack(self, delivery): ...             # commit / acknowledge, raise if it cannot
        async def dead_letter(self, delivery, reason, *, truncate): ...
        async def close(self): ...                     # unacked deliveries come again later
        def describe(self, delivery): ...              # "orders:3@1207", for log lines
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from cqrs.brokers.message import Message

__all__ = ["ConsumerControl", "ConsumerTransport", "Delivery"]

RawT = TypeVar("RawT")


@dataclasses.dataclass(frozen=True, slots=True)
class Delivery(Generic[RawT]):
    """One received message as the transport holds it (`raw`), with its ordering `key`.

    Deliveries of one key are handled one at a time, in the order received; different keys
    may be handled concurrently. Kafka's key is the partition (offsets are committed in
    order), RabbitMQ's the event's partition key.
    """

    raw: RawT
    key: str


class ConsumerControl(Protocol):
    """What a transport may ask of the runner consuming through it."""

    def withdraw(self) -> None:
        """The deliveries received so far can no longer be acknowledged (partitions revoked, a
        channel lost): skip those not started and end the waits of those in hand."""

    async def finish_in_hand(self) -> bool:
        """Return once no delivery is being handled (bounded by the runner's shutdown timeout);
        False when some were still in hand at the bound."""


class ConsumerTransport(Protocol[RawT]):
    """A broker's consuming side, driven by `ConsumerRunner`.

    An implementation promises: `receive` returns deliveries in the broker's order per key and
    never the same one twice while it is unacknowledged; a delivery not acknowledged when the
    transport closes (or crashes) is delivered again to the next consumer; `ack` and
    `dead_letter` raise when they did not take effect (the runner retries or logs).
    """

    async def connect(self, control: ConsumerControl) -> None:
        """Connect and subscribe; raise `DestinationUnavailableError` (one line, no secrets)
        when the broker cannot be reached or refuses the credentials."""

    async def receive(self, limit: int) -> Sequence[Delivery[RawT]]:
        """Up to `limit` deliveries, waiting a second or so for the first; `[]` when none came.

        A fault of the broker raises (a destination fault is waited out by the runner)."""

    def message(self, raw: RawT) -> Message:
        """The `Message` a delivery carries; `ValueError` when its headers are unusable."""

    async def ack(self, delivery: Delivery[RawT]) -> None:
        """Acknowledge (commit) `delivery` once it was handled or dead-lettered."""

    async def dead_letter(self, delivery: Delivery[RawT], reason: str, *, truncate: bool) -> bool:
        """Copy `delivery` to its dead-letter destination with `reason` and wait until the
        broker stored it; True when the copy was truncated. `truncate` asks for a copy small
        enough to pass, after a whole one was refused as a message fault."""

    async def close(self) -> None:
        """Disconnect; safe after a failed or partial `connect`, and called exactly once."""

    def describe(self, delivery: Delivery[RawT]) -> str:
        """A short label of `delivery` for log lines (where it came from, its id)."""
