"""The dataclass models: declaration without a decorator, conversion to and from builtins."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import uuid
from typing import Literal

import pydantic
import pytest

import cqrs
from cqrs import ModelValidationError, NotificationEvent


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Item(cqrs.Request):
    sku: str
    qty: int
    price: decimal.Decimal = decimal.Decimal("0")


class Customer(cqrs.Request):
    name: str
    email: str | None = None


class Order(cqrs.Request):
    order_id: uuid.UUID
    customer: Customer
    items: list[Item]
    placed_at: datetime.datetime
    local_time: datetime.datetime
    ship_on: datetime.date
    colour: Colour
    priority: Priority
    total: decimal.Decimal
    note: str | None = None
    tags: set[str] = dataclasses.field(default_factory=set)
    dims: tuple[int, ...] = ()
    pair: tuple[str, int] = ("a", 0)
    by_sku: dict[str, Item] = dataclasses.field(default_factory=dict)
    channel: Literal["web", "shop"] = "web"
    ratio: float = 1.0
    gift: bool = False


def make_order() -> Order:
    return Order(
        order_id=uuid.uuid4(),
        customer=Customer(name="Ada", email="ada@example.org"),
        items=[Item(sku="A", qty=1, price=decimal.Decimal("9.99")), Item(sku="B", qty=3)],
        placed_at=datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC),
        local_time=datetime.datetime(2024, 5, 1, 14, 30, 15, 123456),
        ship_on=datetime.date(2024, 5, 3),
        colour=Colour.GREEN,
        priority=Priority.HIGH,
        total=decimal.Decimal("39.96"),
        note=None,
        tags={"x", "y"},
        dims=(1, 2, 3),
        pair=("b", 7),
        by_sku={"A": Item(sku="A", qty=1)},
        channel="shop",
        ratio=0.5,
        gift=True,
    )


class TestDeclaration:
    def test_subclass_is_a_keyword_only_dataclass_without_decorator(self) -> None:
        item = Item(sku="A", qty=2)
        assert (item.sku, item.qty, item.price) == ("A", 2, decimal.Decimal("0"))
        with pytest.raises(TypeError):
            Item("A", 2)  # type: ignore[call-arg]
        assert dataclasses.is_dataclass(Item)

    def test_equality_and_repr_come_from_dataclasses(self) -> None:
        assert Item(sku="A", qty=1) == Item(sku="A", qty=1)
        assert Item(sku="A", qty=1) != Item(sku="A", qty=2)
        assert repr(Item(sku="A", qty=1)) == "Item(sku='A', qty=1, price=Decimal('0'))"

    def test_required_field_after_inherited_default(self) -> None:
        class Base(cqrs.Request):
            tenant: str = "default"

        class Child(Base):
            name: str

        child = Child(name="x")
        assert (child.tenant, child.name) == ("default", "x")
        assert Child.from_dict({"name": "y", "tenant": "t"}) == Child(name="y", tenant="t")
        with pytest.raises(TypeError):
            Child()  # type: ignore[call-arg]

    def test_explicit_dataclass_decorator_still_works(self) -> None:
        @dataclasses.dataclass
        class Explicit(cqrs.Request):
            name: str
            count: int = 0

        value = Explicit(name="n", count=2)
        assert dataclasses.is_dataclass(value)
        assert value.to_dict() == {"name": "n", "count": 2}
        assert Explicit.from_dict({"name": "m"}) == Explicit(name="m", count=0)

    def test_every_model_base_behaves_alike(self) -> None:
        class Done(cqrs.Response):
            ok: bool

        class Happened(cqrs.DomainEvent):
            at: datetime.date

        assert Done.from_dict(Done(ok=True).to_dict()) == Done(ok=True)
        event = Happened(at=datetime.date(2024, 1, 2))
        assert event.to_dict() == {"at": "2024-01-02"}
        assert Happened.from_dict({"at": "2024-01-02"}) == event
        assert isinstance(event, cqrs.events.Event)

    def test_pydantic_style_aliases(self) -> None:
        item = Item(sku="A", qty=1)
        assert item.model_dump() == item.to_dict()
        assert Item.model_validate(item.to_dict()) == item


class TestConversion:
    def test_round_trip_of_nested_models(self) -> None:
        order = make_order()
        assert Order.from_dict(order.to_dict()) == order

    def test_round_trip_through_json_text(self) -> None:
        order = make_order()
        assert Order.from_dict(json.loads(json.dumps(order.to_dict()))) == order

    def test_to_dict_produces_json_builtins(self) -> None:
        order = make_order()
        data = order.to_dict()
        assert data["order_id"] == str(order.order_id)
        assert data["customer"] == {"name": "Ada", "email": "ada@example.org"}
        assert data["items"][0] == {"sku": "A", "qty": 1, "price": "9.99"}
        assert data["placed_at"] == "2024-05-01T12:30:00+00:00"
        assert data["local_time"] == "2024-05-01T14:30:15.123456"
        assert data["ship_on"] == "2024-05-03"
        assert data["colour"] == "green"
        assert data["priority"] == 2
        assert data["total"] == "39.96"
        assert data["note"] is None
        assert sorted(data["tags"]) == ["x", "y"]
        assert data["dims"] == [1, 2, 3]
        assert data["pair"] == ["b", 7]
        assert data["by_sku"] == {"A": {"sku": "A", "qty": 1, "price": "0"}}
        assert data["channel"] == "shop"

    def test_flat_model_to_dict_holds_only_its_fields_and_is_a_copy(self) -> None:
        class Flat(cqrs.Response):
            name: str
            count: int = 0

        flat = Flat(name="a")
        first = flat.to_dict()
        first["count"] = 99
        assert flat.to_dict() == {"name": "a", "count": 0}
        flat._cache = "not a field"  # type: ignore[attr-defined]
        assert flat.to_dict() == {"name": "a", "count": 0}

    def test_rebuilt_values_have_their_declared_types(self) -> None:
        rebuilt = Order.from_dict(make_order().to_dict())
        assert isinstance(rebuilt.order_id, uuid.UUID)
        assert isinstance(rebuilt.customer, Customer)
        assert all(isinstance(item, Item) for item in rebuilt.items)
        assert isinstance(rebuilt.items[0].price, decimal.Decimal)
        assert rebuilt.colour is Colour.GREEN
        assert rebuilt.priority is Priority.HIGH
        assert isinstance(rebuilt.tags, set)
        assert isinstance(rebuilt.dims, tuple)
        assert isinstance(rebuilt.pair, tuple)
        assert isinstance(rebuilt.by_sku["A"], Item)
        assert type(rebuilt.ship_on) is datetime.date

    def test_timezone_awareness_survives(self) -> None:
        offset = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
        order = dataclasses.replace(
            make_order(), placed_at=datetime.datetime(2024, 1, 1, 8, 0, tzinfo=offset)
        )
        rebuilt = Order.from_dict(order.to_dict())
        assert rebuilt.placed_at.utcoffset() == datetime.timedelta(hours=5, minutes=30)
        assert rebuilt.local_time.tzinfo is None

    def test_int_is_accepted_for_float(self) -> None:
        data = make_order().to_dict() | {"ratio": 2}
        rebuilt = Order.from_dict(data)
        assert rebuilt.ratio == 2.0
        assert isinstance(rebuilt.ratio, float)

    def test_missing_fields_with_defaults_take_them(self) -> None:
        data = make_order().to_dict()
        for name in ("note", "tags", "dims", "pair", "by_sku", "channel", "ratio", "gift"):
            del data[name]
        rebuilt = Order.from_dict(data)
        assert (rebuilt.note, rebuilt.tags, rebuilt.channel, rebuilt.gift) == (
            None,
            set(),
            "web",
            False,
        )

    def test_unknown_keys_are_ignored_by_default(self) -> None:
        assert Item.from_dict({"sku": "A", "qty": 1, "colour": "red"}) == Item(sku="A", qty=1)

    def test_unknown_keys_can_be_refused(self) -> None:
        class Strict(cqrs.Request):
            __cqrs_ignore_extra__ = False
            name: str

        with pytest.raises(ModelValidationError, match=r"unknown fields \['extra'\]"):
            Strict.from_dict({"name": "a", "extra": 1})


class TestValidationErrors:
    def wrong(self, **changes: object) -> dict[str, object]:
        return make_order().to_dict() | changes

    def test_wrong_item_type_names_the_index(self) -> None:
        data = self.wrong(items=[{"sku": "A", "qty": 1}, {"sku": "B", "qty": "two"}])
        with pytest.raises(ModelValidationError) as info:
            Order.from_dict(data)
        assert str(info.value).startswith("items[1].qty: expected an integer")
        assert "'two'" in str(info.value)

    def test_missing_nested_field_names_its_path(self) -> None:
        with pytest.raises(ModelValidationError, match=r"^customer\.name: field required"):
            Order.from_dict(self.wrong(customer={"email": None}))

    def test_missing_top_level_field(self) -> None:
        data = make_order().to_dict()
        del data["order_id"]
        with pytest.raises(ModelValidationError, match=r"^order_id: field required by Order"):
            Order.from_dict(data)

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"gift": 1}, r"^gift: expected a boolean"),
            ({"items": [{"sku": "A", "qty": True}]}, r"^items\[0\]\.qty: expected an integer"),
            ({"ratio": "fast"}, r"^ratio: expected a number"),
            ({"customer": "Ada"}, r"^customer: expected an object for Customer"),
            ({"items": {"sku": "A"}}, r"^items: expected a list"),
            ({"colour": "blue"}, r"^colour: expected a Colour value"),
            ({"order_id": "not-a-uuid"}, r"^order_id: expected a UUID"),
            ({"placed_at": "yesterday"}, r"^placed_at: expected an ISO datetime"),
            ({"ship_on": "3 May"}, r"^ship_on: expected an ISO date"),
            ({"total": "lots"}, r"^total: expected a decimal"),
            ({"channel": "phone"}, r"^channel: expected one of \('web', 'shop'\)"),
            ({"note": 5}, r"^note: expected str \| NoneType"),
            ({"pair": ["a"]}, r"^pair: expected a list of 2 items"),
            ({"by_sku": {"A": {"sku": "A"}}}, r"^by_sku\.A\.qty: field required by Item"),
        ],
    )
    def test_messages_name_the_field(self, changes: dict[str, object], message: str) -> None:
        with pytest.raises(ModelValidationError, match=message):
            Order.from_dict(self.wrong(**changes))

    def test_top_level_must_be_a_mapping(self) -> None:
        with pytest.raises(ModelValidationError, match="expected an object for Item"):
            Item.from_dict(["sku", "qty"])  # type: ignore[arg-type]

    def test_is_a_value_error(self) -> None:
        assert issubclass(ModelValidationError, ValueError)
        assert issubclass(ModelValidationError, cqrs.CQRSError)


class Shipped(cqrs.Response):
    order_id: str
    carrier: str


class ShippedModel(pydantic.BaseModel):
    order_id: str
    weight: float


class TestNotificationEvent:
    def test_parametrization_is_cached(self) -> None:
        assert NotificationEvent[Shipped] is NotificationEvent[Shipped]
        other: type = NotificationEvent[Customer]
        assert NotificationEvent[Shipped] is not other

    def test_parametrized_class_is_a_real_subclass(self) -> None:
        cls = NotificationEvent[Shipped]
        assert isinstance(cls, type)
        assert issubclass(cls, NotificationEvent)
        assert cls.__name__ == "NotificationEvent[Shipped]"
        event = cls(
            event_name="shipped", topic="orders", payload=Shipped(order_id="1", carrier="x")
        )
        assert isinstance(event, NotificationEvent)
        assert isinstance(event, cqrs.events.Event)
        assert cls.__cqrs_notification__ is True

    def test_defaults(self) -> None:
        before = datetime.datetime.now(datetime.UTC)
        first = NotificationEvent[Shipped](
            event_name="shipped", topic="orders", payload=Shipped(order_id="1", carrier="x")
        )
        second = NotificationEvent[Shipped](
            event_name="shipped", topic="orders", payload=Shipped(order_id="1", carrier="x")
        )
        after = datetime.datetime.now(datetime.UTC)
        assert isinstance(first.event_id, uuid.UUID)
        assert first.event_id.version == 4
        assert first.event_id != second.event_id
        assert first.timestamp.utcoffset() == datetime.timedelta(0)
        assert before <= first.timestamp <= after
        assert (first.partition_key, first.correlation_id, first.causation_id) == (
            None,
            None,
            None,
        )

    def test_from_dict_rebuilds_a_typed_payload(self) -> None:
        event = NotificationEvent[Shipped](
            event_name="shipped",
            topic="orders",
            payload=Shipped(order_id="1", carrier="x"),
            partition_key="1",
            correlation_id="corr",
            causation_id="cause",
        )
        data = json.loads(json.dumps(event.to_dict()))
        assert data["payload"] == {"order_id": "1", "carrier": "x"}
        assert data["event_id"] == str(event.event_id)
        rebuilt = NotificationEvent[Shipped].from_dict(data)
        assert isinstance(rebuilt.payload, Shipped)
        assert rebuilt == event

    def test_payload_errors_name_the_payload_path(self) -> None:
        data = {"event_name": "shipped", "topic": "orders", "payload": {"order_id": "1"}}
        with pytest.raises(ModelValidationError, match=r"^payload\.carrier: field required"):
            NotificationEvent[Shipped].from_dict(data)

    def test_builtin_payload_types(self) -> None:
        cls = NotificationEvent[dict[str, int]]
        assert cls is NotificationEvent[dict[str, int]]
        event = cls(event_name="counted", topic="t", payload={"a": 1})
        assert cls.from_dict(event.to_dict()) == event
        with pytest.raises(ModelValidationError, match=r"^payload\.a: expected an integer"):
            cls.from_dict(event.to_dict() | {"payload": {"a": "x"}})

    def test_pydantic_payload_round_trips(self) -> None:
        cls = NotificationEvent[ShippedModel]
        event = cls(
            event_name="shipped", topic="orders", payload=ShippedModel(order_id="7", weight=1.5)
        )
        data = json.loads(json.dumps(event.to_dict()))
        assert data["payload"] == {"order_id": "7", "weight": 1.5}
        rebuilt = cls.from_dict(data)
        assert isinstance(rebuilt.payload, ShippedModel)
        assert rebuilt == event

    def test_invalid_pydantic_payload_is_a_model_validation_error(self) -> None:
        data = {"event_name": "shipped", "topic": "orders", "payload": {"order_id": "7"}}
        with pytest.raises(ModelValidationError, match=r"^payload: "):
            NotificationEvent[ShippedModel].from_dict(data)
