"""The base of the default models: a subclass with annotated fields is a keyword-only dataclass."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, Self, dataclass_transform

from cqrs._convert import _encoders, from_builtins, to_builtins

__all__ = ["Model"]

_OPTIONS = ("init", "repr", "eq", "order", "unsafe_hash", "frozen", "match_args", "kw_only")


class _Convertible:
    """`to_dict`/`from_dict` (and their Pydantic-style aliases) for dataclass models."""

    def to_dict(self) -> dict[str, Any]:
        """Return the model as JSON-compatible builtins (datetimes, UUIDs and enums as strings)."""
        encode = _encoders.get(self.__class__)
        result: dict[str, Any] = to_builtins(self) if encode is None else encode(self)
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None = None, /, **fields: Any) -> Self:
        """Build the model from `to_dict` output, validating every field against its type.

        The fields may also come as keywords, `from_dict(**data)`, as python-cqrs 4.x called it.
        """
        if fields:
            data = {**data, **fields} if data is not None else fields
        result: Self = from_builtins(cls, {} if data is None else data)
        return result

    def model_dump(self, **_: Any) -> dict[str, Any]:
        """Alias of `to_dict` for code written against Pydantic models."""
        return self.to_dict()

    @classmethod
    def model_validate(cls, data: Mapping[str, Any]) -> Self:
        """Alias of `from_dict` for code written against Pydantic models."""
        return cls.from_dict(data)


@dataclass_transform(kw_only_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
class Model(_Convertible):
    """Base of the default models; subclasses are dataclasses without needing a decorator.

    Dataclass options go in the class statement (`class Paid(cqrs.DomainEvent, frozen=True)`);
    a frozen model's subclasses are frozen too.
    """

    __cqrs_frozen__: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        options = {name: kwargs.pop(name) for name in _OPTIONS if name in kwargs}
        try:
            super().__init_subclass__(**kwargs)
        except TypeError as exc:
            if not kwargs:
                raise
            raise TypeError(
                f"{cls.__qualname__}: class options {', '.join(sorted(kwargs))} are not "
                f"dataclass options (the models take {', '.join(_OPTIONS)}); Pydantic options "
                "need the Pydantic models (cqrs.PydanticRequest, cqrs.PydanticDomainEvent, ...)"
            ) from exc
        if not options.pop("kw_only", True):
            raise TypeError(f"{cls.__qualname__}: model fields are always keyword-only")
        frozen = options.pop("frozen", cls.__cqrs_frozen__)
        if cls.__cqrs_frozen__ and not frozen:
            raise TypeError(f"{cls.__qualname__}: a subclass of a frozen model is frozen too")
        dataclasses.dataclass(cls, kw_only=True, **options)
        if frozen:
            _freeze(cls, hashable=options.get("eq", True) or options.get("unsafe_hash", False))


def _freeze(cls: type[Model], *, hashable: bool) -> None:
    """Make `cls`'s instances immutable once built, and hashable by their fields.

    Done here rather than by `dataclass(frozen=True)`, which refuses a frozen class whose
    dataclass base is not: the framework's bases (`DomainEvent`, `Request`, ...) are not frozen.
    """
    cls.__cqrs_frozen__ = True
    type.__setattr__(cls, "__setattr__", _frozen_setattr)
    type.__setattr__(cls, "__delattr__", _frozen_delattr)
    if hashable and cls.__dict__.get("__hash__", None) is None:
        names = tuple(
            f.name
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if f.hash or (f.hash is None and f.compare)
        )
        type.__setattr__(
            cls, "__hash__", lambda self: hash(tuple(getattr(self, name) for name in names))
        )


def _frozen_setattr(self: object, name: str, value: Any) -> None:
    if name in self.__dict__:
        raise dataclasses.FrozenInstanceError(
            f"cannot assign to field {name!r} of frozen {type(self).__qualname__}"
        )
    object.__setattr__(self, name, value)


def _frozen_delattr(self: object, name: str) -> None:
    raise dataclasses.FrozenInstanceError(
        f"cannot delete field {name!r} of frozen {type(self).__qualname__}"
    )
