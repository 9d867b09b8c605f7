"""A consumer runner feeding Kafka topics to a `MessageDispatcher`, committing after handling.

Bad records go to a dead-letter topic with the reason; the consumer keeps running::

    import asyncio

    import cqrs
    from cqrs.consumer import MessageDispatcher
    from cqrs.events.bootstrap import bootstrap
    from cqrs_kafka import KafkaEventConsumer


    class Paid(cqrs.Response):
        order_id: str


    class OnPaid(cqrs.EventHandler[cqrs.NotificationEvent[Paid]]):
        async def handle(self, event: cqrs.NotificationEvent[Paid]) -> None:
            print("paid", event.payload.order_id)


    async def main() -> None:
        mediator = bootstrap(events_mapper=lambda m: m.bind(cqrs.NotificationEvent[Paid], OnPaid))
        dispatcher = MessageDispatcher(mediator, {"OrderPaid": cqrs.NotificationEvent[Paid]})
        consumer = KafkaEventConsumer("localhost:9092", ["orders"], "billing", dispatcher)
        await consumer.run()  # until consumer.stop()


    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiokafka import (  # type: ignore[import-untyped]
    AIOKafkaConsumer,
    ConsumerRebalanceListener,
    TopicPartition,
)
from aiokafka.errors import (  # type: ignore[import-untyped]
    CommitFailedError,
    IllegalStateError,
    KafkaError,
)

from cqrs.consumer.dispatcher import (
    DEAD_LETTER_PREVIEW_BYTES,
    DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_TRUNCATED_HEADER,
    MAX_REASON_CHARS,
    ORIGINAL_OFFSET_HEADER,
    ORIGINAL_PARTITION_HEADER,
    ORIGINAL_TOPIC_HEADER,
    MessageDispatcher,
    Verdict,
)
from cqrs.exceptions import DestinationUnavailableError
from cqrs.faults import Fault, classify
from cqrs.outbox.backoff import ExponentialBackoff
from cqrs.protocols.message_broker import Message
from cqrs_kafka.broker import KafkaMessageBroker
from cqrs_kafka.producer import KafkaProducer

__all__ = [
    "DEAD_LETTER_SUFFIX",
    "DEAD_LETTER_TRUNCATED_HEADER",
    "DEFAULT_CONSUMER_OPTIONS",
    "ORIGINAL_OFFSET_HEADER",
    "ORIGINAL_PARTITION_HEADER",
    "ORIGINAL_TOPIC_HEADER",
    "KafkaEventConsumer",
]

DEAD_LETTER_SUFFIX = ".dead-letter"
"""Dead letters of topic `t` go to `t` + this suffix unless a dead-letter topic is configured."""

DEFAULT_CONSUMER_OPTIONS: dict[str, Any] = {
    "auto_offset_reset": "earliest",
    "enable_auto_commit": False,
}
"""aiokafka consumer options used unless overridden; auto-commit is always off."""

_DEAD_LETTER_HEADERS = {
    DEAD_LETTER_REASON_HEADER,
    DEAD_LETTER_TRUNCATED_HEADER,
    ORIGINAL_TOPIC_HEADER,
    ORIGINAL_PARTITION_HEADER,
    ORIGINAL_OFFSET_HEADER,
}
_DEFAULT_MAX_REQUEST_SIZE = 1024 * 1024
"""aiokafka's `max_request_size` default: a larger dead letter goes truncated at once."""

_log = logging.getLogger(__name__)


def _message_from_record(record: Any) -> Message:
    """The `cqrs.Message` a consumer record carries; `ValueError` if its headers are unusable."""
    headers: dict[str, str] = {}
    for name, raw in record.headers or ():
        try:
            headers[name] = raw.decode() if raw is not None else ""
        except UnicodeDecodeError as exc:
            raise ValueError(f"header {name[:100]!r} is not valid UTF-8: {exc}") from None
    if "event-key" not in headers and record.key is not None:
        with contextlib.suppress(UnicodeDecodeError):
            headers["event-key"] = record.key.decode()
    try:
        return Message.from_headers(record.topic, record.value or b"", headers)
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets the message in hand finish and commit before partitions change owner."""

    def __init__(self, owner: KafkaEventConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._owner._on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        _log.info("%r assigned %s", self._owner, sorted(map(str, assigned)))


class KafkaEventConsumer:
    """Consumes `topics` as member of `group_id` and hands every record to a dispatcher.

    A record's offset is committed only once the dispatcher is done with it: handled or a
    duplicate, or dead-lettered, i.e. copied (value, key, headers, plus the `dead-letter-reason`,
    `original-topic`, `original-partition` and `original-offset` headers) to the dead-letter
    topic and acknowledged by Kafka. A copy Kafka refuses as such (larger than the producer's
    `max_request_size` or the topic's limit) is replaced by a truncated one: the first
    `DEAD_LETTER_PREVIEW_BYTES` of the value, the key, the reason and the coordinates, and a
    `dead-letter-truncated` header saying what was cut (e.g. `value=1572864`). A dead letter
    that cannot be sent (the cluster is unavailable) is retried in place with capped backoff,
    holding its partition, so nothing is lost and nothing overtakes it; so is a record whose
    handler meets a destination fault (see `MessageDispatcher`).

    Each partition's records are handled one at a time, in order (so events of one key keep
    their order); up to `max_concurrent_partitions` partitions are handled concurrently. Before
    partitions are revoked the message in hand is finished and committed; records fetched but
    not handled are consumed again by the partition's next owner. Delivery is at least once:
    give the dispatcher an inbox to handle each event once. A consumer runs once; `run()` fails
    at once with `DestinationUnavailableError` when the cluster cannot be reached.
    """

    def __init__(
        self,
        bootstrap_servers: str | Sequence[str],
        topics: str | Iterable[str],
        group_id: str,
        dispatcher: MessageDispatcher,
        *,
        dead_letter_topic: str | None = None,
        producer: KafkaProducer | KafkaMessageBroker | None = None,
        consumer_options: Mapping[str, Any] | None = None,
        max_concurrent_partitions: int = 8,
        max_batch: int = 100,
        shutdown_timeout: float = 30.0,
        retry_backoff: ExponentialBackoff | None = None,
    ) -> None:
        if isinstance(bootstrap_servers, str):
            bootstrap_servers = [s.strip() for s in bootstrap_servers.split(",") if s.strip()]
        self.bootstrap_servers: list[str] = list(bootstrap_servers)
        self.topics: list[str] = [topics] if isinstance(topics, str) else list(topics)
        if not self.bootstrap_servers or not self.topics or not group_id:
            raise ValueError("KafkaEventConsumer needs bootstrap servers, topics and a group id")
        if max_concurrent_partitions < 1 or max_batch < 1:
            raise ValueError("max_concurrent_partitions and max_batch must be at least 1")
        options = {**DEFAULT_CONSUMER_OPTIONS, **(consumer_options or {})}
        if options["enable_auto_commit"]:
            raise ValueError("KafkaEventConsumer commits itself: enable_auto_commit must be off")
        self.group_id = group_id
        self.dispatcher = dispatcher
        self.dead_letter_topic = dead_letter_topic
        self.consumer_options = options
        self.max_concurrent_partitions = max_concurrent_partitions
        self.max_batch = max_batch
        self.shutdown_timeout = shutdown_timeout
        self.retry_backoff = retry_backoff or ExponentialBackoff(base=0.1, cap=5.0)
        if isinstance(producer, KafkaMessageBroker):
            producer = producer.producer
        self._owns_producer = producer is None
        self.producer: KafkaProducer = producer or KafkaProducer(self.bootstrap_servers)
        self.received = 0
        """Records taken from Kafka (a redelivered one counts again)."""
        self.handled = 0
        """Records the handlers handled (a redelivered one counts again without an inbox)."""
        self.duplicates = 0
        """Records the inbox recognised as already handled."""
        self.dead_lettered = 0
        """Records copied to the dead-letter topic."""
        self.truncated_dead_letters = 0
        """Dead letters sent truncated because the whole record was too large."""
        self.dead_letter_failures = 0
        """Failed attempts to send a dead letter (each was retried or left uncommitted)."""
        self.commits = 0
        """Offsets committed."""
        self._ran = False
        self._start_error: BaseException | None = None
        self._started = asyncio.Event()
        self._stopping = asyncio.Event()
        self._finished = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._generation = 0
        self._abandon = asyncio.Event()
        """Set when the records in hand are to be left (stop, revocation); one per generation."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {','.join(self.topics)} group={self.group_id!r}>"

    def dead_letter_topic_for(self, topic: str) -> str:
        """The topic dead letters of records consumed from `topic` go to."""
        return self.dead_letter_topic or f"{topic}{DEAD_LETTER_SUFFIX}"

    def stop(self) -> None:
        """Ask `run()` to stop: no new records; the ones in hand are finished and committed."""
        self._stopping.set()
        self._abandon.set()

    async def wait_started(self) -> None:
        """Return once `run()` is connected and subscribed; raise if it ended before that.

        When `run()` could not connect, this raises the same `DestinationUnavailableError`.
        """
        started = asyncio.ensure_future(self._started.wait())
        finished = asyncio.ensure_future(self._finished.wait())
        try:
            await asyncio.wait((started, finished), return_when=asyncio.FIRST_COMPLETED)
        finally:
            started.cancel()
            finished.cancel()
        if not self._started.is_set():
            if self._start_error is not None:
                raise self._start_error
            raise RuntimeError(f"{self!r} ended before it started consuming")

    async def run(self) -> None:
        """Consume until `stop()`, then finish the records in hand and close.

        Raises `DestinationUnavailableError` (one line: the servers and the cause) when the
        cluster cannot be reached at start. Records still in hand `shutdown_timeout` seconds
        after `stop()` are abandoned without a commit (their handling is cancelled), so they
        are consumed again later.
        """
        if self._ran:
            raise RuntimeError("a KafkaEventConsumer runs once; make a new one")
        self._ran = True
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            **self.consumer_options,
        )
        try:
            await self._start(consumer)
            self._started.set()
            _log.info("%r consuming", self)
            await self._consume(consumer)
        finally:
            self.stop()
            try:
                await consumer.stop()
            finally:
                if self._owns_producer:
                    await self.producer.stop()
                self._finished.set()
            if self._started.is_set():
                _log.info(
                    "%r stopped: %d received, %d handled, %d duplicates, %d dead-lettered",
                    self,
                    self.received,
                    self.handled,
                    self.duplicates,
                    self.dead_lettered,
                )

    async def _start(self, consumer: Any) -> None:
        """Connect and subscribe, turning a cluster that cannot be reached into one clear error."""
        try:
            await consumer.start()
        except (KafkaError, OSError) as exc:
            servers = ",".join(self.bootstrap_servers)
            error = DestinationUnavailableError(
                f"{type(self).__name__} cannot connect to Kafka at {servers}: {exc}"
            )
            self._start_error = error
            raise error from exc
        consumer.subscribe(topics=self.topics, listener=_Listener(self))

    async def _consume(self, consumer: Any) -> None:
        stopping = asyncio.ensure_future(self._stopping.wait())
        pending: asyncio.Future[Any] | None = None
        poll_failures = 0
        try:
            while not self._stopping.is_set():
                pending = asyncio.ensure_future(
                    consumer.getmany(timeout_ms=1000, max_records=self.max_batch)
                )
                await asyncio.wait((pending, stopping), return_when=asyncio.FIRST_COMPLETED)
                if not pending.done():
                    break
                try:
                    batches: dict[TopicPartition, list[Any]] = pending.result()
                except KafkaError as exc:
                    if not exc.retriable:
                        raise
                    poll_failures += 1
                    if poll_failures == 1:
                        _log.warning("%r cannot fetch (%r); retrying until it can", self, exc)
                    await self._pause(self.retry_backoff.delay(poll_failures))
                    continue
                if poll_failures:
                    _log.warning("%r fetching again after %d failures", self, poll_failures)
                    poll_failures = 0
                if not batches:
                    continue
                pending = asyncio.ensure_future(self._handle_batch(consumer, batches))
                await asyncio.wait((pending, stopping), return_when=asyncio.FIRST_COMPLETED)
                if not pending.done():
                    await asyncio.wait((pending,), timeout=self.shutdown_timeout)
                    if not pending.done():
                        _log.warning(
                            "%r: records in hand not finished within %s s after stop; "
                            "they will be consumed again",
                            self,
                            self.shutdown_timeout,
                        )
                        break
                pending.result()
        finally:
            stopping.cancel()
            if pending is not None and not pending.done():
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)

    async def _pause(self, seconds: float, until: asyncio.Event | None = None) -> None:
        """Sleep `seconds`, or less if `until` (else `stop()`) is set meanwhile."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await (until or self._stopping).wait()

    async def _handle_batch(self, consumer: Any, batches: dict[TopicPartition, list[Any]]) -> None:
        generation = self._generation
        abandon = self._abandon
        limit = asyncio.Semaphore(self.max_concurrent_partitions)

        async def lane(tp: TopicPartition, records: list[Any]) -> None:
            async with limit:
                for record in records:
                    if abandon.is_set() or generation != self._generation:
                        return  # not committed: consumed again by this partition's next owner
                    if not await self._process(consumer, tp, record, abandon):
                        return

        self._idle.clear()
        try:
            async with asyncio.TaskGroup() as group:
                for tp, records in batches.items():
                    group.create_task(lane(tp, records))
        finally:
            self._idle.set()

    async def _process(
        self, consumer: Any, tp: TopicPartition, record: Any, abandon: asyncio.Event
    ) -> bool:
        """Dispatch one record and commit it; False when it was left uncommitted."""
        self.received += 1
        outcome = await self.dispatcher.dispatch_from(_message_from_record, record, stop=abandon)
        if outcome.verdict is Verdict.HANDLED:
            self.handled += 1
        elif outcome.verdict is Verdict.DUPLICATE:
            self.duplicates += 1
        elif outcome.verdict is Verdict.DEFERRED:
            return False
        else:
            reason = outcome.reason or "no reason given"
            if not await self._dead_letter(record, reason, abandon):
                return False
            self.dead_lettered += 1
        return await self._commit(consumer, tp, record.offset + 1)

    def _dead_letter_copy(
        self, record: Any, reason: str, truncated: bool
    ) -> tuple[bytes, bytes | None, list[tuple[str, bytes]]]:
        """Value, key and headers of the dead letter of `record`, whole or truncated."""
        value: bytes = record.value or b""
        headers = [
            (name, raw if raw is not None else b"")
            for name, raw in record.headers or ()
            if name not in _DEAD_LETTER_HEADERS
        ]
        key: bytes | None = record.key
        if truncated:
            cut = [f"value={len(value)}"]
            kept = sum(len(n) + len(v) for n, v in headers) + len(key or b"")
            if kept > DEAD_LETTER_PREVIEW_BYTES:  # hostile headers or key: keep only ours
                cut.append(f"headers={kept}")
                headers = []
                key = key[:DEAD_LETTER_PREVIEW_BYTES] if key is not None else None
            headers.append((DEAD_LETTER_TRUNCATED_HEADER, ",".join(cut).encode()))
            value = value[:DEAD_LETTER_PREVIEW_BYTES]
        headers += [
            (DEAD_LETTER_REASON_HEADER, reason[:MAX_REASON_CHARS].encode()),
            (ORIGINAL_TOPIC_HEADER, record.topic.encode()),
            (ORIGINAL_PARTITION_HEADER, str(record.partition).encode()),
            (ORIGINAL_OFFSET_HEADER, str(record.offset).encode()),
        ]
        return value, key, headers

    def _too_large(self, record: Any) -> bool:
        """Whether a whole copy of `record` cannot fit the producer's `max_request_size`."""
        limit = self.producer.options.get("max_request_size", _DEFAULT_MAX_REQUEST_SIZE)
        size = len(record.value or b"") + len(record.key or b"") + MAX_REASON_CHARS
        size += sum(len(name) + len(raw or b"") for name, raw in record.headers or ())
        return bool(size > limit)

    async def _dead_letter(self, record: Any, reason: str, abandon: asyncio.Event) -> bool:
        """Send a copy of `record` to its dead-letter topic until Kafka acknowledges it.

        A copy refused as a message fault (too large) is sent truncated instead. Returns False
        (the record stays uncommitted) if the consumer stops or loses the partition before the
        copy could be sent.
        """
        topic = self.dead_letter_topic_for(record.topic)
        where = f"{record.topic}:{record.partition}@{record.offset}"
        truncated = self._too_large(record)
        failures = 0
        stuck = False
        while True:
            value, key, headers = self._dead_letter_copy(record, reason, truncated)
            try:
                delivery = await self.producer.send(topic, value, key=key, headers=headers)
                await delivery
            except Exception as exc:
                failures += 1
                self.dead_letter_failures += 1
                if not truncated and classify(exc) is Fault.MESSAGE:
                    _log.warning(
                        "%r: Kafka refused the dead letter of %s (%r); sending it truncated",
                        self,
                        where,
                        exc,
                    )
                    truncated = True
                    continue
                if not stuck:
                    stuck = True
                    _log.error(
                        "%r could not dead-letter %s to %r (%r); retrying until it can",
                        self,
                        where,
                        topic,
                        exc,
                    )
                if abandon.is_set():
                    return False
                await self._pause(self.retry_backoff.delay(failures), abandon)
                if abandon.is_set():
                    return False
                continue
            if truncated:
                self.truncated_dead_letters += 1
            _log.warning(
                "%r dead-lettered %s to %r%s after %d failed attempt(s): %s",
                self,
                where,
                topic,
                " (truncated)" if truncated else "",
                failures,
                reason[:MAX_REASON_CHARS],
            )
            return True

    async def _commit(self, consumer: Any, tp: TopicPartition, offset: int) -> bool:
        try:
            await consumer.commit({tp: offset})
        except (CommitFailedError, IllegalStateError) as exc:
            _log.warning(
                "%r could not commit %s@%d, the partition changed owner (%s); "
                "its records will be consumed again",
                self,
                tp,
                offset,
                exc,
            )
            return False
        except KafkaError as exc:
            # aiokafka retries retriable errors itself; the next commit covers this offset.
            _log.error("%r could not commit %s@%d: %r", self, tp, offset, exc)
            return True
        self.commits += 1
        return True

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Stop taking records of the current assignment and let the ones in hand finish.

        A record held by a destination fault is left at once (uncommitted), so a long outage
        does not stall the rebalance.
        """
        self._generation += 1
        abandon, self._abandon = self._abandon, asyncio.Event()
        abandon.set()
        if self._stopping.is_set():
            self._abandon.set()
        if self._idle.is_set():
            return
        _log.info(
            "%r finishing records in hand before giving up %d partition(s)", self, len(revoked)
        )
        try:
            async with asyncio.timeout(self.shutdown_timeout):
                await self._idle.wait()
        except TimeoutError:
            _log.warning(
                "%r: records in hand not finished within %s s of a rebalance; the partitions' "
                "next owners may handle them again",
                self,
                self.shutdown_timeout,
            )
