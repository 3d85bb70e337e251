"""Image configuration (OCI image config / Docker container.image.v1), losslessly round-tripped."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.oci._json import expect, go_dumps, keep_raw, loads_object, sorted_map, str_list
from dockyard.oci.container_config import ContainerConfig
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform
from dockyard.records import FrozenRecord

_TOP_KNOWN = {
    "created", "author", "architecture", "os", "os.version", "os.features", "variant",
    "config", "rootfs", "history",
}
_HISTORY_KNOWN = {"created", "created_by", "author", "comment", "empty_layer"}


def format_time(when: datetime) -> str:
    """Go's time.RFC3339Nano as json.Marshal writes it (zero offset as "Z", no trailing zeros)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond:06d}".rstrip("0")
    offset = when.utcoffset() or timedelta(0)
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def parse_time(text: str) -> datetime:
    """An RFC 3339 time with up to nanosecond precision (truncated to microseconds)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    if "." in value:
        head, _, tail = value.partition(".")
        digits = re.match(r"\d*", tail).group(0)  # type: ignore[union-attr]
        offset = tail[len(digits) :]
        value = f"{head}.{(digits + '000000')[:6]}{offset}"
    try:
        return datetime.fromisoformat(value.replace("t", "T"))
    except ValueError as exc:
        raise InvalidArgument(f"invalid timestamp {text!r}: want RFC 3339") from exc


def now() -> str:
    return format_time(datetime.now(UTC))


class History(FrozenRecord):
    """One `history` entry; `empty_layer` entries have no layer in rootfs.diff_ids."""

    _uncompared = ("extra",)

    def __init__(
        self, created: str | None = None, created_by: str = "", author: str = "", comment: str = "",
        empty_layer: bool = False, extra: dict[str, Any] | None = None,
    ) -> None:
        self.created = created
        self.created_by = created_by
        self.author = author
        self.comment = comment
        self.empty_layer = empty_layer
        self.extra: dict[str, Any] = {} if extra is None else extra

    def to_dict(self, moby_order: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.created is not None:
            out["created"] = self.created
        if moby_order and self.author:
            out["author"] = self.author
        if self.created_by:
            out["created_by"] = self.created_by
        if not moby_order and self.author:
            out["author"] = self.author
        if self.comment:
            out["comment"] = self.comment
        if self.empty_layer:
            out["empty_layer"] = True
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, obj: Any, what: str = "history entry") -> History:
        if not isinstance(obj, dict):
            raise InvalidArgument(f"image config: {what} must be a JSON object")
        return cls(
            created=expect(obj, "created", str, what),
            created_by=expect(obj, "created_by", str, what) or "",
            author=expect(obj, "author", str, what) or "",
            comment=expect(obj, "comment", str, what) or "",
            empty_layer=bool(expect(obj, "empty_layer", bool, what)),
            extra={k: v for k, v in obj.items() if k not in _HISTORY_KNOWN},
        )


class RootFS(FrozenRecord):
    """The layers of an image, by diff ID."""

    _uncompared = ("extra",)

    def __init__(
        self, type: str = "layers", diff_ids: tuple[Digest, ...] = (),
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.type = type
        self.diff_ids = diff_ids
        self.extra: dict[str, Any] = {} if extra is None else extra

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "diff_ids": [str(d) for d in self.diff_ids]}
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, obj: Any) -> RootFS:
        what = "image config rootfs"
        if not isinstance(obj, dict):
            raise InvalidArgument(f"{what} must be a JSON object")
        ids = str_list(obj, "diff_ids", what) or ()
        try:
            diff_ids = tuple(Digest(d) for d in ids)
        except InvalidArgument as exc:
            raise InvalidArgument(f"{what}: {exc.message}", hint=exc.hint) from exc
        return cls(
            type=expect(obj, "type", str, what) or "",
            diff_ids=diff_ids,
            extra={k: v for k, v in obj.items() if k not in ("type", "diff_ids")},
        )


_NEW_CONFIG: Any = object()  # ImageConfig's default `config`: a new ContainerConfig()


class ImageConfig(FrozenRecord):
    """The image config blob. Parsed configs keep their exact bytes in `.raw`.

    Unknown keys (top level, `config`, history entries) are kept in `extra` and written back.
    New configs serialize as moby and BuildKit do: top-level keys in byte order (both go through a
    Go map), `config` in the field order and omitempty rules of its style (see ContainerConfig).
    `config` defaults to a new empty ContainerConfig; None means the document has none.
    """

    _uncompared = ("extra",)
    raw: bytes | None = None  # set only by from_json (keep_raw); replace() drops it

    def __init__(
        self, architecture: str = "", os: str = "linux", variant: str = "", os_version: str = "",
        os_features: tuple[str, ...] = (), created: str | None = None, author: str = "",
        config: ContainerConfig | None = _NEW_CONFIG, rootfs: RootFS | None = None,
        history: Iterable[History] = (), extra: dict[str, Any] | None = None,
    ) -> None:
        self.architecture = architecture
        self.os = os
        self.variant = variant
        self.os_version = os_version
        self.os_features = os_features
        self.created = created
        self.author = author
        self.config = ContainerConfig() if config is _NEW_CONFIG else config
        self.rootfs = RootFS() if rootfs is None else rootfs
        self.history = tuple(history)
        self.extra: dict[str, Any] = {} if extra is None else extra

    # -- views ---------------------------------------------------------------------------

    @property
    def diff_ids(self) -> tuple[Digest, ...]:
        return self.rootfs.diff_ids

    @property
    def platform(self) -> Platform:
        return Platform(
            self.architecture, self.os, self.os_version, self.os_features, self.variant
        )

    @property
    def created_datetime(self) -> datetime | None:
        return parse_time(self.created) if self.created else None

    @property
    def cfg(self) -> ContainerConfig:
        """`config`, or an empty one when the document has none."""
        return self.config if self.config is not None else ContainerConfig()

    # -- JSON ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.created is not None:
            out["created"] = self.created
        if self.author:
            out["author"] = self.author
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        if self.config is not None:
            out["config"] = self.config.to_dict()
        out["rootfs"] = self.rootfs.to_dict()
        if self.history:
            moby = self.config is not None and self.config.style == "moby"
            out["history"] = [h.to_dict(moby) for h in self.history]
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return sorted_map(out) or {}

    def to_json(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return go_dumps(self.to_dict())

    @cached_property
    def digest(self) -> Digest:
        """The config digest, which is also the image ID."""
        return Digest.from_bytes(self.to_json())

    @classmethod
    def from_json(cls, raw: bytes) -> ImageConfig:
        return keep_raw(cls.from_dict(loads_object(raw, "image config")), raw)

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> ImageConfig:
        what = "image config"
        history = expect(obj, "history", list, what) or []
        container = obj.get("config")
        rootfs = obj.get("rootfs")
        return cls(
            architecture=expect(obj, "architecture", str, what) or "",
            os=expect(obj, "os", str, what) or "",
            variant=expect(obj, "variant", str, what) or "",
            os_version=expect(obj, "os.version", str, what) or "",
            os_features=str_list(obj, "os.features", what) or (),
            created=expect(obj, "created", str, what),
            author=expect(obj, "author", str, what) or "",
            config=ContainerConfig.from_dict(container) if container is not None else None,
            rootfs=RootFS.from_dict(rootfs) if rootfs is not None else RootFS(),
            history=tuple(History.from_dict(h, f"history entry {i}") for i, h in enumerate(history)),
            extra={k: v for k, v in obj.items() if k not in _TOP_KNOWN},
        )

    # -- edits (each returns a new config without .raw) -----------------------------------

    def with_config(self, **changes: Any) -> ImageConfig:
        """Change fields of the container config (`env=`, `cmd=`, `labels=`, ...)."""
        return self.replace(config=self.cfg.replace(**changes))

    def with_layer(self, diff_id: str, history: History | None = None) -> ImageConfig:
        """Append a layer's diff ID (and its history entry)."""
        rootfs = self.rootfs.replace(diff_ids=(*self.rootfs.diff_ids, Digest(diff_id)))
        entries = self.history if history is None else (*self.history, history)
        return self.replace(rootfs=rootfs, history=entries)

    def with_history(self, entry: History) -> ImageConfig:
        return self.replace(history=(*self.history, entry))

    def layer_history(self) -> list[tuple[History | None, Digest | None]]:
        """History entries paired with their diff IDs (None for empty layers), as `docker history`."""
        ids = list(self.rootfs.diff_ids)
        out: list[tuple[History | None, Digest | None]] = []
        for entry in self.history:
            out.append((entry, None if entry.empty_layer else (ids.pop(0) if ids else None)))
        out.extend((None, d) for d in ids)
        return out
