"""JSON in the bytes Go's encoding/json writes (compact, HTML-escaped), and strict decoding."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from dockyard.errors import InvalidArgument

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_TRANS = str.maketrans(_GO_ESCAPES)


def go_dumps(value: Any) -> bytes:
    """Serialize like Go's json.Marshal: dict order kept, no spaces, <>& and U+2028/9 escaped.

    Those characters can only occur inside JSON strings, so translating the finished text is
    exact. Maps that Go would sort must be given already sorted (see `sorted_map`).
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return go_escape(text)


def go_indent_dumps(value: Any, indent: str) -> bytes:
    """Like Go's json.MarshalIndent(value, "", indent)."""
    return go_escape(json.dumps(value, ensure_ascii=False, indent=indent, allow_nan=False))


def go_escape(text: str) -> bytes:
    """Apply Go's extra string escapes to finished JSON text and encode it as UTF-8."""
    return text.translate(_TRANS).encode("utf-8", "replace")


def sorted_map(mapping: dict[str, Any] | None) -> dict[str, Any] | None:
    """A Go map as json.Marshal writes it: keys in byte order."""
    if mapping is None:
        return None
    return {k: mapping[k] for k in sorted(mapping, key=lambda s: s.encode("utf-8", "replace"))}


T = TypeVar("T")


def keep_raw(document: T, raw: bytes) -> T:
    """`document` (a frozen record) remembering the exact bytes it was parsed from."""
    object.__setattr__(document, "raw", bytes(raw))
    return document


def loads_object(raw: bytes | str, what: str) -> dict[str, Any]:
    """Decode a JSON object, turning every malformation into InvalidArgument naming `what`."""
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidArgument(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def expect(obj: dict[str, Any], key: str, kinds: type | tuple[type, ...], what: str) -> Any:
    """obj[key] if present and of `kinds` (None if absent or null); InvalidArgument otherwise."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise InvalidArgument(f"{what}: field {key!r} has the wrong type (boolean)")
    if not isinstance(value, kinds):
        raise InvalidArgument(f"{what}: field {key!r} has the wrong type ({type(value).__name__})")
    return value


def str_list(obj: dict[str, Any], key: str, what: str) -> tuple[str, ...] | None:
    value = expect(obj, key, list, what)
    if value is None:
        return None
    if not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"{what}: field {key!r} must be a list of strings")
    return tuple(value)


def str_map(obj: dict[str, Any], key: str, what: str) -> dict[str, str] | None:
    value = expect(obj, key, dict, what)
    if value is None:
        return None
    if not all(isinstance(v, str) for v in value.values()):
        raise InvalidArgument(f"{what}: field {key!r} must map strings to strings")
    return dict(value)


def int_field(obj: dict[str, Any], key: str, what: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"{what}: field {key!r} must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidArgument(f"{what}: field {key!r} must be an integer")
        value = int(value)
    return value
