"""Round-tripping architecture configs through the zoo's JSON index."""
from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, TypeVar

ConfigT = TypeVar("ConfigT", bound="DictConfig")


class DictConfig:
    """Base for dataclass configs: `from_dict` refuses unknown keys, so a typo in zoo.json fails loudly."""

    @classmethod
    def from_dict(cls: type[ConfigT], d: dict[str, Any]) -> ConfigT:
        unknown = set(d) - {f.name for f in fields(cls)}  # type: ignore[arg-type]
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields {sorted(unknown)}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]
