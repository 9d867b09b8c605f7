"""The base of the default models: a subclass with annotated fields is a keyword-only dataclass."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Self, dataclass_transform

from cqrs._convert import _encoders, from_builtins, to_builtins

__all__ = ["Model"]


@dataclass_transform(kw_only_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
class Model:
    """Base of the default models; subclasses are dataclasses without needing a decorator."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(cls, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        """Return the model as JSON-compatible builtins (datetimes, UUIDs and enums as strings)."""
        encode = _encoders.get(self.__class__)
        result: dict[str, Any] = to_builtins(self) if encode is None else encode(self)
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build the model from `to_dict` output, validating every field against its type."""
        result: Self = from_builtins(cls, data)
        return result

    def model_dump(self, **_: Any) -> dict[str, Any]:
        """Alias of `to_dict` for code written against Pydantic models."""
        return self.to_dict()

    @classmethod
    def model_validate(cls, data: Mapping[str, Any]) -> Self:
        """Alias of `from_dict` for code written against Pydantic models."""
        return cls.from_dict(data)
