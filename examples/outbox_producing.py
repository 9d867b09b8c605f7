"""The seeds' transactional outbox on SQLite: business rows and events committed together.

Run it with `uv run python examples/outbox_producing.py` (a temporary SQLite file, no server).
`JoinMeetingCommandHandler` writes an attendance row and stages two notification events through
the same session (`outbox.add(session, ...)`, then `outbox.commit(session)`); a command that
fails before the commit leaves neither. The seeds' `EventProducer` loop publishes the pending
events to an in-memory broker, then `OutboxRelay`, the production relay, publishes later ones.
"""

# expect: rejected: a user id is required (pending events: 4, attendances: 2)
# expect: EventProducer published user_notification_events UserJoined key=meeting-1 user=grace
# expect: OutboxRelay published user_ecst_events UserJoined key=meeting-1 user=linus
# expect: attendances: ['ada', 'grace', 'linus']; published 6, pending 0

from __future__ import annotations

import asyncio
import json
import tempfile

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import cqrs
from cqrs.compressors import zlib
from cqrs.requests import bootstrap


class Base(DeclarativeBase):
    pass


class Attendance(Base):
    __tablename__ = "attendances"
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int]
    user_id: Mapped[str]


class JoinMeetingCommand(cqrs.Request):
    user_id: str
    meeting_id: int


class UserJoinedPayload(cqrs.Response):
    user_id: str
    meeting_id: int


def do_some_logic(request: JoinMeetingCommand, session: AsyncSession) -> None:
    session.add(Attendance(meeting_id=request.meeting_id, user_id=request.user_id))
    if not request.user_id:
        raise ValueError("a user id is required")


class JoinMeetingCommandHandler(cqrs.RequestHandler[JoinMeetingCommand, None]):
    def __init__(self, outbox: cqrs.OutboxedEventRepository[AsyncSession]) -> None:
        self.outbox = outbox

    async def handle(self, request: JoinMeetingCommand) -> None:
        async with self.outbox as session:
            do_some_logic(request, session)
            for topic in ("user_notification_events", "user_ecst_events"):
                self.outbox.add(
                    session,
                    cqrs.NotificationEvent[UserJoinedPayload](
                        event_name="UserJoined",
                        topic=topic,
                        payload=UserJoinedPayload(
                            user_id=request.user_id, meeting_id=request.meeting_id
                        ),
                        partition_key=f"meeting-{request.meeting_id}",
                    ),
                )
            await self.outbox.commit(session)


class PrintingBroker(cqrs.MemoryMessageBroker):
    """The in-memory broker, printing each message as it accepts it."""

    def __init__(self, publisher: str) -> None:
        super().__init__()
        self.publisher = publisher
        self.published = 0

    async def send_message(self, message: cqrs.Message) -> None:
        await super().send_message(message)
        self.published += 1
        user = json.loads(message.payload)["payload"]["user_id"]
        print(
            f"{self.publisher} published {message.topic} {message.message_name} "
            f"key={message.key} user={user}"
        )


async def main() -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/meetings.db")
    session_factory = async_sessionmaker(engine)
    outbox = cqrs.SqlAlchemyOutboxedEventRepository(session_factory, zlib.ZlibCompressor())
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        await outbox.create_schema()
        container = cqrs.BuiltinContainer()
        container.register_instance(cqrs.OutboxedEventRepository[AsyncSession], outbox)
        mediator = bootstrap.bootstrap(
            di_container=container,
            commands_mapper=lambda m: m.bind(JoinMeetingCommand, JoinMeetingCommandHandler),
        )

        async def attendances() -> list[str]:
            async with session_factory() as session:
                return list(await session.scalars(sa.select(Attendance.user_id).order_by("id")))

        for user in ("ada", "grace", ""):
            try:
                await mediator.send(JoinMeetingCommand(user_id=user, meeting_id=1))
            except ValueError as exc:
                pending = (await outbox.stats()).pending
                print(
                    f"rejected: {exc} (pending events: {pending}, "
                    f"attendances: {len(await attendances())})"
                )

        broker = PrintingBroker("EventProducer")
        producer = cqrs.EventProducer(broker, outbox)
        async for messages in producer.event_batch_generator():
            if not messages:
                break
            for message in messages:
                await producer.send_message(message)
            await producer.repository.commit()

        await mediator.send(JoinMeetingCommand(user_id="linus", meeting_id=1))
        relay_broker = PrintingBroker("OutboxRelay")
        relay = cqrs.OutboxRelay(outbox, relay_broker, batch_size=100)
        while await relay.run_once():
            pass

        published = broker.published + relay_broker.published
        print(
            f"attendances: {await attendances()}; published {published}, "
            f"pending {(await outbox.stats()).pending}"
        )
        await broker.close()
        await relay_broker.close()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
