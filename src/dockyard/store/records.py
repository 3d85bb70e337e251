"""Small record classes for hot paths (store, build) without `dataclasses` (whose import and whose
per-class code generation cost ~1 ms a class on these machines, on every build's start-up).

A subclass lists its fields in `_fields` and writes its own typed `__init__`; this base gives
it the dataclass-like equality and repr (and, for `FrozenRecord`, immutability and a hash).
"""

from __future__ import annotations

from typing import ClassVar


class Record:
    """Equality and repr over `_fields`, as a dataclass gives (unhashable, as a mutable one)."""

    _fields: ClassVar[tuple[str, ...]] = ()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._fields)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields)
        return f"{type(self).__name__}({inner})"


class FrozenRecord(Record):
    """A Record whose fields are set once, in `__init__` through `_set`; hashable."""

    def _set(self, **values: object) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(getattr(self, n) for n in self._fields))
