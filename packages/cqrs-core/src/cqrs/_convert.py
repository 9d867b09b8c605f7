"""Conversion between typed models and JSON-compatible builtins, compiled once per type.

The converter is strict: a type, annotation or constraint it does not understand raises
`ModelValidationError` naming the field when the type is first converted, never a raw error and
never a silent pass-through. docs/requests.md lists the supported types.
"""

from __future__ import annotations

import binascii
import dataclasses
import datetime
import decimal
import enum
import operator
import types
import typing
import uuid
from collections import abc
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cqrs.errors import ModelValidationError

__all__ = ["from_builtins", "to_builtins"]

_Decoder = Callable[[Any, str], Any]
_decoders: dict[Any, _Decoder] = {}
_Encoder = Callable[[Any], Any]
_encoders: dict[type, _Encoder] = {}
_compiling: set[Any] = set()

_SCALARS = (str, int, float, bool, type(None))
_PLAIN = (str, int, float, bool)
_STRIPPED = (typing.Annotated, typing.Final, typing.Required, typing.NotRequired)
_BOUNDS: tuple[tuple[str, Callable[[Any, Any], bool], str], ...] = (
    ("gt", operator.gt, "a value greater than"),
    ("ge", operator.ge, "a value of at least"),
    ("lt", operator.lt, "a value less than"),
    ("le", operator.le, "a value of at most"),
)
_CONSTRAINT_LIBRARIES = frozenset({"annotated_types", "pydantic", "pydantic_core"})
_DESCRIPTIVE_METADATA = frozenset({"Unit", "DocInfo", "Doc"})


class _Located(ModelValidationError):
    """A conversion problem whose field path grows as it leaves nested values."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path or 'value'}: {reason}")
        self.path = path
        self.reason = reason

    def within(self, segment: str) -> _Located:
        """The same problem seen from the container of the value, under `segment`."""
        if not self.path:
            return _Located(segment, self.reason)
        joint = "" if self.path.startswith("[") else "."
        return _Located(f"{segment}{joint}{self.path}", self.reason)


def to_builtins(value: Any) -> Any:
    """Turn a model value into dicts, lists, strings and numbers that `json.dumps` accepts."""
    cls = value.__class__
    if cls in _SCALARS:
        return value
    encode = _encoders.get(cls)
    if encode is None:
        encode = _encoders[cls] = _encoder(cls)
    return encode(value)


def _encoder(cls: type) -> _Encoder:
    """How values of class `cls` are written, chosen once per class."""
    if dataclasses.is_dataclass(cls):
        return _dataclass_encoder(cls)
    if issubclass(cls, enum.Enum):
        return _enum_value
    if issubclass(cls, datetime.date | datetime.time):
        return cls.isoformat
    if issubclass(cls, uuid.UUID | decimal.Decimal):
        return str
    if issubclass(cls, Mapping):
        return _encode_mapping
    if issubclass(cls, list | tuple | set | frozenset):
        return _encode_sequence
    if issubclass(cls, bytes | bytearray | memoryview):
        return _encode_bytes
    if issubclass(cls, str | int | float):
        return _same
    if callable(getattr(cls, "model_dump", None)):
        return _model_dump
    return _unconvertible


def _enum_value(value: Any) -> Any:
    return to_builtins(value.value)


def _encode_mapping(value: Any) -> dict[str, Any]:
    try:
        return {k if k.__class__ is str else _key(k): to_builtins(v) for k, v in value.items()}
    except _Located as exc:
        for k in value:
            try:
                _key(k)
            except _Located as problem:
                raise problem from None
        raise _blame(((str(k), v) for k, v in value.items()), exc) from None


def _encode_sequence(value: Any) -> list[Any]:
    try:
        return [to_builtins(item) for item in value]
    except _Located as exc:
        raise _blame(((f"[{i}]", v) for i, v in enumerate(value)), exc) from None


def _encode_bytes(value: Any) -> str:
    """Bytes as base64 text (standard alphabet, padded): JSON has no bytes."""
    return binascii.b2a_base64(value, newline=False).decode("ascii")


def _same(value: Any) -> Any:
    return value


def _model_dump(value: Any) -> Any:
    return value.model_dump(mode="json")


def _unconvertible(value: Any) -> Any:
    raise _Located("", f"cannot convert {type(value).__qualname__} to JSON-compatible data")


def _key(key: Any) -> str:
    """A mapping key as JSON object keys must be: text, with numbers and enums written out."""
    if isinstance(key, bool) or key is None:
        raise _Located("", f"cannot use {key!r} as a JSON object key")
    converted = to_builtins(key)
    if isinstance(converted, str):
        return converted
    if isinstance(converted, int | float) and not isinstance(converted, bool):
        return str(converted)
    raise _Located("", f"cannot use {type(key).__qualname__} as a JSON object key")


def _blame(items: Iterable[tuple[str, Any]], error: _Located) -> _Located:
    """The first item of a container that fails to convert, located under its segment."""
    for segment, item in items:
        try:
            to_builtins(item)
        except _Located as exc:
            return exc.within(segment)
    return error


def _dataclass_encoder(cls: type) -> Callable[[Any], dict[str, Any]]:
    """A function turning instances of dataclass `cls` into dicts; fields typed as plain
    scalars are copied as they are, the others converted recursively."""
    hints = _lenient_hints(cls)
    names = tuple(f.name for f in dataclasses.fields(cls))
    convert = tuple(_unwrap(hints.get(name, Any)) not in _PLAIN for name in names)
    if not names:
        return lambda value: {}
    read = operator.attrgetter(*names)
    if len(names) == 1:
        name, nested = names[0], convert[0]

        def single(value: Any) -> dict[str, Any]:
            try:
                return {name: to_builtins(read(value)) if nested else read(value)}
            except _Located as exc:
                raise exc.within(name) from None

        return single
    if not any(convert):
        if "__slots__" in cls.__dict__:
            return lambda value: dict(zip(names, read(value), strict=True))
        count = len(names)

        def flat(value: Any) -> dict[str, Any]:
            fields: dict[str, Any] = value.__dict__
            if len(fields) == count:  # exactly the fields: a copy is the answer, 7x faster
                return fields.copy()
            return dict(zip(names, read(value), strict=True))

        return flat

    def encode(value: Any) -> dict[str, Any]:
        try:
            return {
                name: to_builtins(item) if nested else item
                for name, nested, item in zip(names, convert, read(value), strict=True)
            }
        except _Located as exc:
            raise _blame(zip(names, read(value), strict=True), exc) from None

    return encode


def from_builtins(tp: Any, value: Any, path: str = "") -> Any:
    """Build a value of type `tp` from JSON-compatible data, raising `ModelValidationError`."""
    decoder = _decoders.get(tp)
    if decoder is None:
        decoder = _cached(tp)
    return decoder(value, path)


def _cached(tp: Any) -> _Decoder:
    """The decoder of `tp`, compiled once; a type met again while compiling itself (a recursive
    model) gets a decoder that looks the finished one up when called."""
    try:
        decoder = _decoders.get(tp)
    except TypeError:  # Annotated metadata that cannot be hashed
        return _compile(tp)
    if decoder is not None:
        return decoder
    if tp in _compiling:
        return lambda v, p: from_builtins(tp, v, p)
    _compiling.add(tp)
    try:
        decoder = _decoders[tp] = _compile(tp)
    finally:
        _compiling.discard(tp)
    return decoder


def _unwrap(tp: Any) -> Any:
    """`tp` without the wrappers that do not change how a value converts."""
    while True:
        if typing.get_origin(tp) in _STRIPPED:
            tp = typing.get_args(tp)[0]
        elif hasattr(tp, "__supertype__"):
            tp = tp.__supertype__
        else:
            return tp


def _lenient_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls, include_extras=True)
    except Exception:
        return {}


def _hints(owner: type) -> dict[str, Any]:
    """The resolved annotations of a dataclass or TypedDict; one that cannot be resolved raises
    `ModelValidationError` naming its field."""
    try:
        return typing.get_type_hints(owner, include_extras=True)
    except Exception as exc:
        problem = exc
    import inspect  # only on this error path: costly to import

    for base in reversed(owner.__mro__):
        for name, annotation in inspect.get_annotations(base).items():
            one = type(name, (), {"__annotations__": {name: annotation}})
            one.__module__ = base.__module__
            try:
                typing.get_type_hints(one, localns=dict(vars(base)))
            except Exception as exc:
                raise _Located(
                    name, f"cannot resolve the annotation {annotation!r}: {exc}"
                ) from exc
    raise _Located("", f"cannot resolve the annotations of {owner.__qualname__}: {problem}")


def _fail(path: str, expected: str, value: Any) -> ModelValidationError:
    where = path or "value"
    return ModelValidationError(
        f"{where}: expected {expected}, got {type(value).__name__} {value!r:.80}"
    )


def _unsupported(tp: Any, why: str = "") -> _Located:
    shown = tp.__qualname__ if isinstance(tp, type) else repr(tp)
    return _Located("", f"unsupported type {shown}{why}; see the supported types in the docs")


def _compile(tp: Any) -> _Decoder:
    if tp is Any or isinstance(tp, typing.TypeVar):
        return lambda v, p: v
    if tp is None or tp is type(None):
        return _exact(type(None), "null")
    if tp is str:
        return _exact(str, "a string")
    if tp is bool:
        return _exact(bool, "a boolean")
    if tp is int:

        def _int(v: Any, p: str) -> Any:
            if v.__class__ is int or (isinstance(v, int) and not isinstance(v, bool)):
                return v
            raise _fail(p, "an integer", v)

        return _int
    if tp is float:

        def _float(v: Any, p: str) -> Any:
            if isinstance(v, int | float) and not isinstance(v, bool):
                return float(v)
            raise _fail(p, "a number", v)

        return _float
    if tp is bytes:
        return _bytes
    if isinstance(tp, str | typing.ForwardRef):
        raise _unsupported(tp, " (an annotation that was never resolved)")
    if hasattr(tp, "__supertype__"):  # NewType: checked as its supertype, the value kept
        return _cached(tp.__supertype__)
    if type(tp).__name__ == "TypeAliasType":
        return _cached(tp.__value__)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _union(args)
    if origin is typing.Literal:
        return _literal(args)
    if origin is typing.Annotated:
        return _annotated(args[0], tp.__metadata__)
    if origin in (typing.Final, typing.Required, typing.NotRequired):
        return _cached(args[0])
    container = tp if origin is None else origin
    if isinstance(container, type):
        kind = _SEQUENCES.get(container)
        if kind is not None:
            return _sequence(kind, args)
        if container in _MAPPINGS:
            return _mapping(args)
    if isinstance(origin, type) and dataclasses.is_dataclass(origin):
        parameters = getattr(origin, "__parameters__", ())
        return _dataclass(origin, dict(zip(parameters, args, strict=False)))
    if isinstance(tp, type):
        return _class(tp)
    raise _unsupported(tp)


_SEQUENCES: dict[Any, type] = {
    list: list,
    tuple: tuple,
    set: set,
    frozenset: frozenset,
    abc.Sequence: list,
    abc.MutableSequence: list,
    abc.Set: frozenset,
    abc.MutableSet: set,
}
_MAPPINGS = frozenset({dict, abc.Mapping, abc.MutableMapping})


def _exact(cls: type, expected: str) -> _Decoder:
    def _check(v: Any, p: str) -> Any:
        if isinstance(v, cls) and not (cls is not bool and isinstance(v, bool)):
            return v
        raise _fail(p, expected, v)

    return _check


def _bytes(v: Any, p: str) -> Any:
    """Bytes from base64 text (what `to_dict` writes) or from bytes given as they are."""
    if v.__class__ is bytes:
        return v
    if isinstance(v, str):
        try:
            return binascii.a2b_base64(v, strict_mode=True)
        except ValueError:
            pass
    elif isinstance(v, bytes | bytearray | memoryview):
        return bytes(v)
    raise _fail(p, "base64 text", v)


def _union(args: tuple[Any, ...]) -> _Decoder:
    optional = type(None) in args
    options = [_cached(a) for a in args if a is not type(None)]
    exact = {a: _cached(a) for a in args if a in _SCALARS or a is bytes}
    names = " | ".join(getattr(a, "__name__", repr(a)) for a in args)

    def _decode(v: Any, p: str) -> Any:
        if v is None and optional:
            return None
        same = exact.get(v.__class__)
        if same is not None:
            return same(v, p)
        deeper: ModelValidationError | None = None
        for option in options:
            try:
                return option(v, p)
            except ModelValidationError as exc:
                if deeper is None and str(exc).partition(": ")[0] != (p or "value"):
                    deeper = exc
            except (ValueError, TypeError):
                continue
        raise deeper or _fail(p, names, v)

    return _decode


def _literal(args: tuple[Any, ...]) -> _Decoder:
    """Values equal to one of the literals and of its exact type (so `1` is not `True`); an enum
    literal is also accepted as its value and a bytes literal as its base64 text."""
    accepted: dict[tuple[type, Any], Any] = {}
    for arg in args:
        accepted[(arg.__class__, arg)] = arg
        written = to_builtins(arg)
        accepted.setdefault((written.__class__, written), arg)

    def _decode(v: Any, p: str) -> Any:
        try:
            return accepted[(v.__class__, v)]
        except (KeyError, TypeError):
            raise _fail(p, f"one of {args!r}", v) from None

    return _decode


def _annotated(base: Any, metadata: Iterable[Any]) -> _Decoder:
    """The decoder of `base`, followed by the annotated_types-style constraints in `metadata`
    (`gt`, `ge`, `lt`, `le`, `multiple_of`, `min_length`, `max_length`); other metadata is
    ignored unless it is a constraint library's, which the converter would otherwise not apply."""
    decode = _cached(base)
    checks: list[Callable[[Any, str], None]] = []
    for item in metadata:
        found = _constraints(item)
        if found:
            checks.extend(found)
            continue
        kind = type(item)
        if (
            kind.__module__.partition(".")[0] in _CONSTRAINT_LIBRARIES
            and kind.__name__ not in _DESCRIPTIVE_METADATA
        ):
            raise _Located(
                "",
                f"unsupported constraint {item!r}; supported: Gt, Ge, Lt, Le, "
                "Interval, MultipleOf, MinLen, MaxLen, Len",
            )
    if not checks:
        return decode

    def _checked(v: Any, p: str) -> Any:
        value = decode(v, p)
        for check in checks:
            check(value, p)
        return value

    return _checked


def _constraints(item: Any) -> list[Callable[[Any, str], None]]:
    checks: list[Callable[[Any, str], None]] = []
    for attribute, holds, expected in _BOUNDS:
        bound = getattr(item, attribute, None)
        if bound is not None:
            checks.append(_check(holds, bound, f"{expected} {bound!r}"))
    for attribute, holds, expected in _SIZES:
        bound = getattr(item, attribute, None)
        if bound is not None:
            checks.append(_check(holds, bound, f"{expected} {bound}"))
    return checks


def _is_multiple(value: Any, step: Any) -> bool:
    return bool(value % step == 0)


def _is_long_enough(value: Any, shortest: int) -> bool:
    return len(value) >= shortest


def _is_short_enough(value: Any, longest: int) -> bool:
    return len(value) <= longest


_SIZES: tuple[tuple[str, Callable[[Any, Any], bool], str], ...] = (
    ("multiple_of", _is_multiple, "a multiple of"),
    ("min_length", _is_long_enough, "a length of at least"),
    ("max_length", _is_short_enough, "a length of at most"),
)


def _check(
    holds: Callable[[Any, Any], bool], bound: Any, expected: str
) -> Callable[[Any, str], None]:
    def _run(v: Any, p: str) -> None:
        try:
            if holds(v, bound):
                return
        except (TypeError, ValueError, ArithmeticError):
            pass
        raise _fail(p, expected, v)

    return _run


def _sequence(kind: type, args: tuple[Any, ...]) -> _Decoder:
    if kind is tuple and args and args[-1] is not Ellipsis:
        items = []
        for i, arg in enumerate(args):
            try:
                items.append(_cached(arg))
            except _Located as exc:
                raise exc.within(f"[{i}]") from None

        def _fixed(v: Any, p: str) -> Any:
            if not isinstance(v, list | tuple) or len(v) != len(items):
                raise _fail(p, f"a list of {len(items)} items", v)
            return tuple(
                dec(x, f"{p}[{i}]") for i, (dec, x) in enumerate(zip(items, v, strict=True))
            )

        return _fixed
    try:
        item = _cached(args[0]) if args else _cached(Any)
    except _Located as exc:
        raise exc.within("[*]") from None
    build: Callable[[Any], Any] = kind

    def _decode(v: Any, p: str) -> Any:
        if not isinstance(v, list | tuple | set | frozenset):
            raise _fail(p, "a list", v)
        return build(item(x, f"{p}[{i}]") for i, x in enumerate(v))

    return _decode


def _mapping(args: tuple[Any, ...]) -> _Decoder:
    key_type = args[0] if args else Any
    if not _textual_key(key_type):
        raise _unsupported(key_type, " as a mapping key (JSON object keys are text)")
    key = _cached(key_type)
    try:
        val = _cached(args[1]) if len(args) > 1 else _cached(Any)
    except _Located as exc:
        raise exc.within("*") from None

    def _decode(v: Any, p: str) -> Any:
        if not isinstance(v, Mapping):
            raise _fail(p, "an object", v)
        try:
            return {key(k, p): val(x, f"{p}.{k}") for k, x in v.items()}
        except ModelValidationError:  # perhaps numeric keys written as text: the slow way
            return {_decode_key(key, k, f"{p}.{k}"): val(x, f"{p}.{k}") for k, x in v.items()}

    return _decode


def _textual_key(tp: Any) -> bool:
    """Whether keys of type `tp` survive being written as JSON object keys and read back."""
    tp = _unwrap(tp)
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType or origin is typing.Literal:
        return all(
            _textual_key(a) if origin is not typing.Literal else not isinstance(a, bool | None)
            for a in typing.get_args(tp)
        )
    if tp is Any or isinstance(tp, typing.TypeVar):
        return True
    return (
        isinstance(tp, type)
        and not issubclass(tp, bool)
        and issubclass(
            tp,
            str
            | int
            | float
            | bytes
            | enum.Enum
            | uuid.UUID
            | decimal.Decimal
            | datetime.date
            | datetime.time,
        )
    )


def _decode_key(key: _Decoder, k: Any, p: str) -> Any:
    """A mapping key; numbers written as text by `to_dict` are read back as numbers."""
    try:
        return key(k, p)
    except ModelValidationError:
        if isinstance(k, str):
            for number in (int, float):
                try:
                    return key(number(k), p)
                except (ValueError, ModelValidationError):
                    continue
        raise


def _class(cls: type) -> _Decoder:
    if dataclasses.is_dataclass(cls):
        return _dataclass(cls, {})
    if issubclass(cls, enum.Enum):

        def _enum(v: Any, p: str) -> Any:
            try:
                return cls(v)
            except ValueError:
                raise _fail(p, f"a {cls.__name__} value", v) from None

        return _enum
    if issubclass(cls, datetime.datetime):
        return _parsed(cls, datetime.datetime.fromisoformat, "an ISO datetime")
    if issubclass(cls, datetime.date):
        return _parsed(cls, datetime.date.fromisoformat, "an ISO date")
    if issubclass(cls, datetime.time):
        return _parsed(cls, datetime.time.fromisoformat, "an ISO time")
    if issubclass(cls, uuid.UUID):
        return _parsed(cls, uuid.UUID, "a UUID")
    if issubclass(cls, decimal.Decimal):
        return _parsed(cls, decimal.Decimal, "a decimal")
    if issubclass(cls, dict) and hasattr(cls, "__required_keys__"):
        return _typed_dict(cls)
    validate = getattr(cls, "model_validate", None)
    if validate is not None:

        def _pydantic(v: Any, p: str) -> Any:
            try:
                return validate(v)
            except ValueError as exc:
                raise ModelValidationError(f"{p or 'value'}: {exc}") from exc

        return _pydantic
    if getattr(cls, "_is_protocol", False) and not getattr(cls, "_is_runtime_protocol", False):
        raise _unsupported(cls, " (a Protocol)")

    def _instance(v: Any, p: str) -> Any:
        if isinstance(v, cls):
            return v
        raise _fail(p, cls.__name__, v)

    return _instance


def _parsed(cls: type, parse: Callable[[Any], Any], expected: str) -> _Decoder:
    def _decode(v: Any, p: str) -> Any:
        if isinstance(v, cls):
            return v
        if isinstance(v, str | int) and not isinstance(v, bool):
            try:
                return parse(v if isinstance(v, str) else str(v))
            except (ValueError, decimal.InvalidOperation):
                pass
        raise _fail(p, expected, v)

    return _decode


def _fields(owner: type, hints: Mapping[str, Any], names: Iterable[str]) -> list[_Decoder]:
    """Decoders of the named fields, a failure located at its field."""
    decoders = []
    for name in names:
        try:
            decoders.append(_cached(hints.get(name, Any)))
        except _Located as exc:
            raise exc.within(name) from None
    return decoders


def _typed_dict(cls: type) -> _Decoder:
    """Objects with the keys of a TypedDict, each checked against its type; `Required` and
    `NotRequired` decide which keys may be missing, and unknown keys are dropped."""
    hints = _hints(cls)
    required_keys: frozenset[str] = getattr(cls, "__required_keys__", frozenset())
    names = list(hints)
    decoders = _fields(cls, hints, names)
    keys = [
        (name, decode, _required(hints[name], name in required_keys))
        for name, decode in zip(names, decoders, strict=True)
    ]

    def _decode(v: Any, p: str) -> Any:
        if not isinstance(v, Mapping):
            raise _fail(p, f"an object for {cls.__name__}", v)
        result: dict[str, Any] = {}
        for name, decode, required in keys:
            if name in v:
                result[name] = decode(v[name], f"{p}.{name}" if p else name)
            elif required:
                where = f"{p}.{name}" if p else name
                raise ModelValidationError(f"{where}: key required by {cls.__name__}")
        return result

    return _decode


def _required(hint: Any, default: bool) -> bool:
    """Whether a TypedDict key is required: its `Required`/`NotRequired` marker, which 3.11
    misses in string annotations, else what the class recorded."""
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    origin = typing.get_origin(hint)
    if origin is typing.NotRequired:
        return False
    if origin is typing.Required:
        return True
    return default


def _dataclass(cls: type, typevars: Mapping[Any, Any]) -> _Decoder:
    hints = _hints(cls)
    if typevars:
        hints = {name: _substitute(hint, typevars) for name, hint in hints.items()}
    declared = [f for f in dataclasses.fields(cls) if f.init]
    decoders = _fields(cls, hints, (f.name for f in declared))
    fields = [
        (
            f.name,
            decode,
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f, decode in zip(declared, decoders, strict=True)
    ]
    known = {name for name, _, _ in fields}

    def _decode(v: Any, p: str) -> Any:
        if isinstance(v, cls):
            return v
        if not isinstance(v, Mapping):
            raise _fail(p, f"an object for {cls.__name__}", v)
        kwargs: dict[str, Any] = {}
        for name, decode, required in fields:
            if name in v:
                kwargs[name] = decode(v[name], f"{p}.{name}" if p else name)
            elif required:
                where = f"{p}.{name}" if p else name
                raise ModelValidationError(f"{where}: field required by {cls.__name__}")
        extra = v.keys() - known
        if extra and not getattr(cls, "__cqrs_ignore_extra__", True):
            raise ModelValidationError(f"{p or cls.__name__}: unknown fields {sorted(extra)}")
        try:
            return cls(**kwargs)
        except TypeError as exc:
            where = p or cls.__name__
            raise ModelValidationError(f"{where}: cannot build {cls.__name__}: {exc}") from exc

    return _decode


def _substitute(hint: Any, typevars: Mapping[Any, Any]) -> Any:
    """`hint` with the type variables of a parametrized generic dataclass replaced."""
    if isinstance(hint, typing.TypeVar):
        return typevars.get(hint, hint)
    parameters = getattr(hint, "__parameters__", ())
    if parameters:
        return hint[tuple(typevars.get(t, t) for t in parameters)]
    return hint
