"""Deleting the durable queues a test's RabbitMQ consumer declared, so test runs leave none."""

from __future__ import annotations

__all__ = ["delete_queues"]


async def delete_queues(url: str, *names: str) -> None:
    """Delete the queues `names` (missing ones are fine); aio-pika is imported only here."""
    import aio_pika

    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        for name in names:
            await channel.queue_delete(name)
    finally:
        await connection.close()
