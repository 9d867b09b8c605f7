"""Model behaviour python-cqrs 4.x code relies on, written from 4.x's docstrings.

4.x's default models were frozen Pydantic models configured with class keywords; ours are
dataclasses (as in python-cqrs 5.x), so the same class statements take dataclass options here.
Its `DC*` bases were frozen dataclasses that subclasses decorate themselves.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import subprocess
import sys
import uuid
from typing import Any

import pydantic
import pytest

import cqrs
from cqrs.events.event import (
    DEFAULT_OUTPUT_TOPIC,
    DCDomainEvent,
    DCEvent,
    DCNotificationEvent,
    PydanticNotificationEvent,
)
from cqrs.requests.request import DCRequest
from cqrs.response import DCResponse


class OrderPaid(cqrs.DomainEvent, frozen=True):
    order_id: str
    amount: int = 0


class RefundedOrderPaid(OrderPaid):
    refund: int = 0


class TestClassKeywordOptions:
    """`class E(cqrs.DomainEvent, frozen=True)`, as 4.x code configured its Pydantic events."""

    def test_a_frozen_model_refuses_assignment_and_deletion(self) -> None:
        event = OrderPaid(order_id="o1", amount=5)
        with pytest.raises(dataclasses.FrozenInstanceError, match="order_id"):
            event.order_id = "o2"  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            del event.amount
        assert event == OrderPaid(order_id="o1", amount=5)

    def test_a_frozen_model_hashes_by_its_fields(self) -> None:
        assert {OrderPaid(order_id="o1"), OrderPaid(order_id="o1")} == {OrderPaid(order_id="o1")}
        assert hash(OrderPaid(order_id="o1")) != hash(OrderPaid(order_id="o2"))

    def test_subclasses_of_a_frozen_model_stay_frozen(self) -> None:
        event = RefundedOrderPaid(order_id="o1", refund=2)
        with pytest.raises(dataclasses.FrozenInstanceError):
            event.refund = 3  # type: ignore[misc]
        with pytest.raises(TypeError, match="frozen too"):

            class Thawed(OrderPaid, frozen=False):
                pass

    def test_a_frozen_model_converts_like_any_model(self) -> None:
        event = OrderPaid(order_id="o1", amount=5)
        assert OrderPaid.from_dict(event.to_dict()) == event
        assert dataclasses.replace(event, amount=6).amount == 6

    def test_other_dataclass_options_pass_through(self) -> None:
        class Priority(cqrs.Request, order=True):
            level: int

        class Secret(cqrs.Response, repr=False):
            token: str

        assert Priority(level=1) < Priority(level=2)
        assert "token" not in repr(Secret(token="t"))

    def test_a_pydantic_option_names_the_pydantic_models(self) -> None:
        with pytest.raises(
            TypeError, match=r"extra are not dataclass options.*PydanticDomainEvent"
        ):

            class Strict(cqrs.DomainEvent, extra="forbid"):  # type: ignore[call-arg]
                order_id: str

    def test_the_pydantic_models_take_their_own_options(self) -> None:
        class Frozen(cqrs.PydanticDomainEvent, frozen=True):
            order_id: str

        with pytest.raises(pydantic.ValidationError):
            Frozen(order_id="o1").order_id = "o2"  # type: ignore[misc]

    def test_fields_stay_keyword_only(self) -> None:
        with pytest.raises(TypeError, match="keyword-only"):

            class Positional(cqrs.Request, kw_only=False):
                name: str


class TestDataclassBases:
    """4.x's `DC*` models: "@dataclasses.dataclass(frozen=True) class E(DCEvent)"."""

    def test_a_decorated_event_builds_converts_and_is_frozen(self) -> None:
        @dataclasses.dataclass(frozen=True)
        class UserCreated(DCEvent):
            user_id: str
            username: str

        event = UserCreated(user_id="123", username="john")
        data = event.to_dict()
        assert data == {"user_id": "123", "username": "john"}
        assert UserCreated.from_dict(**data) == event
        with pytest.raises(dataclasses.FrozenInstanceError):
            event.username = "jane"  # type: ignore[misc]

    def test_an_event_base_refuses_a_subclass_that_is_not_frozen(self) -> None:
        with pytest.raises(TypeError, match="non-frozen dataclass from a frozen one"):

            @dataclasses.dataclass
            class Mutable(DCDomainEvent):
                order_id: str

    def test_a_decorated_notification_event_has_the_routing_fields(self) -> None:
        @dataclasses.dataclass(frozen=True)
        class UserRegistered(DCNotificationEvent[dict[str, str]]):
            event_name: str = "user.registered"
            payload: dict[str, str] = dataclasses.field(default_factory=lambda: {"id": "1"})

        event = UserRegistered()
        assert event.topic == DEFAULT_OUTPUT_TOPIC
        assert isinstance(event.event_id, uuid.UUID)
        assert event.event_timestamp == event.timestamp
        bare = DCNotificationEvent[list[int]](event_name="n", payload=[1])
        assert hash(bare) == hash(bare.event_id)
        assert UserRegistered.from_dict(event.to_dict()) == event
        with pytest.raises(NotImplementedError, match="proto"):
            event.proto()

    def test_requests_and_responses_are_plain_dataclasses(self) -> None:
        @dataclasses.dataclass
        class GetUser(DCRequest):
            user_id: str

        @dataclasses.dataclass
        class User(DCResponse):
            user_id: str
            name: str = ""

        query = GetUser("123")
        query.user_id = "124"
        assert GetUser.from_dict(**query.to_dict()) == GetUser(user_id="124")
        assert User.from_dict({"user_id": "1"}) == User("1")


def test_from_dict_takes_the_fields_as_keywords() -> None:
    assert OrderPaid.from_dict(order_id="o1", amount=2) == OrderPaid(order_id="o1", amount=2)
    assert OrderPaid.from_dict({"order_id": "o1"}, amount=3).amount == 3

    class Named(cqrs.PydanticResponse):
        name: str

    assert Named.from_dict(name="x") == Named(name="x")


NOTIFICATION_FLAVOURS = [cqrs.NotificationEvent, PydanticNotificationEvent]


@pytest.mark.parametrize("base", NOTIFICATION_FLAVOURS, ids=lambda base: base.__name__)
def test_a_notification_event_without_topic_goes_to_the_default_topic(base: Any) -> None:
    event = base[dict[str, int]](event_name="counted", payload={"n": 1})
    assert event.topic == DEFAULT_OUTPUT_TOPIC == "output_topic"
    assert isinstance(event.event_timestamp, datetime.datetime)
    assert event.event_timestamp == event.timestamp


def test_the_default_topic_comes_from_the_environment() -> None:
    env = {**os.environ, "DEFAULT_OUTPUT_TOPIC": "events.out"}
    script = (
        "import cqrs\n"
        "event = cqrs.NotificationEvent[int](event_name='n', payload=1)\n"
        "print(event.topic)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "events.out", done.stderr


class TestPydanticNotificationProto:
    """4.x: "implement the proto() method ... and the class method from_proto()"."""

    def test_proto_and_from_proto_say_they_need_overriding(self) -> None:
        event = PydanticNotificationEvent[int](event_name="n", payload=1)
        with pytest.raises(NotImplementedError, match="proto"):
            event.proto()
        with pytest.raises(NotImplementedError, match="from_proto"):
            PydanticNotificationEvent[int].from_proto(object())

    def test_a_subclass_supplies_them(self) -> None:
        class Joined(PydanticNotificationEvent[str]):
            event_name: str = "joined"

            def proto(self) -> dict[str, str]:
                return {"id": str(self.event_id), "user": self.payload}

            @classmethod
            def from_proto(cls, proto: dict[str, str]) -> Joined:
                return cls(event_id=uuid.UUID(proto["id"]), payload=proto["user"])

        event = Joined(payload="u1")
        assert Joined.from_proto(event.proto()).event_id == event.event_id
