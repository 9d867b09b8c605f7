"""The strict converter: generated models round-trip, and every construct it does not accept
(wrong data, unsupported types, annotations or constraints) raises `ModelValidationError` naming
the field."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import itertools
import json
import string
import typing
import uuid
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Generic, Literal, NewType, NotRequired, Protocol, TypedDict

import annotated_types as at
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cqrs
from cqrs import ModelValidationError


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


UserId = NewType("UserId", int)
Email = NewType("Email", str)

Spec = tuple[Any, st.SearchStrategy[Any]]
"""A type and a strategy drawing values of it."""

_names = itertools.count()
_offsets = st.builds(
    datetime.timezone,
    st.integers(min_value=-23 * 60, max_value=23 * 60).map(
        lambda minutes: datetime.timedelta(minutes=minutes)
    ),
)
_LEAVES: list[Spec] = [
    (int, st.integers()),
    (str, st.text(max_size=8)),
    (float, st.floats(allow_nan=False)),
    (bool, st.booleans()),
    (type(None), st.none()),
    (datetime.datetime, st.datetimes(timezones=st.none() | st.just(datetime.UTC) | _offsets)),
    (datetime.date, st.dates()),
    (uuid.UUID, st.uuids()),
    (decimal.Decimal, st.decimals(allow_nan=False, allow_infinity=False)),
    (Colour, st.sampled_from(Colour)),
    (Priority, st.sampled_from(Priority)),
    (UserId, st.integers().map(UserId)),
    (Email, st.text(max_size=8).map(Email)),
    (Literal["web", "shop", 7], st.sampled_from(["web", "shop", 7])),
    (bytes, st.binary(max_size=8)),
    (int | str, st.integers() | st.text(max_size=8)),
    (frozenset[int], st.frozensets(st.integers(), max_size=3)),
    (Annotated[int, at.Ge(0), at.Lt(100)], st.integers(min_value=0, max_value=99)),
    (Annotated[str, at.Len(1, 4)], st.text(min_size=1, max_size=4)),
]
_KEYS = st.text(alphabet=string.ascii_letters + string.digits, max_size=4)


def _model(fields: list[Spec]) -> Spec:
    """A new model class with one field per spec, and a strategy building its instances."""
    names = [f"f{i}" for i in range(len(fields))]
    cls = type(
        f"Generated{next(_names)}",
        (cqrs.Request,),
        {"__annotations__": dict(zip(names, (tp for tp, _ in fields), strict=True))},
    )
    values = {name: strategy for name, (_, strategy) in zip(names, fields, strict=True)}
    return cls, st.builds(cls, **values)


def _typed_dict(fields: list[Spec], optional: list[bool]) -> Spec:
    """A new TypedDict whose keys are required or `NotRequired`, and a strategy of its values."""
    names = [f"k{i}" for i in range(len(fields))]
    annotations = {
        name: NotRequired[tp] if maybe else tp
        for name, (tp, _), maybe in zip(names, fields, optional, strict=True)
    }
    cls = TypedDict(f"GeneratedDict{next(_names)}", annotations)  # type: ignore[operator]
    required = {n: s for n, (_, s), m in zip(names, fields, optional, strict=True) if not m}
    rest = {n: s for n, (_, s), m in zip(names, fields, optional, strict=True) if m}
    return cls, st.fixed_dictionaries(required, optional=rest)


def _extend(children: st.SearchStrategy[Spec]) -> st.SearchStrategy[Spec]:
    def lists(spec: Spec) -> Spec:
        return list[spec[0]], st.lists(spec[1], max_size=3)  # type: ignore[name-defined]

    def text_keys(spec: Spec) -> Spec:
        return dict[str, spec[0]], st.dictionaries(_KEYS, spec[1], max_size=3)  # type: ignore[name-defined]

    def int_keys(spec: Spec) -> Spec:
        return dict[int, spec[0]], st.dictionaries(st.integers(), spec[1], max_size=3)  # type: ignore[name-defined]

    def tuples(spec: Spec) -> Spec:
        return tuple[spec[0], ...], st.lists(spec[1], max_size=3).map(tuple)  # type: ignore[name-defined]

    def pairs(specs: tuple[Spec, Spec]) -> Spec:
        (a, sa), (b, sb) = specs
        return tuple[a, b], st.tuples(sa, sb)  # type: ignore[valid-type]

    def optional(spec: Spec) -> Spec:
        return typing.Optional[spec[0]], st.none() | spec[1]  # noqa: UP045

    fields = st.lists(children, min_size=1, max_size=4)
    return st.one_of(
        children.map(lists),
        children.map(text_keys),
        children.map(int_keys),
        children.map(tuples),
        st.tuples(children, children).map(pairs),
        children.map(optional),
        fields.map(_model),
        fields.flatmap(
            lambda specs: st.lists(st.booleans(), min_size=len(specs), max_size=len(specs)).map(
                lambda optional: _typed_dict(specs, optional)
            )
        ),
    )


_SPECS = st.recursive(st.sampled_from(_LEAVES), _extend, max_leaves=8)
_MODELS = st.lists(_SPECS, min_size=1, max_size=5).map(_model)


class _Junk:
    """A value no field type accepts, put in place of a node of valid data."""

    def __repr__(self) -> str:
        return "<junk>"


def _nodes(data: Any, path: str = "") -> Iterator[str]:
    """Paths of every value inside `data`, written as the converter names them."""
    if isinstance(data, dict):
        for key, value in data.items():
            inner = f"{path}.{key}" if path else str(key)
            yield inner
            yield from _nodes(value, inner)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            inner = f"{path}[{i}]"
            yield inner
            yield from _nodes(value, inner)


def _replaced(data: Any, path: str, junk: Any, here: str = "") -> Any:
    if isinstance(data, dict):
        result = {}
        for key, value in data.items():
            inner = f"{here}.{key}" if here else str(key)
            result[key] = junk if inner == path else _replaced(value, path, junk, inner)
        return result
    if isinstance(data, list):
        return [
            junk if f"{here}[{i}]" == path else _replaced(value, path, junk, f"{here}[{i}]")
            for i, value in enumerate(data)
        ]
    return data


class TestGeneratedModels:
    @settings(max_examples=150, deadline=None)
    @given(st.data())
    def test_to_dict_then_from_dict_gives_the_model_back(self, data: st.DataObject) -> None:
        cls, values = data.draw(_MODELS)
        model = data.draw(values)
        written = model.to_dict()
        assert cls.from_dict(written) == model
        assert cls.from_dict(json.loads(json.dumps(written))) == model

    @settings(max_examples=150, deadline=None)
    @given(st.data())
    def test_a_wrong_value_anywhere_is_named_by_its_path(self, data: st.DataObject) -> None:
        cls, values = data.draw(_MODELS)
        written = json.loads(json.dumps(data.draw(values).to_dict()))
        path = data.draw(st.sampled_from(list(_nodes(written))))
        with pytest.raises(ModelValidationError) as info:
            cls.from_dict(_replaced(written, path, _Junk()))
        assert str(info.value).startswith(f"{path}: "), (path, str(info.value))


class Line(cqrs.Request):
    user_id: UserId
    blob: bytes = b""
    kind: Literal["a", 1, Colour.RED, b"x"] = "a"
    qty: Annotated[int, at.Gt(0), at.Le(10)] = 1
    code: Annotated[str, at.Len(1, 3)] = "x"
    step: Annotated[float, at.MultipleOf(0.5)] = 0.5
    address: Address | None = None
    counts: dict[int, str] = dataclasses.field(default_factory=dict)


class Address(TypedDict):
    street: str
    zip: NotRequired[int]


class Basket(cqrs.Request):
    lines: list[Line]


def _basket(**line: Any) -> dict[str, Any]:
    ok = {"user_id": 1}
    return {"lines": [ok, ok, ok | line]}


class TestWrongData:
    @pytest.mark.parametrize(
        ("line", "message"),
        [
            ({"user_id": "not-an-int"}, r"^lines\[2\]\.user_id: expected an integer"),
            ({"user_id": True}, r"^lines\[2\]\.user_id: expected an integer"),
            ({"blob": "not base64!"}, r"^lines\[2\]\.blob: expected base64 text"),
            ({"blob": "QUJ"}, r"^lines\[2\]\.blob: expected base64 text"),
            ({"blob": 3}, r"^lines\[2\]\.blob: expected base64 text"),
            ({"kind": "b"}, r"^lines\[2\]\.kind: expected one of"),
            ({"kind": True}, r"^lines\[2\]\.kind: expected one of"),
            ({"kind": [1]}, r"^lines\[2\]\.kind: expected one of"),
            ({"qty": 0}, r"^lines\[2\]\.qty: expected a value greater than 0, got int 0"),
            ({"qty": 11}, r"^lines\[2\]\.qty: expected a value of at most 10"),
            ({"qty": "5"}, r"^lines\[2\]\.qty: expected an integer"),
            ({"code": ""}, r"^lines\[2\]\.code: expected a length of at least 1"),
            ({"code": "long"}, r"^lines\[2\]\.code: expected a length of at most 3"),
            ({"step": 0.3}, r"^lines\[2\]\.step: expected a multiple of 0\.5"),
            ({"address": {"zip": 1}}, r"^lines\[2\]\.address\.street: key required by Address"),
            ({"address": {"street": "s", "zip": "1"}}, r"^lines\[2\]\.address\.zip: expected an"),
            ({"address": ["s"]}, r"^lines\[2\]\.address: expected Address \| NoneType"),
            ({"counts": {"x": "a"}}, r"^lines\[2\]\.counts\.x: expected an integer"),
            ({"counts": {"1": 2}}, r"^lines\[2\]\.counts\.1: expected a string"),
        ],
    )
    def test_names_the_field(self, line: dict[str, Any], message: str) -> None:
        with pytest.raises(ModelValidationError, match=message):
            Basket.from_dict(_basket(**line))

    def test_accepted_forms(self) -> None:
        data = _basket(
            blob="AP8=", kind="red", counts={"1": "a", "-2": "b"}, address={"street": "s"}
        )
        line = Basket.from_dict(data).lines[2]
        assert (line.blob, line.kind, line.counts) == (b"\x00\xff", Colour.RED, {1: "a", -2: "b"})
        assert line.address == {"street": "s"}
        assert Basket.from_dict(_basket(blob=b"raw", kind="eA==")).lines[2].kind == b"x"
        assert Basket.from_dict(_basket(blob=b"raw")).lines[2].blob == b"raw"

    def test_newtype_keeps_the_supertype_value(self) -> None:
        line = Line.from_dict({"user_id": 5})
        assert line.user_id == 5
        assert type(line.user_id) is int

    def test_bytes_are_written_as_base64_text(self) -> None:
        assert Line(user_id=UserId(1), blob=b"\x00\xff").to_dict()["blob"] == "AP8="

    def test_unknown_typed_dict_keys_are_dropped(self) -> None:
        line = Line.from_dict({"user_id": 1, "address": {"street": "s", "floor": 3}})
        assert line.address == {"street": "s"}


class Handler(Protocol):
    def __call__(self) -> int: ...


T = typing.TypeVar("T")


class Box(cqrs.Response, Generic[T]):
    value: T


class Tree(cqrs.Request):
    children: list[Tree]
    box: Box[int] | None = None


def _local_model() -> type[cqrs.Request]:
    class Inner(cqrs.Request):
        x: int

    class Outer(cqrs.Request):
        inner: Inner

    return Outer


def _model_with(annotation: Any) -> type[cqrs.Request]:
    return type(
        f"Holder{next(_names)}", (cqrs.Request,), {"__annotations__": {"field": annotation}}
    )


class TestUnsupportedTypes:
    @pytest.mark.parametrize(
        ("annotation", "message"),
        [
            (
                Callable[[], int],
                r"^field: unsupported type collections\.abc\.Callable\[\[\], int\]",
            ),
            (list[Callable[[], int]], r"^field\[\*\]: unsupported type"),
            (dict[str, Callable[[], int]], r"^field\.\*: unsupported type"),
            (tuple[int, Callable[[], int]], r"^field\[1\]: unsupported type"),
            (Handler, r"^field: unsupported type Handler \(a Protocol\)"),
            (list["Missing"], r"^field: cannot resolve the annotation list\['Missing'\]"),  # noqa: F821
            (dict[tuple[int, int], str], r"^field: unsupported type tuple\[int, int\] as a map"),
            (dict[bool, str], r"^field: unsupported type bool as a mapping key"),
            (Annotated[int, at.Predicate(bool)], r"^field: unsupported constraint Predicate"),
            (Annotated[int, pydantic.Field(gt=0)], r"^field: unsupported constraint FieldInfo"),
            (type[int], r"^field: unsupported type type\[int\]"),
        ],
    )
    def test_is_named_when_first_converted(self, annotation: Any, message: str) -> None:
        model = _model_with(annotation)
        with pytest.raises(ModelValidationError, match=message):
            model.from_dict({"field": None})
        with pytest.raises(ModelValidationError, match=message):
            model.from_dict({})

    def test_nested_model_problems_carry_the_path(self) -> None:
        inner = _model_with(Callable[[], int])
        outer = _model_with(list[inner])  # type: ignore[valid-type]
        with pytest.raises(ModelValidationError, match=r"^field\[\*\]\.field: unsupported type"):
            outer.from_dict({"field": []})

    def test_an_unresolvable_annotation_names_its_field(self) -> None:
        with pytest.raises(
            ModelValidationError, match=r"^inner: cannot resolve the annotation 'Inner'"
        ):
            _local_model().from_dict({"inner": {"x": 1}})

    def test_descriptive_metadata_is_ignored(self) -> None:
        model = _model_with(Annotated[int, "a note", at.Unit("m")])
        assert model.from_dict({"field": 3}).field == 3  # type: ignore[attr-defined]

    def test_recursive_and_generic_models(self) -> None:
        data = {"children": [{"children": [], "box": {"value": 2}}]}
        tree = Tree.from_dict(data)
        assert tree == Tree(children=[Tree(children=[], box=Box(value=2))])
        assert tree.to_dict() == data | {"box": None}
        with pytest.raises(ModelValidationError, match=r"^children\[0\]\.box\.value: expected an"):
            Tree.from_dict({"children": [{"children": [], "box": {"value": "x"}}]})
        with pytest.raises(ModelValidationError, match=r"^children\[0\]\.children\[0\]: expected"):
            Tree.from_dict({"children": [{"children": [1]}]})

    def test_constructor_type_errors_become_validation_errors(self) -> None:
        @dataclasses.dataclass
        class Needs(cqrs.Request):
            name: str
            secret: dataclasses.InitVar[str]

            def __post_init__(self, secret: str) -> None:
                pass

        with pytest.raises(ModelValidationError, match=r"^Needs: cannot build Needs"):
            Needs.from_dict({"name": "n"})


class Holder(cqrs.Request):
    value: object


class Wrapper(cqrs.Request):
    items: list[Holder]


class TestUnconvertibleValues:
    def test_to_dict_names_the_path_of_a_value_it_cannot_write(self) -> None:
        wrapper = Wrapper(items=[Holder(value=1), Holder(value={"a": [1, print]})])
        with pytest.raises(
            ModelValidationError, match=r"^items\[1\]\.value\.a\[1\]: cannot convert builtin_"
        ):
            wrapper.to_dict()

    def test_keys_json_cannot_hold_are_refused(self) -> None:
        with pytest.raises(ModelValidationError, match=r"^value: cannot use None as a JSON obj"):
            Holder(value={None: 1}).to_dict()
        with pytest.raises(ModelValidationError, match=r"^value: cannot use tuple as a JSON obj"):
            Holder(value={(1, 2): 1}).to_dict()

    def test_keys_are_written_as_text(self) -> None:
        value = {1: "a", Colour.RED: "b", uuid.UUID(int=0): "c", b"\x00": "d"}
        assert Holder(value=value).to_dict() == {
            "value": {"1": "a", "red": "b", str(uuid.UUID(int=0)): "c", "AA==": "d"}
        }
