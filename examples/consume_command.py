"""`cqrs consume`: a consumer process feeding RabbitMQ events to their handlers.

This module is also the application the command loads: `consumer` binds the handler in the
`EventMap` and returns the event names the consumer decodes. Run it with
`uv run python examples/consume_command.py` (RabbitMQ at `CQRS_TEST_RABBITMQ_URL`, default
`amqp://guest:guest@127.0.0.1:5672/`). It starts

    cqrs consume --broker "amqp://...?exchange=X" --app consume_command:consumer \\
        --topics invoices --group receipts-...

in a subprocess, publishes two events, waits for the handler's lines, then sends SIGTERM: the
command finishes the message in hand, prints its counters and exits with 0.
"""

# expect: handler: receipt for invoice I-1
# expect: handler: receipt for invoice I-2
# expect: cqrs consume exited with 0 after: stopped: received=2 handled=2
# needs: rabbitmq

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import cqrs


class InvoicePaid(cqrs.Response):
    invoice_id: str


InvoicePaidEvent = cqrs.NotificationEvent[InvoicePaid]


class SendReceipt(cqrs.EventHandler[InvoicePaidEvent]):
    async def handle(self, event: InvoicePaidEvent) -> None:
        print(f"handler: receipt for invoice {event.payload.invoice_id}", flush=True)


def consumer(events: cqrs.EventMap) -> dict[str, type]:
    """What `cqrs consume --app consume_command:consumer` loads."""
    events.bind(InvoicePaidEvent, SendReceipt)
    return {"InvoicePaid": InvoicePaidEvent}


async def main(url: str) -> None:
    from cqrs_rabbitmq import RabbitMQMessageBroker

    exchange, queue = f"example.{uuid.uuid4().hex[:8]}", f"receipts-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "cqrs", "consume", "--broker", f"{url}?exchange={exchange}"]
    command += ["--app", "consume_command:consumer", "--topics", "invoices", "--group", queue]
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=Path(__file__).parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    async with asyncio.timeout(60):
        while b"consuming" not in (line := await process.stderr.readline()):
            if not line:
                raise RuntimeError("cqrs consume ended before it started consuming")
        async with RabbitMQMessageBroker(url, exchange=exchange) as broker:
            for invoice in ("I-1", "I-2"):
                event = InvoicePaidEvent(
                    event_name="InvoicePaid",
                    topic="invoices",
                    payload=InvoicePaid(invoice_id=invoice),
                )
                await broker.send_message(cqrs.Message.from_event(event))
            for _ in range(2):
                print((await process.stdout.readline()).decode().strip())
            process.send_signal(signal.SIGTERM)
            errors = (await process.stderr.read()).decode().strip().splitlines()
            code = await process.wait()
            print(f"cqrs consume exited with {code} after: {errors[-1]}")
            assert broker.connection is not None
            channel = await broker.connection.channel()
            await channel.queue_delete(queue)
            await channel.queue_delete(f"{queue}.dead-letter")
            await channel.exchange_delete(exchange)


if __name__ == "__main__":
    asyncio.run(
        main(os.environ.get("CQRS_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/"))
    )
