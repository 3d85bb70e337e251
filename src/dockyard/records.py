"""Small record classes for hot paths (oci, store, build, push, pull) without `dataclasses` (whose
import costs ~25 ms here and whose code generation ~1 ms a class, on every command's start-up).

Standard library only, so that every layer (oci and reference included) may use it.

A subclass writes its own typed `__init__`, whose parameters are its fields (in that order), and
this base gives it the dataclass-like equality, repr and `replace(**changes)` (and, for
`FrozenRecord`, immutability and a hash). A class may name its fields in `_fields` instead.
Names in `_uncompared` are shown and copied but left out of equality and hash (a dataclass's
`field(compare=False)`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self


class Record:
    """Equality and repr over `_fields`, as a dataclass gives (unhashable, as a mutable one)."""

    _fields: ClassVar[tuple[str, ...]] = ()
    _uncompared: ClassVar[tuple[str, ...]] = ()
    _compared: ClassVar[tuple[str, ...]] = ()  # _fields without _uncompared (computed)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if "_fields" not in cls.__dict__ and init is not None:
            code = init.__code__  # the parameters after self, in order (no `inspect` needed)
            cls._fields = code.co_varnames[1 : code.co_argcount + code.co_kwonlyargcount]
        cls._compared = tuple(n for n in cls._fields if n not in cls._uncompared)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._compared)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields)
        return f"{type(self).__name__}({inner})"

    def fields(self) -> dict[str, Any]:
        """Each field's value by name, in field order (not copied: a shallow `asdict`)."""
        return {n: getattr(self, n) for n in self._fields}

    def replace(self, **changes: Any) -> Self:
        """A new record with `changes`, through `__init__` (as `dataclasses.replace`)."""
        return type(self)(**{**self.fields(), **changes})


class FrozenRecord(Record):
    """A Record whose fields are set once (in `__init__`, plainly or through `_set`); hashable."""

    def _set(self, **values: object) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        if name in self.__dict__ or name not in self._fields:
            raise AttributeError(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(getattr(self, n) for n in self._compared))
