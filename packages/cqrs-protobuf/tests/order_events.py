"""Events of the tests, converted to and from the messages of `protos/orders.proto`."""

from __future__ import annotations

import datetime
import uuid

import orders_pb2

import cqrs


class OrderLine(cqrs.Response):
    sku: str
    quantity: int


class Order(cqrs.Response):
    order_id: str
    lines: list[OrderLine]
    total_cents: int
    tags: dict[str, str]


class Cancellation(cqrs.Response):
    order_id: str
    reason: str


class OrderPlaced(cqrs.NotificationEvent[Order]):
    """An event whose message class is found from `proto()`'s return annotation."""

    def proto(self) -> orders_pb2.OrderPlaced:
        message = orders_pb2.OrderPlaced(
            event_id=str(self.event_id),
            order_id=self.payload.order_id,
            lines=[
                orders_pb2.OrderPlaced.Line(sku=line.sku, quantity=line.quantity)
                for line in self.payload.lines
            ],
            total_cents=self.payload.total_cents,
            tags=self.payload.tags,
        )
        message.timestamp.FromDatetime(self.timestamp)
        return message

    @classmethod
    def from_proto(cls, proto: orders_pb2.OrderPlaced) -> OrderPlaced:
        return cls(
            event_name="OrderPlaced",
            topic="orders",
            event_id=uuid.UUID(proto.event_id),
            timestamp=proto.timestamp.ToDatetime(tzinfo=datetime.UTC),
            partition_key=proto.order_id,
            payload=Order(
                order_id=proto.order_id,
                lines=[OrderLine(sku=line.sku, quantity=line.quantity) for line in proto.lines],
                total_cents=proto.total_cents,
                tags=dict(proto.tags),
            ),
        )


class OrderCancelled(cqrs.NotificationEvent[Cancellation]):
    """An event whose message class is found from `from_proto()`'s parameter annotation."""

    def proto(self):  # type: ignore[no-untyped-def]
        return orders_pb2.OrderCancelled(
            event_id=str(self.event_id),
            order_id=self.payload.order_id,
            reason=self.payload.reason,
            timestamp=self.timestamp.isoformat(),
        )

    @classmethod
    def from_proto(cls, proto: orders_pb2.OrderCancelled) -> OrderCancelled:
        if not proto.reason:
            raise ValueError("a cancellation needs a reason")
        return cls(
            event_name="OrderCancelled",
            topic="orders",
            event_id=uuid.UUID(proto.event_id),
            timestamp=datetime.datetime.fromisoformat(proto.timestamp),
            partition_key=proto.order_id,
            payload=Cancellation(order_id=proto.order_id, reason=proto.reason),
        )


def placed(order_id: str, *, tags: dict[str, str] | None = None) -> OrderPlaced:
    return OrderPlaced(
        event_name="OrderPlaced",
        topic="orders",
        partition_key=order_id,
        payload=Order(
            order_id=order_id,
            lines=[OrderLine(sku="apple", quantity=3), OrderLine(sku="pear", quantity=1)],
            total_cents=1250,
            tags=tags if tags is not None else {"channel": "web", "coupon": "NONE"},
        ),
    )


def cancelled(order_id: str, reason: str = "changed my mind") -> OrderCancelled:
    return OrderCancelled(
        event_name="OrderCancelled",
        topic="orders",
        partition_key=order_id,
        payload=Cancellation(order_id=order_id, reason=reason),
    )
